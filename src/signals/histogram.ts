// A latency signal is a ratio signal in disguise: from a Prometheus histogram (`<metric>_bucket{le}`,
// `<metric>_count`), the bad events are the requests slower than `slowerThan`, i.e. `_count` minus
// `_bucket{le=slowerThan}`, and the denominator is `_count`. Since a histogram's counters are exposed
// together and reset together (a restarted process starts every bucket at zero), `_count - _bucket{le}` is
// itself a counter of slow requests with the same resets, so the ordinary increment rules (increments.ts)
// apply to it unchanged, and the ratio judge takes it as it is.
import { parseDuration } from '../config/duration.js';
import type { LatencySignalConfig } from '../config/schema.js';
import type { SeriesGrid, SeriesSelector } from '../sources/types.js';
import { cohortCounts } from './increments.js';

/** A selector for the derived "slow requests" counter: the source is asked for its buckets and count. */
export interface SlowSelector extends SeriesSelector {
  histogram: { base: string; bound: number };
}

export function isSlowSelector(sel: SeriesSelector): sel is SlowSelector {
  return (sel as Partial<SlowSelector>).histogram !== undefined;
}

/**
 * The metric's unit per second: Prometheus' naming convention puts the unit in the name, and base units
 * (seconds) are the rule; a `_milliseconds` or `_microseconds` histogram has its bounds in those units.
 */
export function unitsPerSecond(metric: string): number {
  if (/_(milliseconds|ms)$/.test(metric)) return 1000;
  if (/_(microseconds|us)$/.test(metric)) return 1e6;
  return 1;
}

/** slowerThan as a bucket bound in the histogram's own unit. */
export function slowBound(sig: Pick<LatencySignalConfig, 'metric' | 'slowerThan'>): number {
  return parseDuration(sig.slowerThan) * unitsPerSecond(sig.metric);
}

export function latencySelectors(sig: LatencySignalConfig): {
  slow: SlowSelector;
  count: SeriesSelector;
  buckets: SeriesSelector;
} {
  const bound = slowBound(sig);
  return {
    slow: { metric: `${sig.metric}_bucket`, matchers: sig.matchers, histogram: { base: sig.metric, bound } },
    count: { metric: `${sig.metric}_count`, matchers: sig.matchers },
    buckets: { metric: `${sig.metric}_bucket`, matchers: sig.matchers },
  };
}

/** `le` as a number: "0.5", "5e-01", "+Inf" (Prometheus 3 writes "1.0" where 2.x wrote "1"). */
export function parseLe(le: string | undefined): number {
  if (le === undefined || le.trim() === '') return NaN;
  const t = le.trim().toLowerCase();
  if (t === '+inf' || t === 'inf') return Infinity;
  return Number(t);
}

export const sameBound = (a: number, b: number) =>
  a === b || (Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)));

/** Thrown (and caught per signal) when a histogram has no bucket at slowerThan: never judged on a guess. */
export class HistogramBoundError extends Error {
  override name = 'HistogramBoundError';
  constructor(
    readonly metric: string,
    readonly bound: number,
    readonly bounds: number[],
  ) {
    super(
      `histogram ${metric} has no bucket bound le="${bound}" for slowerThan ` +
        `(its bounds: ${bounds.length ? bounds.map(String).join(', ') : 'none'}); choose one of its bounds`,
    );
  }
}

function seriesKeyWithoutLe(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(labels)
      .filter((k) => k !== 'le')
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/** The distinct finite bounds of a set of bucket series, sorted. */
export function boundsOf(buckets: readonly SeriesGrid[]): number[] {
  const out: number[] = [];
  for (const b of buckets) {
    const le = parseLe(b.labels.le);
    if (Number.isFinite(le) && !out.some((x) => sameBound(x, le))) out.push(le);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The slow-request counters: for each `_count` series, `_count - _bucket{le=bound}` with the same labels.
 * Throws HistogramBoundError when a series has buckets but none at the bound (or no buckets at all).
 */
export function slowGrids(
  sel: SlowSelector,
  buckets: readonly SeriesGrid[],
  counts: readonly SeriesGrid[],
): SeriesGrid[] {
  const { bound, base } = sel.histogram;
  const atBound = new Map<string, SeriesGrid>();
  for (const b of buckets) if (sameBound(parseLe(b.labels.le), bound)) atBound.set(seriesKeyWithoutLe(b.labels), b);
  const out: SeriesGrid[] = [];
  for (const c of counts) {
    const b = atBound.get(seriesKeyWithoutLe(c.labels));
    if (!b) {
      // Series that have never reported anything in this window say nothing about their bounds.
      if (!c.values.some(Number.isFinite)) continue;
      throw new HistogramBoundError(base, bound, boundsOf(buckets));
    }
    const values = new Float64Array(c.values.length);
    for (let i = 0; i < values.length; i++) {
      const n = c.values[i] as number;
      const f = b.values[i] as number;
      values[i] = Number.isFinite(n) && Number.isFinite(f) ? Math.max(0, n - f) : NaN;
    }
    out.push({ labels: { ...c.labels }, values });
  }
  return out;
}

/** Cumulative bucket increments of one cohort in one tick, by bound (+Inf last): histogram_quantile's input. */
export interface BucketCounts {
  bounds: number[];
  counts: number[];
}

/**
 * The last tick's increments per bucket bound (summed over the cohort's series, resets and gaps as for
 * any counter); null when any bucket's tick is unknown or there are no buckets.
 */
export function lastBucketIncrements(buckets: readonly SeriesGrid[], absentAfter: number): BucketCounts | null {
  const byBound = new Map<number, SeriesGrid[]>();
  for (const b of buckets) {
    const le = parseLe(b.labels.le);
    if (Number.isNaN(le)) continue;
    let key = le;
    for (const k of byBound.keys()) if (sameBound(k, le)) key = k;
    const list = byBound.get(key) ?? [];
    list.push(b);
    byBound.set(key, list);
  }
  if (byBound.size === 0) return null;
  const points = absentAfter + 1;
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  const counts: number[] = [];
  for (const le of bounds) {
    const v = cohortCounts(byBound.get(le) as SeriesGrid[], absentAfter, points).values[points - 1] as number;
    if (!Number.isFinite(v)) return null;
    counts.push(v);
  }
  return { bounds, counts };
}

/** Adds `b` into `acc` bound by bound (a bound new to `acc` is inserted, counts of missing ones kept). */
export function addBuckets(acc: BucketCounts, b: BucketCounts): void {
  for (let k = 0; k < b.bounds.length; k++) {
    const le = b.bounds[k] as number;
    const i = acc.bounds.findIndex((x) => sameBound(x, le));
    if (i >= 0) acc.counts[i] = (acc.counts[i] as number) + (b.counts[k] as number);
    else {
      const at = acc.bounds.findIndex((x) => x > le);
      const j = at < 0 ? acc.bounds.length : at;
      acc.bounds.splice(j, 0, le);
      acc.counts.splice(j, 0, b.counts[k] as number);
    }
  }
}

/**
 * The check a recording allows before any tick: every bucketed series of the histogram must have the bound.
 * `buckets` are the label sets of its `_bucket` series. Null when fine (or when there are no buckets yet).
 */
export function missingBound(
  sig: LatencySignalConfig,
  buckets: readonly Record<string, string>[],
): HistogramBoundError | null {
  const bound = slowBound(sig);
  const groups = new Map<string, boolean>();
  for (const labels of buckets) {
    const key = seriesKeyWithoutLe(labels);
    groups.set(key, (groups.get(key) ?? false) || sameBound(parseLe(labels.le), bound));
  }
  if ([...groups.values()].every(Boolean)) return null;
  return new HistogramBoundError(
    sig.metric,
    bound,
    boundsOf(buckets.map((labels) => ({ labels, values: new Float64Array(0) }))),
  );
}
