// A flat counter where events were due: the strongest evidence there is, whatever the series' dispersion
// (statistics.md, last section). The observed total of the last k ticks is compared with the empirical
// lower tail of history at that time of day: the k-tick totals of comparable windows (the same time on
// earlier days, and the hours just before). The null is "this window is like one of those, plus Poisson
// noise on top": p = mean_j P(Poisson(h_j) <= x). Using history's own totals as the rate counts their
// noise twice, which only makes the lower tail heavier (conservative). No dispersion estimate enters: a
// bursty series' quiet windows are in the reference set, and they set the tail.
// A count of 0 where every comparable window held 12 or more gives p <= e^-12 = 6e-6 per tick.
import { nbPredictiveLowerTail } from './nb-predictive.js';

/**
 * Upper bound on P(X <= x) for X ~ Poisson(mu) (Chernoff): exp(-mu + x + x ln(mu / x)) for x < mu,
 * e^-mu at x = 0, 1 at or above the mean. An upper bound keeps the test valid.
 */
export function poissonLowerTail(x: number, mu: number): number {
  if (!(mu > 0) || x >= mu) return 1;
  if (x <= 0) return Math.exp(-mu);
  return Math.min(1, Math.exp(-mu + x + x * Math.log(mu / x)));
}

export interface CollapseReference {
  /** k-tick totals of comparable windows in history */
  totals: number[];
  /** multiplier on the totals: the current level against history's (at most 1: never raises the null) */
  scale: number;
  /** each window's weight as independent evidence (overlapping windows share ticks); 1 each when omitted */
  weights?: number[];
}

export interface CollapseResult {
  /** the empirical-tail p-value of the observed total */
  p: number;
  /** the median of the comparable totals (scaled): what was due */
  due: number;
  /** number of comparable windows */
  windows: number;
  /** the smallest comparable total (scaled) */
  lowest: number;
  /** the posterior mean burst shape of the windows' negative-binomial fit */
  shape: number;
  /** the windows' weight as independent evidence */
  weight: number;
}

/**
 * The lower-tail p-value of observing `x` in a window like `ref`'s: the larger of two.
 * - The Poisson mixture over the comparable windows (above): what history itself shows.
 * - The tail beyond it: n windows can only show a tail down to about 1 / (n + 1), and a p-value far below
 *   that needs the tail's shape. The negative-binomial posterior predictive with the mean and the burst
 *   shape both unknown (nb-predictive.ts): a steady series (windows near their mean) pages a collapse at
 *   once; a bursty one, or one whose few windows cannot yet rule burstiness out, needs more ticks of
 *   silence. A gamma-mixed Poisson is the family real bursty counts are fitted with; the windows pool
 *   days and the hour around the slot, whose level differences only widen the fitted spread
 *   (conservative).
 */
export function collapseP(x: number, ref: CollapseReference): CollapseResult {
  const n = ref.totals.length;
  if (n === 0) return { p: 1, due: NaN, windows: 0, lowest: NaN, shape: NaN, weight: 0 };
  let sum = 0;
  const scaled = ref.totals.map((h) => h * ref.scale);
  for (const h of scaled) sum += poissonLowerTail(x, h);
  const sorted = [...scaled].sort((a, b) => a - b);
  const due = sorted[Math.floor((n - 1) / 2)] as number;
  const lowest = sorted[0] as number;
  const tail = nbPredictiveLowerTail(x, scaled, ref.weights);
  return { p: Math.max(sum / n, tail.p), due, windows: n, lowest, shape: tail.shape, weight: tail.weight };
}

/**
 * k-tick totals of comparable windows ending near tick `i` on earlier days (up to `days` back, within
 * `half` ticks of the same time, `stride` apart) and in the `recent` ticks before the window itself, from
 * `values` where excluded (anomalous) ticks are NaN. A window with an unknown tick is left out. Each
 * window's weight is the share of its ticks that its predecessor in the same run does not hold
 * (min(1, spacing / k)): overlapping windows are not independent evidence.
 */
export function comparableWindows(
  values: ArrayLike<number>,
  i: number,
  k: number,
  o: { dayTicks: number; days: number; half: number; stride: number; recent: number; recentValues?: ArrayLike<number> },
): { totals: number[]; weights: number[] } {
  const totals: number[] = [];
  const weights: number[] = [];
  const total = (src: ArrayLike<number>, end: number): number => {
    let s = 0;
    for (let j = end - k + 1; j <= end; j++) {
      const v = src[j] as number;
      if (j < 0 || j >= src.length || !Number.isFinite(v)) return NaN;
      s += v;
    }
    return s;
  };
  const dayWeight = Math.min(1, o.stride / k);
  for (let d = 1; d <= o.days; d++) {
    const c = i - d * o.dayTicks;
    if (c - o.half - k + 1 < 0) break;
    for (let e = c - o.half; e <= c + o.half; e += o.stride) {
      const t = total(values, e);
      if (Number.isFinite(t)) {
        totals.push(t);
        weights.push(dayWeight);
      }
    }
  }
  const rv = o.recentValues ?? values;
  const spacing = Math.max(1, Math.floor(o.stride / 2));
  const recentWeight = Math.min(1, spacing / k);
  for (let e = i - k; e > i - k - o.recent && e - k + 1 >= 0; e -= spacing) {
    const t = total(rv, e);
    if (Number.isFinite(t)) {
      totals.push(t);
      weights.push(recentWeight);
    }
  }
  return { totals, weights };
}

/** The totals of comparableWindows (their weights dropped). */
export function comparableTotals(
  values: ArrayLike<number>,
  i: number,
  k: number,
  o: Parameters<typeof comparableWindows>[3],
): number[] {
  return comparableWindows(values, i, k, o).totals;
}
