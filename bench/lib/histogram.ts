// Simulated request-duration histograms (classic buckets) for the latency benchmark, the tests and
// recordings: per tick, n requests of which a share is slower than the judged bound, spread over the
// buckets below and above it in fixed proportions (a fast mode around 80 ms, a slow tail around 1.5 s).
import { binomial, overdispersedBinomial, type Rng } from './random.js';

/** Bucket bounds in seconds, +Inf last: prom-client's and most client libraries' shape, 500 ms included. */
export const BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, Infinity];
export const SLOW_BOUND = 0.5;
/** How fast requests spread over the buckets up to the bound, and slow ones over those above it. */
const FAST_SPLIT = [0.3, 0.4, 0.25, 0.05];
const SLOW_SPLIT = [0.5, 0.35, 0.1, 0.05];

/** Splits n over `weights` (summing to 1) exactly: sequential binomials of a multinomial. */
function multinomial(rng: Rng, n: number, weights: readonly number[]): number[] {
  const out: number[] = [];
  let left = n;
  let mass = 1;
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k] as number;
    const x = k === weights.length - 1 ? left : binomial(rng, left, Math.min(1, w / mass));
    out.push(x);
    left -= x;
    mass -= w;
  }
  return out;
}

/**
 * One tick's per-bucket counts (not cumulative) for n requests with `slowShare` slower than 500 ms;
 * `dispersion` > 1 clumps the slow requests (a slow dependency stalls many requests at once).
 */
export function tickBuckets(rng: Rng, n: number, slowShare: number, dispersion = 1): number[] {
  const slow = overdispersedBinomial(rng, n, slowShare, dispersion);
  return [...multinomial(rng, n - slow, FAST_SPLIT), ...multinomial(rng, slow, SLOW_SPLIT)];
}

/** Cumulative counts (histogram_quantile's, and the exposition's, `le` semantics). */
export function cumulative(perBucket: readonly number[]): number[] {
  let acc = 0;
  return perBucket.map((x) => (acc += x));
}

export const leText = (b: number) => (b === Infinity ? '+Inf' : String(b));

export interface HistogramSeriesSpec {
  labels: Record<string, string>;
  /** requests per second at t */
  rate: (t: number) => number;
  /** share of requests slower than 500 ms at t */
  slowShare: (t: number) => number;
  startsAt?: number;
  stopsAt?: number;
  /** the process restarts at these times: every bucket, the count and the sum start again from zero */
  restartsAt?: number[];
}

/**
 * An OpenMetrics recording (contracts §3, what promtool backfills) of one histogram family: `_bucket`
 * for every bound, `_count` and `_sum`, one sample per step, each family's lines contiguous.
 */
export function histogramOpenMetrics(o: {
  metric: string;
  from: number;
  to: number;
  step: number;
  rng: Rng;
  series: HistogramSeriesSpec[];
  poisson: (rng: Rng, mean: number) => number;
}): string {
  const steps = Math.floor((o.to - o.from) / o.step) + 1;
  const bucketLines: string[] = [];
  const countLines: string[] = [];
  const sumLines: string[] = [];
  const mids = [0.03, 0.075, 0.17, 0.4, 0.7, 1.6, 3.5, 8];
  for (const s of o.series) {
    const labels = Object.entries(s.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, v]) => `${n}="${v}"`);
    let cum = BOUNDS.map(() => 0);
    let sum = 0;
    const perBound: string[][] = BOUNDS.map(() => []);
    for (let i = 0; i < steps; i++) {
      const t = o.from + i * o.step;
      if (s.startsAt !== undefined && t < s.startsAt) continue;
      if (s.stopsAt !== undefined && t >= s.stopsAt) break;
      if (s.restartsAt?.some((r) => r > t - o.step && r <= t)) {
        cum = BOUNDS.map(() => 0);
        sum = 0;
      }
      const n = o.poisson(o.rng, Math.max(0, s.rate(t)) * o.step);
      const per = tickBuckets(o.rng, n, s.slowShare(t));
      const le = cumulative(per);
      per.forEach((x, k) => {
        cum[k] = (cum[k] as number) + (le[k] as number);
        sum += x * (mids[k] as number);
      });
      BOUNDS.forEach((b, k) =>
        (perBound[k] as string[]).push(
          `${o.metric}_bucket{${[...labels, `le="${leText(b)}"`].join(',')}} ${cum[k]} ${t}`,
        ),
      );
      countLines.push(`${o.metric}_count{${labels.join(',')}} ${cum[BOUNDS.length - 1]} ${t}`);
      sumLines.push(`${o.metric}_sum{${labels.join(',')}} ${sum.toFixed(3)} ${t}`);
    }
    for (const lines of perBound) bucketLines.push(...lines);
  }
  return [`# TYPE ${o.metric} histogram`, ...bucketLines, ...countLines, ...sumLines, '# EOF', ''].join('\n');
}
