// A latency signal whose histogram has no bucket at `slowerThan` is refused as early as the source allows
// (issue 13, target "a histogram with a missing bound rejected at config time"), through the real CLI
// process, on a real histogram endpoint (the demo storefront's prom-client histogram, bounds 0.005 ... 10)
// scraped by a real Prometheus, or by the embedded scraper.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';

const procs = new Processes();
afterAll(() => procs.stopAll());

const BOUNDS = '0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10';
const MISSING = new RegExp(
  `services\\.checkout\\.signals\\.latency\\.slowerThan: histogram http_request_duration_seconds has no bucket bound le="0\\.3" for slowerThan \\(its bounds: ${BOUNDS.replace(/\./g, '\\.')}\\)`,
);

let dir: string;
let shop: number;
let prom: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'navigator-bounds-'));
  shop = await freePort();
  procs.storefront(shop);
  await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
  prom = (await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] })).url;
  await waitUntil('the histogram in Prometheus', async () => {
    const r = await getJson(`${prom}/api/v1/query?query=${encodeURIComponent('http_request_duration_seconds_bucket')}`);
    return ((r.data as { result: unknown[] } | undefined)?.result.length ?? 0) > 0;
  });
}, 90_000);

function write(name: string, o: { source: string; slowerThan: string; service?: string; port?: number }): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `server: { listen: "127.0.0.1:${o.port ?? 0}" }
${o.source}
store: { path: "${join(dir, `${name}.db`)}" }
evaluation: { interval: 1s }
services:
  checkout:
    watchFor: 5s
    signals:
      latency: { kind: latency, bad: rise, metric: http_request_duration_seconds, matchers: { service: ${o.service ?? 'checkout'} }, slowerThan: ${o.slowerThan} }
`,
  );
  return file;
}
const viaPrometheus = () => `metrics: { source: prometheus, prometheus: { url: "${prom}", timeout: 5s } }`;
const viaScrape = () => `metrics: { scrape: { targets: ["http://127.0.0.1:${shop}/metrics"] } }`;

describe('a latency signal whose histogram lacks the slowerThan bound', () => {
  it('navigator serve with Prometheus refuses to start: exit 2 naming the signal, metric and bounds, nothing opened', async () => {
    const port = await freePort();
    const file = write('serve-bad', { source: viaPrometheus(), slowerThan: '300ms', port });
    const r = navigator(['serve', '--config', file], { timeout: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(MISSING);
    expect(r.stderr).toMatch(/series lack it, e\.g\. http_request_duration_seconds_bucket\{.*service="checkout"/);
    // nothing half-applied: no store file created, no port bound
    expect(existsSync(join(dir, 'serve-bad.db'))).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('navigator serve starts when the histogram has its bound, or has no series yet (checked when they appear)', async () => {
    const port = await freePort();
    const file = write('serve-unseen', { source: viaPrometheus(), slowerThan: '300ms', service: 'payments', port });
    const p = procs.navigator(['serve', '--config', file]);
    await waitUntil('navigator', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 60_000);
    expect(procs.logs.get(p)).toMatch(
      /no series of http_request_duration_seconds_bucket\{service=\\"payments\\"\} yet, so its bound le=\\"0.3\\" is checked when they appear/,
    );
    const okPort = await freePort();
    const ok = procs.navigator([
      'serve',
      '--config',
      write('serve-ok', { source: viaPrometheus(), slowerThan: '500ms', port: okPort }),
    ]);
    await waitUntil('navigator', async () => (await fetch(`http://127.0.0.1:${okPort}/readyz`)).ok, 60_000);
    expect(procs.logs.get(ok)).toMatch(/histogram http_request_duration_seconds has le=\\"0.5\\" on all \d+ series/);
  }, 120_000);

  it('navigator config check asks the Prometheus it is told to (--prometheus URL, or --source: its own), else none', async () => {
    const bad = write('check-bad', { source: viaScrape(), slowerThan: '300ms' });
    const offline = navigator(['config', 'check', '--config', bad]);
    expect(offline.status, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(/bucket bounds: not checked \(no source asked; --prometheus URL or --source asks\)/);

    const asked = navigator(['config', 'check', '--config', bad, '--prometheus', prom]);
    expect(asked.status, asked.stdout).toBe(2);
    expect(asked.stderr).toMatch(MISSING);
    expect(asked.stderr).toMatch(new RegExp(`asked Prometheus ${prom} \\(--prometheus\\)`));

    const own = write('check-own', { source: viaPrometheus(), slowerThan: '500ms' });
    const good = navigator(['config', 'check', '--config', own, '--source', '--json']);
    expect(good.status, good.stderr).toBe(0);
    const plan = JSON.parse(good.stdout) as {
      histograms: { asked: string; checks: { status: string; bounds: number[] }[] };
    };
    expect(plan.histograms.asked).toBe(`Prometheus ${prom} (the config's metrics.prometheus)`);
    expect(plan.histograms.checks[0]).toMatchObject({ status: 'ok', bounds: BOUNDS.split(', ').map(Number) });

    // the embedded scraper's config: --source scrapes its targets once
    const scraped = navigator(['config', 'check', '--config', bad, '--source']);
    expect(scraped.status).toBe(2);
    expect(scraped.stderr).toMatch(MISSING);
    expect(scraped.stderr).toMatch(
      /asked one scrape of http:\/\/127\.0\.0\.1:\d+\/metrics \(the config's metrics\.scrape\)/,
    );

    // a Prometheus that does not answer: not a bad config, the check was not done (exit 3)
    const down = navigator([
      'config',
      'check',
      '--config',
      bad,
      '--prometheus',
      `http://127.0.0.1:${await freePort()}`,
    ]);
    expect(down.status).toBe(3);
    expect(down.stderr).toMatch(/bounds not checked: Prometheus http:\/\/127\.0\.0\.1:\d+/);
  }, 120_000);

  it('with the embedded scraper the first scrape decides and says so; a deploy is never passed on it', async () => {
    const port = await freePort();
    const p = procs.navigator([
      'serve',
      '--config',
      write('scrape', { source: viaScrape(), slowerThan: '300ms', port }),
    ]);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok, 60_000);
    await waitUntil(
      'the first scrape',
      async () => /no bucket bound le=\\"0.3\\"/.test(procs.logs.get(p) ?? ''),
      30_000,
    );
    const line = (procs.logs.get(p) ?? '').split('\n').find((l) => l.includes('no bucket bound'))!;
    const logged = JSON.parse(line) as { level: number; msg: string; target: string; signal: string };
    expect(logged.level).toBe(50); // error
    expect(logged.msg).toMatch(MISSING);
    expect(logged).toMatchObject({ signal: 'latency', target: `http://127.0.0.1:${shop}/metrics` });
    expect((procs.logs.get(p) ?? '').match(/no bucket bound/g)).toHaveLength(1); // told once, not every scrape

    const reg = navigator([
      'deploy',
      'start',
      '--server',
      base,
      '--id',
      'slow-1',
      '--service',
      'checkout',
      '--version',
      'v2',
      '--baseline',
      'v1',
      '--weight',
      '0.1',
    ]);
    expect(reg.status, reg.stderr).toBe(0);
    const d = await waitUntil(
      'the verdict',
      async () => {
        const v = await getJson(`${base}/v1/deploys/slow-1`);
        return v.status !== 'watching' ? v : undefined;
      },
      60_000,
    );
    // never passed: the judge could not decide, so a person must approve (or halt)
    expect(d.status).toBe('awaiting_approval');
    expect(d.reason).toMatch(
      /^not judged: signal latency: histogram http_request_duration_seconds has no bucket bound le="0.3".*; the judge could not decide: a human must approve/,
    );
    expect(d.verdict).toBe('inconclusive');
  }, 120_000);
});
