// bench/ui (render): time to the first byte-complete render of the on-call page over loopback HTTP, with
// 1,000 deploys in the store, against `navigator serve` (the built CLI) scraping the demo storefront (so
// each deploy page's charts read real scraped series). Each deploy page is fetched once (its first
// render); medians and p95 over 100 deploys, plus the deploys list.
//   npm run build && npx tsx bench/ui/render.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoConfig, freePort } from '../../src/cli/demo.js';

const DEPLOYS = 1000;
const SAMPLES = 100;
const dir = mkdtempSync(join(tmpdir(), 'navigator-ui-bench-'));
const [port, shop] = [await freePort(), await freePort()];
writeFileSync(join(dir, 'navigator.yaml'), demoConfig('1s', '30m'));
const env = {
  ...process.env,
  NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
  NAVIGATOR_STORE: join(dir, 'navigator.db'),
  STOREFRONT_METRICS: `http://127.0.0.1:${shop}/metrics`,
};
const children = [
  spawn(process.execPath, ['dist/demo/storefront.js', '--port', String(shop)], { stdio: 'ignore' }),
  spawn(process.execPath, ['bin/navigator.js', 'serve', '--config', join(dir, 'navigator.yaml')], {
    env,
    stdio: 'ignore',
  }),
];
const base = `http://127.0.0.1:${port}`;
const up = async (url: string) => {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
};
await up(`http://127.0.0.1:${shop}/metrics`);
await up(`${base}/readyz`);
await fetch(`http://127.0.0.1:${shop}/control`, {
  method: 'POST',
  body: JSON.stringify({ weights: { v1: 0.9, v2: 0.1 } }),
});
for (let i = 0; i < DEPLOYS; i++) {
  const r = await fetch(`${base}/v1/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `u-${i}`,
      service: 'checkout',
      version: 'v2',
      baselineVersion: 'v1',
      stages: [{ at: new Date().toISOString(), weight: 0.1 }],
      change: { id: `PR-${i}`, title: 'Cache cart totals', author: 'dev-a' },
    }),
  });
  if (r.status !== 201) throw new Error(`register: ${r.status}`);
}
await new Promise((r) => setTimeout(r, 8000)); // several judged ticks for every watch
// One session (no tokens configured: the anonymous admin), as a browser would keep it.
const first = await fetch(`${base}/ui/`);
const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
const timed = async (path: string) => {
  const t0 = performance.now();
  const r = await fetch(`${base}${path}`, { headers: { cookie } });
  const body = await r.text();
  const ms = performance.now() - t0;
  if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  return { ms, body };
};
const pages: number[] = [];
let charts = 0;
for (let i = 0; i < SAMPLES; i++) {
  const { ms, body } = await timed(`/ui/deploys/u-${(i * 37) % DEPLOYS}`);
  pages.push(ms);
  if (/<svg\s+class="chart"/.test(body) && body.includes('class="observed"')) charts++;
}
const lists: number[] = [];
for (let i = 0; i < 20; i++) lists.push((await timed('/ui/')).ms);
for (const c of children) c.kill('SIGTERM');
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;
const result = {
  deploys: DEPLOYS,
  samples: SAMPLES,
  deployPage: { medianMs: q(pages, 0.5), p95Ms: q(pages, 0.95), withCharts: charts },
  deploysList: { medianMs: q(lists, 0.5), p95Ms: q(lists, 0.95), rows: 200 },
};
console.log(
  `deploy page first render with ${DEPLOYS} deploys: median ${result.deployPage.medianMs.toFixed(1)} ms, p95 ${result.deployPage.p95Ms.toFixed(1)} ms (${charts}/${SAMPLES} with charts); list of 200: median ${result.deploysList.medianMs.toFixed(1)} ms, p95 ${result.deploysList.p95Ms.toFixed(1)} ms`,
);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/ui-render.json', `${JSON.stringify(result, null, 2)}\n`);
