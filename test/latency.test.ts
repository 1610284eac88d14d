// Latency signals end to end: a recorded request-duration histogram replayed by the built CLI from the
// file and from a real Prometheus the same file was backfilled into with promtool; the quantiles in the
// evidence checked against Prometheus' own histogram_quantile over the same buckets.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramOpenMetrics } from '../bench/lib/histogram.js';
import { mulberry32, poisson } from '../bench/lib/random.js';
import { navigator } from './support/cli.js';
import { Processes } from './support/processes.js';
import { binary, startPrometheus } from './support/prometheus.js';
import { iso } from './support/recording.js';

const procs = new Processes();
afterAll(() => procs.stopAll());

const METRIC = 'http_request_duration_seconds';
const T0 = Date.parse('2025-11-27T08:00:00Z') / 1000;
const SLOW = T0 + 3600;
const GOOD = T0 + 2 * 3600;

const config = (slowerThan: string) => `
evaluation: { interval: 15s }
services:
  checkout:
    watchFor: 30m
    signals:
      latency: { kind: latency, bad: rise, metric: ${METRIC}, matchers: { service: checkout }, slowerThan: ${slowerThan} }
`;

const deploy = (id: string, version: string, at: number) => ({
  id,
  service: 'checkout',
  version,
  baselineVersion: 'v1',
  strategy: 'canary',
  startedAt: iso(at),
  stages: [{ at: iso(at), weight: 0.1 }],
});

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'navigator-latency-'));
  const data = histogramOpenMetrics({
    metric: METRIC,
    from: T0,
    to: GOOD + 2400,
    step: 15,
    rng: mulberry32(11),
    poisson,
    series: [
      // the baseline restarts once: every bucket resets together
      {
        labels: { service: 'checkout', version: 'v1' },
        rate: () => 90,
        slowShare: () => 0.01,
        restartsAt: [SLOW + 10],
      },
      {
        labels: { service: 'checkout', version: 'v2' },
        rate: () => 10,
        slowShare: () => 0.3,
        startsAt: SLOW,
        stopsAt: SLOW + 1800,
      },
      { labels: { service: 'checkout', version: 'v3' }, rate: () => 10, slowShare: () => 0.01, startsAt: GOOD },
    ],
  });
  writeFileSync(join(dir, 'data.om'), data);
  writeFileSync(join(dir, 'navigator.yaml'), config('500ms'));
  writeFileSync(join(dir, 'bad-bound.yaml'), config('300ms'));
  writeFileSync(join(dir, 'deploys.json'), JSON.stringify([deploy('slow', 'v2', SLOW), deploy('good', 'v3', GOOD)]));
});

interface Report {
  deploys: {
    id: string;
    verdict: string;
    decidedAt: string | null;
    signal: string | null;
    evidence: any;
  }[];
}

const args = () => [
  'backtest',
  '--config',
  join(dir, 'navigator.yaml'),
  '--deploys',
  join(dir, 'deploys.json'),
  '--json',
];

describe('latency signals in the backtest', () => {
  it('halts the slow canary within 2 ticks and passes the good one, from the file', async () => {
    const out = navigator([...args(), '--data', join(dir, 'data.om')]);
    expect(out.status, out.stderr).toBe(0);
    const r = JSON.parse(out.stdout) as Report;
    const [slow, good] = r.deploys;
    expect(slow!.verdict).toBe('fail');
    expect(slow!.signal).toBe('latency');
    expect((Date.parse(slow!.decidedAt!) / 1000 - SLOW) / 15).toBeLessThanOrEqual(2);
    expect(slow!.evidence.sentence).toMatch(
      /^latency: p99 .* in the new version against .* in the baseline; \d+% of requests slower than 500 ms/,
    );
    expect(good!.verdict).toBe('pass');
  });

  it('rejects a slowerThan that is not a bucket bound of the histogram, naming the field (exit 2)', async () => {
    const out = navigator([
      'backtest',
      '--config',
      join(dir, 'bad-bound.yaml'),
      '--deploys',
      join(dir, 'deploys.json'),
      '--data',
      join(dir, 'data.om'),
    ]);
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(
      /services\.checkout\.signals\.latency\.slowerThan: histogram http_request_duration_seconds has no bucket bound le="0.3".*0\.25, 0\.5/,
    );
  });

  it('reads the buckets from a real Prometheus backfilled with promtool: same verdicts, quantiles as histogram_quantile', async () => {
    execFileSync(
      binary(['promtool'], 'prometheus'),
      ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'tsdb')],
      { stdio: 'pipe' },
    );
    const prom = await startPrometheus(procs, { tsdb: join(dir, 'tsdb') });
    const fromFile = navigator([...args(), '--data', join(dir, 'data.om')]);
    const fromProm = navigator([...args(), '--prometheus', prom.url]);
    expect(fromProm.status, fromProm.stderr).toBe(0);
    const pick = (r: Report) => r.deploys.map((d) => ({ id: d.id, verdict: d.verdict, decidedAt: d.decidedAt }));
    const file = JSON.parse(fromFile.stdout) as Report;
    const viaProm = JSON.parse(fromProm.stdout) as Report;
    expect(pick(viaProm)).toEqual(pick(file));

    // The good canary passed at GOOD + 30m; its evidence covers the buckets' increase over exactly that
    // half hour, which PromQL gives without extrapolation as the counter minus itself 30m earlier.
    const good = viaProm.deploys[1]!;
    expect(Date.parse(good.decidedAt!) / 1000).toBe(GOOD + 1800);
    const lat = good.evidence.signals.latency.latency;
    for (const [arm, version] of [
      ['canary', 'v3'],
      ['baseline', 'v1'],
    ] as const) {
      for (const q of [0.5, 0.9, 0.99]) {
        const sel = `${METRIC}_bucket{service="checkout",version="${version}"}`;
        const query = `histogram_quantile(${q}, sum by (le) (${sel} - ${sel} offset 30m))`;
        const res = await fetch(
          `${prom.url}/api/v1/query?${new URLSearchParams({ query, time: String(GOOD + 1800) })}`,
        );
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        const promValue = Number(body.data.result[0]!.value[1]);
        const key = q === 0.5 ? 'p50' : q === 0.9 ? 'p90' : 'p99';
        expect(lat[arm][key], `${arm} ${key}`).toBeCloseTo(promValue, 9);
      }
    }
    // and the slow share against the buckets' own count
    const sel = (v: string, le: string) => `${METRIC}_bucket{service="checkout",version="${v}",le="${le}"}`;
    const q = `sum((${sel('v3', '+Inf')} - ${sel('v3', '+Inf')} offset 30m) - ignoring(le) (${sel('v3', '0.5')} - ${sel('v3', '0.5')} offset 30m))`;
    const res = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query: q, time: String(GOOD + 1800) })}`);
    const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
    expect(lat.canary.slow).toBe(Number(body.data.result[0]!.value[1]));
  }, 180_000);
});
