// What a latency signal adds to its ratio evidence, for people: each arm's p50/p90/p99 from the buckets
// seen during the watch (linear interpolation within a bucket, exactly as histogram_quantile), each arm's
// share of requests slower than slowerThan with its interval, and one sentence in front of the ratio's.
import type { SignalConfig } from '../config/schema.js';
import { histogramQuantile, wilsonInterval } from '../judge/quantiles.js';
import { summarizeTwoArm } from '../judge/two-arm.js';
import type { Evidence, LatencyArm } from '../model/verdict.js';
import { addBuckets, sameBound, slowBound, unitsPerSecond, type BucketCounts } from '../signals/histogram.js';

export interface LatencyState {
  /** slowerThan in the histogram's unit (a bucket bound), and that unit per second */
  bound: number;
  unitsPerSecond: number;
  /** buckets summed over the watch: the new version (or all traffic, against history) and the baseline */
  canary: BucketCounts;
  baseline: BucketCounts;
}

export const INTERPOLATION =
  'linear within the bucket holding the quantile, from the bucket below (0 for the first) to its bound, as PromQL histogram_quantile; the highest finite bound when the quantile falls in +Inf';

/** The latency part of a signal judge's options (undefined for other kinds). */
export function latencyOptions(sig: SignalConfig): { bound: number; unitsPerSecond: number } | undefined {
  if (sig.kind !== 'latency') return undefined;
  return { bound: slowBound(sig), unitsPerSecond: unitsPerSecond(sig.metric) };
}

export function newLatencyState(o: { bound: number; unitsPerSecond: number }): LatencyState {
  return { ...o, canary: { bounds: [], counts: [] }, baseline: { bounds: [], counts: [] } };
}

/** After a JSON round trip (persist.ts): JSON has no Infinity, so the +Inf bound came back as null. */
export function reviveLatency(s: { latency?: LatencyState }): void {
  if (!s.latency) return;
  for (const b of [s.latency.canary, s.latency.baseline]) b.bounds = b.bounds.map((x) => x ?? Infinity);
}

export function accumulateLatency(
  s: { latency?: LatencyState },
  b: { canary: BucketCounts | null; baseline: BucketCounts | null },
): void {
  if (!s.latency || !b.canary || (b.baseline === null && s.latency.baseline.bounds.length > 0)) return;
  // A tick counts only when every arm it has is known, so both arms cover the same ticks.
  addBuckets(s.latency.canary, b.canary);
  if (b.baseline) addBuckets(s.latency.baseline, b.baseline);
}

function arm(b: BucketCounts, bound: number, perSecond: number, dispersion: number): LatencyArm | null {
  const inf = b.bounds.length - 1;
  if (inf < 0 || b.bounds[inf] !== Infinity) return null;
  const requests = b.counts[inf] as number;
  const at = b.bounds.findIndex((x) => sameBound(x, bound));
  const fast = at >= 0 ? (b.counts[at] as number) : NaN;
  const slow = Math.max(0, requests - fast);
  // Over-dispersed requests (bursts, retries) carry less information than their count: shrink n by it.
  const d = Math.max(1, dispersion);
  const share = wilsonInterval(slow / d, requests / d);
  const q = (p: number) => {
    const v = histogramQuantile(p, b.bounds, b.counts);
    return Number.isFinite(v) ? v / perSecond : null;
  };
  return { requests, slow, slowShare: share, p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

const seconds = (x: number | null) =>
  x === null ? 'unknown' : x < 1 ? `${Number((x * 1000).toPrecision(2))} ms` : `${Number(x.toPrecision(2))} s`;
const share = (p: number) => (Number.isFinite(p) ? `${Number((p * 100).toFixed(p >= 0.1 ? 0 : 1))}%` : 'unknown');

/** Adds `latency` to the evidence of a latency signal and puts its sentence first. */
export function latencyEvidence(
  s: {
    name: string;
    latency?: LatencyState;
    mode: 'canary' | 'history';
    main: Parameters<typeof summarizeTwoArm>[0] | { kind: 'forecast'; d0: number };
    forecast: { ratio?: number } | null;
  },
  ev: Evidence,
): void {
  const L = s.latency;
  if (!L) return;
  const d = s.main.kind === 'two-arm' ? summarizeTwoArm(s.main).dispersion : s.main.d0;
  const canary = arm(L.canary, L.bound, L.unitsPerSecond, d);
  if (!canary) return;
  const slowerThan = L.bound / L.unitsPerSecond;
  let baseline: NonNullable<Evidence['latency']>['baseline'] = null;
  let sentence: string;
  if (s.mode === 'canary') {
    const b = arm(L.baseline, L.bound, L.unitsPerSecond, d);
    baseline = b;
    sentence =
      `p99 ${seconds(canary.p99)} in the new version against ${seconds(b?.p99 ?? null)} in the baseline; ` +
      `${share(canary.slowShare.estimate)} of requests slower than ${seconds(slowerThan)} against ${share(b?.slowShare.estimate ?? NaN)}.`;
  } else {
    const before = s.forecast?.ratio;
    baseline = before === undefined ? null : { slowShareBefore: { high: before } };
    sentence =
      `p99 ${seconds(canary.p99)} since the deploy; ${share(canary.slowShare.estimate)} of requests slower than ` +
      `${seconds(slowerThan)} against ${before === undefined ? 'unknown' : `at most ${share(before)}`} before it.`;
  }
  ev.latency = { slowerThan, interpolation: INTERPOLATION, canary, baseline };
  // "<name>: <quantiles and shares>. Slow requests <the ratio's sentence, without its name>"
  const prefix = `${s.name}: `;
  const rest = ev.sentence.startsWith(prefix) ? ev.sentence.slice(prefix.length) : ev.sentence;
  ev.sentence = `${prefix}${sentence} Slow requests ${rest}`;
}
