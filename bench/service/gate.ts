// bench/service (gate): p99 latency of GET /v1/deploys/{id}/gate at 2,000 requests/s on loopback, load from
// a second process (bench/service/load.mjs, open loop) against `navigator serve` (the built CLI) with 1,000
// registered deploys. Medians of several runs.   npm run build && npx tsx bench/service/gate.ts [--runs 3]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoConfig, freePort } from '../../src/cli/demo.js';

const runs = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 3;
const dir = mkdtempSync(join(tmpdir(), 'navigator-gate-'));
const port = await freePort();
writeFileSync(join(dir, 'navigator.yaml'), demoConfig(process.env.GATE_INTERVAL ?? '15s', '30m'));
const env = {
  ...process.env,
  NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
  NAVIGATOR_STORE: join(dir, 'navigator.db'),
  STOREFRONT_METRICS: 'http://127.0.0.1:9/metrics',
};
const nav = spawn(process.execPath, ['bin/navigator.js', 'serve', '--config', join(dir, 'navigator.yaml')], {
  env,
  stdio: 'ignore',
});
const base = `http://127.0.0.1:${port}`;
for (let i = 0; i < 100; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    /* starting */
  }
  await new Promise((r) => setTimeout(r, 100));
}
for (let i = 0; i < 1000; i++) {
  await fetch(`${base}/v1/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: `g-${i}`,
      service: 'checkout',
      version: `v${i + 2}`,
      baselineVersion: 'v1',
      stages: [{ at: new Date().toISOString(), weight: 0.1 }],
    }),
  });
}
const results = [];
for (let r = 0; r < runs; r++) {
  const out = execFileSync(
    process.execPath,
    ['bench/service/load.mjs', base, `/v1/deploys/g-${r * 7}/gate`, '2000', '10'],
    { encoding: 'utf8' },
  );
  results.push(
    JSON.parse(out) as {
      requests: number;
      errors: number;
      achievedRate: number;
      p50ms: number;
      p99ms: number;
      maxms: number;
    },
  );
}
nav.kill('SIGTERM');
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const result = {
  command: 'npx tsx bench/service/gate.ts',
  rate: 2000,
  secondsPerRun: 10,
  runs: results,
  medianP99ms: +med(results.map((x) => x.p99ms)).toFixed(2),
  medianP50ms: +med(results.map((x) => x.p50ms)).toFixed(2),
  medianAchievedRate: Math.round(med(results.map((x) => x.achievedRate))),
  target: 'p99 under 10 ms at 2,000 requests/s',
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/service-gate.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `gate at 2,000 req/s from a second process: median p50 ${result.medianP50ms} ms, p99 ${result.medianP99ms} ms over ${runs} runs of 10 s (achieved ${result.medianAchievedRate} req/s; errors ${results.map((x) => x.errors).join(', ')})`,
);
