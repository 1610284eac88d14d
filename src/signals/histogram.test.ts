import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../sources/memory-store.js';
import { parseOpenMetricsText } from '../sources/openmetrics.js';
import { cohortCounts } from './increments.js';
import {
  HistogramBoundError,
  lastBucketIncrements,
  latencySelectors,
  parseLe,
  slowBound,
  slowGrids,
} from './histogram.js';

const SIG = {
  kind: 'latency' as const,
  bad: 'rise' as const,
  metric: 'req_seconds',
  matchers: { service: 'checkout' },
  slowerThan: '500ms',
};

function store(text: string): MemoryStore {
  const s = new MemoryStore();
  parseOpenMetricsText(`# TYPE req_seconds histogram\n${text}# EOF\n`, 'test.om', s);
  return s;
}

/** One series' samples at 0, 15, 30, 45 s: per tick cumulative buckets le=0.1, 0.5, +Inf and the count. */
function series(version: string, rows: [number, number, number][], le = ['0.1', '0.5', '+Inf']): string {
  const lines: string[] = [];
  rows.forEach(([a, b, c], i) => {
    const t = i * 15;
    [a, b, c].forEach((v, k) =>
      lines.push(`req_seconds_bucket{service="checkout",version="${version}",le="${le[k]}"} ${v} ${t}`),
    );
    lines.push(`req_seconds_count{service="checkout",version="${version}"} ${c} ${t}`);
  });
  return `${lines.join('\n')}\n`;
}

describe('latency selectors', () => {
  it('read slowerThan in the histogram unit: seconds, or milliseconds for a _milliseconds name', () => {
    expect(slowBound(SIG)).toBe(0.5);
    expect(slowBound({ ...SIG, metric: 'req_duration_milliseconds' })).toBe(500);
    expect(parseLe('1.0')).toBe(parseLe('1'));
    expect(parseLe('+Inf')).toBe(Infinity);
    expect(parseLe('5e-01')).toBe(0.5);
  });
});

describe('slowGrids', () => {
  it('derives the slow-request counter as _count - _bucket{le=bound}, resets included', async () => {
    // v1: 10 requests per tick, 2 of them slow; the process restarts before the last tick (all reset).
    const s = store(
      series('v1', [
        [5, 8, 10],
        [10, 16, 20],
        [15, 24, 30],
        [4, 7, 9],
      ]),
    );
    const sel = latencySelectors(SIG);
    const [buckets, counts] = [await s.grid(sel.buckets, 0, 45, 15), await s.grid(sel.count, 0, 45, 15)];
    const slow = slowGrids(sel.slow, buckets, counts);
    expect(slow).toHaveLength(1);
    expect(Array.from(slow[0]!.values)).toEqual([2, 4, 6, 2]);
    // as a counter: 2 slow per tick, and the reset counts what was counted since it (like increase)
    expect(Array.from(cohortCounts(slow, 1).values).slice(1)).toEqual([2, 2, 2]);
  });

  it('matches the bound whatever way le is written (Prometheus 3 writes 0.5 as "0.5", 1 as "1.0")', async () => {
    const s = store(series('v1', [[1, 2, 3]], ['0.1', '5e-01', '+Inf']));
    const sel = latencySelectors(SIG);
    const slow = slowGrids(sel.slow, await s.grid(sel.buckets, 0, 0, 15), await s.grid(sel.count, 0, 0, 15));
    expect(slow[0]!.values[0]).toBe(1);
  });

  it('refuses a histogram without the bound, naming the metric, the bound and the bounds it has', async () => {
    const s = store(series('v1', [[1, 2, 3]], ['0.1', '0.25', '+Inf']));
    const sel = latencySelectors(SIG);
    const run = async () => slowGrids(sel.slow, await s.grid(sel.buckets, 0, 0, 15), await s.grid(sel.count, 0, 0, 15));
    await expect(run()).rejects.toThrow(HistogramBoundError);
    await expect(run()).rejects.toThrow(/req_seconds has no bucket bound le="0.5".*0.1, 0.25/);
  });
});

describe('lastBucketIncrements', () => {
  it('gives the last tick per bound, summed over the series of a cohort', async () => {
    const s = store(
      series('v1', [
        [5, 8, 10],
        [10, 16, 20],
      ]) +
        series('v2', [
          [0, 0, 0],
          [1, 1, 5],
        ]),
    );
    const b = lastBucketIncrements(await s.grid(latencySelectors(SIG).buckets, 0, 15, 15), 1);
    expect(b).toEqual({ bounds: [0.1, 0.5, Infinity], counts: [6, 9, 15] });
  });
});
