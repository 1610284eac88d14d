// A flat counter where events were due: the strongest evidence there is, whatever the series' dispersion
// (statistics.md, last section). The observed total of the last k ticks is compared with the empirical
// lower tail of history at that time of day: the k-tick totals of comparable windows (the same time on
// earlier days, and the hours just before). The null is "this window is like one of those, plus Poisson
// noise on top": p = mean_j P(Poisson(h_j) <= x). Using history's own totals as the rate counts their
// noise twice, which only makes the lower tail heavier (conservative). No dispersion estimate enters: a
// bursty series' quiet windows are in the reference set, and they set the tail.
// A count of 0 where every comparable window held 12 or more gives p <= e^-12 = 6e-6 per tick.

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
}

/**
 * The lower-tail p-value of observing `x` in a window like `ref`'s: the larger of two bounds.
 * - The Poisson mixture over the comparable windows (above).
 * - A tail extrapolation: n windows can only show a tail down to about 1 / (n + 1), and a p-value far below
 *   that needs the tail's shape. Assume the share of windows below a fraction e of the median falls like
 *   e^a (a power law: a gamma- or lognormal-like lower tail is lighter still), with a fitted so that the
 *   second-lowest window sits at 2 / (n + 1). Then p <= ((x + 1) / median)^a. A steady series (its
 *   lowest windows near its median) gets a large a and pages a collapse at once; a bursty one, whose
 *   quiet windows fall far below its median, gets a small a and needs more ticks of silence.
 */
export function collapseP(x: number, ref: CollapseReference): CollapseResult {
  const n = ref.totals.length;
  if (n === 0) return { p: 1, due: NaN, windows: 0, lowest: NaN };
  let sum = 0;
  for (const h of ref.totals) sum += poissonLowerTail(x, h * ref.scale);
  const sorted = [...ref.totals].sort((a, b) => a - b);
  const due = (sorted[Math.floor((n - 1) / 2)] as number) * ref.scale;
  const lowest = (sorted[0] as number) * ref.scale;
  let tail = 1;
  const second = (sorted[Math.min(1, n - 1)] as number) * ref.scale;
  if (n >= 2 && due > 0 && second > 0 && second < due) {
    const a = Math.log(2 / (n + 1)) / Math.log(second / due);
    tail = Math.min(1, ((x + 1) / due) ** a);
  } else if (n >= 2 && due > 0 && second >= due)
    tail = (x + 1) / due < 1 ? 0 : 1; // no spread at all
  else if (!(second > 0)) tail = 1; // history shows empty windows here: a zero is ordinary
  return { p: Math.max(sum / n, tail), due, windows: n, lowest };
}

/**
 * k-tick totals of comparable windows ending near tick `i` on earlier days (up to `days` back, within
 * `half` ticks of the same time, `stride` apart) and in the `recent` ticks before the window itself, from
 * `values` where excluded (anomalous) ticks are NaN. A window with an unknown tick is left out.
 */
export function comparableTotals(
  values: ArrayLike<number>,
  i: number,
  k: number,
  o: { dayTicks: number; days: number; half: number; stride: number; recent: number; recentValues?: ArrayLike<number> },
): number[] {
  const out: number[] = [];
  const total = (src: ArrayLike<number>, end: number): number => {
    let s = 0;
    for (let j = end - k + 1; j <= end; j++) {
      const v = src[j] as number;
      if (j < 0 || j >= src.length || !Number.isFinite(v)) return NaN;
      s += v;
    }
    return s;
  };
  for (let d = 1; d <= o.days; d++) {
    const c = i - d * o.dayTicks;
    if (c - o.half - k + 1 < 0) break;
    for (let e = c - o.half; e <= c + o.half; e += o.stride) {
      const t = total(values, e);
      if (Number.isFinite(t)) out.push(t);
    }
  }
  const rv = o.recentValues ?? values;
  for (let e = i - k; e > i - k - o.recent && e - k + 1 >= 0; e -= Math.max(1, Math.floor(o.stride / 2))) {
    const t = total(rv, e);
    if (Number.isFinite(t)) out.push(t);
  }
  return out;
}
