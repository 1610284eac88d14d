// Navigator's own metrics of its Prometheus queries (issue 16 item 3), on a real Prometheus scraping a real
// storefront, with `navigator serve` as a separate process: after a watch ticks, /metrics counts the queries
// by outcome and times them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { Processes, freePort, waitUntil } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';

const procs = new Processes();
afterAll(() => procs.stopAll());

/** The value of one sample line of an exposition, e.g. `navigator_source_queries_total{outcome="ok"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('navigator_source_queries_total on a real Prometheus', () => {
  it('counts and times the queries of a tick on /metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-queries-'));
    const [shop, port] = [await freePort(), await freePort()];
    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] });
    writeFileSync(
      join(dir, 'navigator.yaml'),
      `server: { listen: "127.0.0.1:${port}" }
metrics: { source: prometheus, prometheus: { url: "${prom.url}", timeout: 5s, maxConcurrency: 2 } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: 1s }
services:
  checkout:
    watchFor: 10m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
    );
    procs.navigator(['serve', '--config', join(dir, 'navigator.yaml')]);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    const before = await (await fetch(`${base}/metrics`)).text();
    expect(sample(before, 'navigator_source_queries_total{outcome="ok"}') ?? 0).toBe(0);
    const reg = navigator([
      'deploy',
      'start',
      '--server',
      base,
      '--id',
      'q-1',
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
    const text = await waitUntil('queries on /metrics', async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return (sample(t, 'navigator_source_queries_total{outcome="ok"}') ?? 0) >= 3 ? t : undefined;
    });
    expect(text).toMatch(/# TYPE navigator_source_queries_total counter/);
    expect(text).toMatch(/# TYPE navigator_source_query_seconds histogram/);
    expect(sample(text, 'navigator_source_query_seconds_count{outcome="ok"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'navigator_source_query_seconds_sum{outcome="ok"}')).toBeGreaterThan(0);
    expect(sample(text, 'navigator_source_queries_total{outcome="error"}') ?? 0).toBe(0);
  });
});
