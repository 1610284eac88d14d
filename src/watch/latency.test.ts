// Latency signals through the whole watch loop (the backtest runs the live service's Watcher): a recorded
// histogram in, verdicts and their evidence out.
import { describe, expect, it } from 'vitest';
import { histogramOpenMetrics } from '../../bench/lib/histogram.js';
import { mulberry32, poisson } from '../../bench/lib/random.js';
import { runBacktest } from '../backtest/backtest.js';
import { AlwaysWatches } from './always-live.js';
import { parseConfig } from '../config/load.js';
import type { Deploy } from '../model/deploy.js';
import { MemoryStore } from '../sources/memory-store.js';
import { parseOpenMetricsText } from '../sources/openmetrics.js';

const T0 = Date.parse('2025-11-27T08:00:00Z') / 1000;
const METRIC = 'http_request_duration_seconds';

function config(slowerThan = '500ms', watchFor = '30m') {
  return parseConfig(
    `evaluation: { interval: 15s }
services:
  checkout:
    watchFor: ${watchFor}
    signals:
      latency: { kind: latency, bad: rise, metric: ${METRIC}, matchers: { service: checkout }, slowerThan: ${slowerThan} }
`,
    'test.yaml',
  );
}

function deploy(id: string, version: string, at: number, strategy: Deploy['strategy'] = 'canary'): Deploy {
  return {
    id,
    service: 'checkout',
    version,
    baselineVersion: strategy === 'canary' ? 'v1' : null,
    strategy,
    startedAt: at,
    stages: [{ at, weight: strategy === 'canary' ? 0.1 : 1 }],
    change: null,
  };
}

/** 100 requests/s; from `at`, v2 takes 10% of them with `slow` of them slower than 500 ms (v1: 1%). */
function canaryData(seed: number, at: number, slow: number): MemoryStore {
  const store = new MemoryStore();
  const text = histogramOpenMetrics({
    metric: METRIC,
    from: T0,
    to: at + 3600,
    step: 15,
    rng: mulberry32(seed),
    poisson,
    series: [
      { labels: { service: 'checkout', version: 'v1' }, rate: (t) => (t >= at ? 90 : 100), slowShare: () => 0.01 },
      { labels: { service: 'checkout', version: 'v2' }, rate: () => 10, slowShare: () => slow, startsAt: at },
    ],
  });
  parseOpenMetricsText(text, 'canary.om', store);
  return store;
}

describe('latency signals', () => {
  it('halts a canary whose slow share goes from 1% to 30% at 100 requests/s within 2 ticks, with evidence people read', async () => {
    const at = T0 + 3600;
    const r = await runBacktest({
      config: config(),
      source: canaryData(1, at, 0.3),
      deploys: [deploy('d-slow', 'v2', at)],
      from: T0,
      to: at + 3600,
    });
    const d = r.deploys[0]!;
    expect(d.verdict).toBe('fail');
    expect(d.signal).toBe('latency');
    expect((Date.parse(d.decidedAt!) / 1000 - at) / 15).toBeLessThanOrEqual(2);
    const ev = d.evidence as { latency: any; sentence: string; test: string };
    expect(ev.test).toBe('ratio-canary-vs-baseline');
    expect(ev.latency.slowerThan).toBe(0.5);
    expect(ev.latency.interpolation).toMatch(/linear.*histogram_quantile/);
    const c = ev.latency.canary;
    const b = ev.latency.baseline;
    expect(c.slowShare.estimate).toBeGreaterThan(0.2);
    expect(c.slowShare.low).toBeLessThan(c.slowShare.estimate);
    expect(b.slowShare.estimate).toBeLessThan(0.03);
    expect(c.p99).toBeGreaterThan(b.p99);
    expect(c.p50).toBeLessThanOrEqual(c.p90);
    expect(ev.sentence).toMatch(
      /^latency: p99 [\d.]+ m?s in the new version against [\d.]+ m?s in the baseline; \d+% of requests slower than 500 ms against [\d.]+%\./,
    );
  });

  it('passes a canary as slow as its baseline', async () => {
    const at = T0 + 3600;
    const r = await runBacktest({
      config: config(),
      source: canaryData(2, at, 0.01),
      deploys: [deploy('d-good', 'v2', at)],
      from: T0,
      to: at + 3600,
    });
    expect(r.deploys[0]!.verdict).toBe('pass');
  });

  it('never judges a histogram without the slowerThan bound: the deploy ends inconclusive, naming the signal', async () => {
    const at = T0 + 3600;
    const r = await runBacktest({
      config: config('300ms', '5m'),
      source: canaryData(3, at, 0.3),
      deploys: [deploy('d-bound', 'v2', at)],
      from: T0,
      // a minute past watchFor: decided at watchFor (waiting for a signal that can never be judged gains
      // nothing), else the reason would be that the data ended
      to: at + 6 * 60,
    });
    const d = r.deploys[0]!;
    expect(d.verdict).toBe('inconclusive');
    expect(d.reason).toMatch(/signal latency: histogram http_request_duration_seconds has no bucket bound le="0.3"/);
  });

  it('never judges an all-at-once deploy on a histogram without the bound: its history is not read as a forecast', async () => {
    const at = T0 + 3600;
    const r = await runBacktest({
      config: config('300ms', '5m'),
      source: canaryData(6, at, 0.3),
      deploys: [deploy('d-all-bound', 'v2', at, 'all-at-once')],
      from: T0,
      to: at + 6 * 60,
    });
    const d = r.deploys[0]!;
    expect(d.verdict).toBe('inconclusive');
    expect(d.reason).toMatch(
      /not judged: signal latency: histogram http_request_duration_seconds has no bucket bound le="0.3"/,
    );
  });

  it('an always-watched latency signal without the bound says so, and the other always-watched signals go on', async () => {
    const at = T0 + 3600;
    const store = canaryData(7, at, 0.01);
    const cfg = parseConfig(
      `evaluation: { interval: 15s }
services:
  checkout:
    signals:
      latency: { kind: latency, bad: rise, metric: ${METRIC}, matchers: { service: checkout }, slowerThan: 300ms, watch: always }
      requests: { kind: count, bad: drop, metric: ${METRIC}_count, matchers: { service: checkout }, watch: always }
`,
      'always.yaml',
    );
    const errors: string[] = [];
    const always = new AlwaysWatches({
      config: cfg,
      source: store,
      step: 15,
      absentAfter: cfg.evaluation.absentAfter,
      onIncident: () => {},
      onError: (service, signal, error) => errors.push(`${service}/${signal}: ${error}`),
    });
    for (let t = at; t < at + 10 * 15; t += 15) await always.tick(t);
    const [latency, requests] = always.statuses();
    expect(latency!.state).toBe('not-judged');
    expect(latency!.reason).toMatch(
      /signal latency: histogram http_request_duration_seconds has no bucket bound le="0.3"/,
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^checkout\/latency: signal latency: histogram/);
    expect(requests!.state).toBe('warming-up');
    expect(requests!.historySeconds).toBeGreaterThan(0);
  });

  it('fails an all-at-once deploy that made everything slow, against the history before it', async () => {
    const at = T0 + 6 * 3600;
    const store = new MemoryStore();
    const text = histogramOpenMetrics({
      metric: METRIC,
      from: T0,
      to: at + 3600,
      step: 15,
      rng: mulberry32(4),
      poisson,
      series: [
        { labels: { service: 'checkout', version: 'v1' }, rate: () => 100, slowShare: () => 0.01, stopsAt: at },
        { labels: { service: 'checkout', version: 'v2' }, rate: () => 100, slowShare: () => 0.1, startsAt: at },
      ],
    });
    parseOpenMetricsText(text, 'all.om', store);
    const r = await runBacktest({
      config: config(),
      source: store,
      deploys: [deploy('d-all', 'v2', at, 'all-at-once')],
      from: T0,
      to: at + 3600,
    });
    const d = r.deploys[0]!;
    expect(d.verdict).toBe('fail');
    const ev = d.evidence as { latency: any; sentence: string; test: string };
    expect(ev.test).toBe('ratio-against-history');
    expect(ev.latency.canary.slowShare.estimate).toBeGreaterThan(0.05);
    expect(ev.sentence).toMatch(/of requests slower than 500 ms against at most [\d.]+% before it/);
  });

  it('pages an always-watched latency signal when the service got slow with no deploy watched', async () => {
    const onset = T0 + 8 * 86400 + 11 * 3600; // the forecast arms after 7 days of history
    const store = new MemoryStore();
    const text = histogramOpenMetrics({
      metric: METRIC,
      from: T0,
      to: onset + 1800,
      step: 60, // one-minute ticks keep eight days of history quick
      rng: mulberry32(5),
      poisson,
      series: [
        {
          labels: { service: 'checkout', version: 'v1' },
          rate: (t) => 50 * (1 + 0.5 * Math.sin((2 * Math.PI * (t % 86400)) / 86400)),
          slowShare: (t) => (t >= onset ? 0.1 : 0.01),
        },
      ],
    });
    parseOpenMetricsText(text, 'always.om', store);
    const cfg = parseConfig(
      `evaluation: { interval: 60s }
services:
  checkout:
    signals:
      latency: { kind: latency, bad: rise, metric: ${METRIC}, matchers: { service: checkout }, slowerThan: 500ms, watch: always }
`,
      'always.yaml',
    );
    const r = await runBacktest({ config: cfg, source: store, deploys: [], from: T0, to: onset + 1800 });
    const before = r.incidents.filter((i) => Date.parse(i.detectedAt) / 1000 < onset);
    const after = r.incidents.filter((i) => Date.parse(i.detectedAt) / 1000 >= onset);
    expect(before).toHaveLength(0);
    expect(after.length).toBeGreaterThanOrEqual(1);
    expect(after[0]!.signal).toBe('latency');
    expect((Date.parse(after[0]!.detectedAt) / 1000 - onset) / 60).toBeLessThanOrEqual(10);
  }, 60_000);
});
