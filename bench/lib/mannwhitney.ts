// Mann-Whitney U (Wilcoxon rank-sum) with the Hodges-Lehmann shift and its confidence interval, computed
// the way Kayenta's judge computes them (spinnaker/kayenta, kayenta-judge .../mannwhitney/MannWhitney.scala,
// a port of R's wilcox.test(x, y, conf.int = TRUE, correct = TRUE)): the interval's ends are the roots of
// the normal-approximation statistic with tie and continuity corrections as a function of the shift.
//
// That statistic is a step function of the shift mu: between two consecutive pairwise differences x_i - y_j
// no new ties appear, U(mu) is the count C of pairs with x_i - y_j > mu and the variance has only the ties
// inside x and inside y. So each root is an order statistic of the differences (or the middle of a plateau
// where the statistic is exactly zero), found here by selection in O((n + m) log) without building the
// n x m differences: a judge over 240 points a side runs thousands of times per benchmark.

export interface MannWhitneyResult {
  n: number;
  m: number;
  /** U of x: pairs with x_i > y_j, ties counting one half (R's W) */
  u: number;
  /** normal approximation, tie- and continuity-corrected */
  z: number;
  /** two-sided p-value: exact when n, m < 50 without ties (R's rule), else from z */
  p: number;
  exact: boolean;
  /** shift estimate x - y as Kayenta takes it: the root of the statistic at z = 0 */
  estimate: number;
  /** Hodges-Lehmann estimator: the median of the n m differences x_i - y_j */
  hodgesLehmann: number;
  /** confidence interval of the shift x - y at `confidence` */
  lower: number;
  upper: number;
}

export function mannWhitney(x: readonly number[], y: readonly number[], confidence = 0.98): MannWhitneyResult {
  const n = x.length;
  const m = y.length;
  if (n === 0 || m === 0) throw new Error('mannWhitney: both samples need at least one value');
  const xs = Float64Array.from(x).sort();
  const ys = Float64Array.from(y).sort();
  const N = n * m;
  // Statistic and p-value at mu = 0.
  const u = N - countAtMost(xs, ys, 0) + 0.5 * (countAtMost(xs, ys, 0) - countBelow(xs, ys, 0));
  const sigma0 = sigma(n, m, tieSum(xs) + tieSum(ys) + crossTieCorrection(xs, ys));
  const dz = u - N / 2;
  const z = sigma0 > 0 ? (dz - 0.5 * Math.sign(dz)) / sigma0 : 0;
  const ties = hasTies(xs, ys);
  const exact = n < 50 && m < 50 && !ties;
  const p = exact ? exactP(u, n, m) : Math.min(1, 2 * Math.min(normalCdf(z), 1 - normalCdf(z)));
  const zq = normalQuantile(1 - (1 - confidence) / 2);
  const lo = Math.floor((N + 1) / 2);
  const hi = Math.ceil((N + 1) / 2);
  return {
    n,
    m,
    u,
    z,
    p,
    exact,
    estimate: root(xs, ys, 0),
    hodgesLehmann: (kthDiff(xs, ys, lo) + kthDiff(xs, ys, hi)) / 2,
    lower: root(xs, ys, zq),
    upper: root(xs, ys, -zq),
  };
}

/**
 * R's `wdiff(d, zq)` from wilcox.test, transcribed: the corrected statistic of (x - mu) against y, minus zq.
 * Exported for the tests, which check the fast roots against it.
 */
export function wilcoxonDiff(x: readonly number[], y: readonly number[], mu: number, zq: number): number {
  const n = x.length;
  const m = y.length;
  const all = [...x.map((v, i) => ({ v: v - mu, i })), ...y.map((v) => ({ v, i: -1 }))].sort((a, b) => a.v - b.v);
  let rankSumX = 0;
  let ties = 0;
  for (let a = 0; a < all.length;) {
    let b = a;
    while (b + 1 < all.length && (all[b + 1] as { v: number }).v === (all[a] as { v: number }).v) b++;
    const rank = (a + b + 2) / 2;
    for (let q = a; q <= b; q++) if ((all[q] as { i: number }).i >= 0) rankSumX += rank;
    const t = b - a + 1;
    ties += t * t * t - t;
    a = b + 1;
  }
  const dz = rankSumX - (n * (n + 1)) / 2 - (n * m) / 2;
  const s = sigma(n, m, ties);
  if (s === 0) throw new Error('cannot compute confidence interval when all observations are tied');
  return (dz - 0.5 * Math.sign(dz)) / s - zq;
}

function sigma(n: number, m: number, ties: number): number {
  return Math.sqrt(((n * m) / 12) * (n + m + 1 - ties / ((n + m) * (n + m - 1) || 1)));
}

/** Sum of t^3 - t over groups of equal values in a sorted array. */
function tieSum(s: Float64Array): number {
  let sum = 0;
  for (let a = 0; a < s.length;) {
    let b = a;
    while (b + 1 < s.length && s[b + 1] === s[a]) b++;
    const t = b - a + 1;
    sum += t * t * t - t;
    a = b + 1;
  }
  return sum;
}

/** The tie sum of x and y pooled, minus the tie sums of each alone (both sorted). */
function crossTieCorrection(xs: Float64Array, ys: Float64Array): number {
  let extra = 0;
  let i = 0;
  let j = 0;
  while (i < xs.length && j < ys.length) {
    const a = xs[i] as number;
    const b = ys[j] as number;
    if (a < b) i++;
    else if (b < a) j++;
    else {
      let tx = 0;
      let ty = 0;
      for (; i < xs.length && xs[i] === a; i++) tx++;
      for (; j < ys.length && ys[j] === a; j++) ty++;
      const t = tx + ty;
      extra += t * t * t - t - (tx * tx * tx - tx) - (ty * ty * ty - ty);
    }
  }
  return extra;
}

function hasTies(xs: Float64Array, ys: Float64Array): boolean {
  return tieSum(xs) + tieSum(ys) + crossTieCorrection(xs, ys) > 0;
}

/** #{(i, j): x_i - y_j <= v}, both sorted ascending: one pass, since the boundary index only moves right. */
function countAtMost(xs: Float64Array, ys: Float64Array, v: number): number {
  const m = ys.length;
  let j = 0;
  let c = 0;
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i] as number;
    while (j < m && xi - (ys[j] as number) > v) j++;
    c += m - j;
  }
  return c;
}

/** #{(i, j): x_i - y_j < v}. */
function countBelow(xs: Float64Array, ys: Float64Array, v: number): number {
  const m = ys.length;
  let j = 0;
  let c = 0;
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i] as number;
    while (j < m && xi - (ys[j] as number) >= v) j++;
    c += m - j;
  }
  return c;
}

/** The smallest difference x_i - y_j strictly above v (Infinity if none). */
function smallestDiffAbove(xs: Float64Array, ys: Float64Array, v: number): number {
  const m = ys.length;
  let j = 0;
  let best = Infinity;
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i] as number;
    while (j < m && xi - (ys[j] as number) > v) j++;
    if (j > 0) best = Math.min(best, xi - (ys[j - 1] as number));
  }
  return best;
}

/** The k-th smallest (1-based) of the n m differences x_i - y_j: bisection on the value, then exact snapping. */
export function kthDiff(xs: Float64Array, ys: Float64Array, k: number): number {
  let lo = (xs[0] as number) - (ys[ys.length - 1] as number);
  let hi = (xs[xs.length - 1] as number) - (ys[0] as number);
  if (k <= 1 || countAtMost(xs, ys, lo) >= k) return lo;
  if (k >= xs.length * ys.length) return hi;
  // Invariant: count(<= lo) < k <= count(<= hi).
  for (let it = 0; it < 60; it++) {
    const mid = lo + (hi - lo) / 2;
    if (!(mid > lo && mid < hi)) break;
    if (countAtMost(xs, ys, mid) >= k) hi = mid;
    else lo = mid;
  }
  // Few distinct differences remain in (lo, hi]: step through them.
  for (;;) {
    const v = smallestDiffAbove(xs, ys, lo);
    if (countAtMost(xs, ys, v) >= k) return v;
    lo = v;
  }
}

/**
 * The shift mu at which the corrected statistic equals zq, as R's `root(zq)` finds it: an end of the range
 * when the statistic does not change sign inside it, else the jump (an order statistic of the differences),
 * or the middle of the interval where it is exactly zero (where uniroot would stop somewhere inside).
 */
function root(xs: Float64Array, ys: Float64Array, zq: number): number {
  const n = xs.length;
  const m = ys.length;
  const N = n * m;
  const muMin = (xs[0] as number) - (ys[m - 1] as number);
  const muMax = (xs[n - 1] as number) - (ys[0] as number);
  const x = Array.from(xs);
  const y = Array.from(ys);
  if (zq !== 0) {
    if (wilcoxonDiff(x, y, muMin, zq) <= 0) return muMin;
    if (wilcoxonDiff(x, y, muMax, zq) >= 0) return muMax;
  }
  // Between differences the statistic is h(C) = (C - N/2 - sign(C - N/2)/2) / s - zq, non-decreasing in the
  // count C = #{x_i - y_j > mu}, which falls as mu grows.
  const s = sigma(n, m, tieSum(xs) + tieSum(ys));
  if (s === 0) return (muMin + muMax) / 2;
  const h = (c: number) => (c - N / 2 - 0.5 * Math.sign(c - N / 2)) / s - zq;
  let cPos = N + 1; // smallest C with h > 0
  let cNeg = -1; // largest C with h < 0
  for (let a = 0, b = N; a <= b;) {
    const c = (a + b) >> 1;
    if (h(c) > 0) {
      cPos = c;
      b = c - 1;
    } else a = c + 1;
  }
  for (let a = 0, b = N; a <= b;) {
    const c = (a + b) >> 1;
    if (h(c) < 0) {
      cNeg = c;
      a = c + 1;
    } else b = c - 1;
  }
  if (cPos > N) return muMin;
  if (cNeg < 0) return muMax;
  // C <= cPos - 1 from the (N - cPos + 1)-th smallest difference on; C >= cNeg + 1 below the (N - cNeg)-th.
  const a = kthDiff(xs, ys, N - cPos + 1);
  const b = kthDiff(xs, ys, N - cNeg);
  return a < b ? (a + b) / 2 : a;
}

/** Exact two-sided p of U as R's pwilcox gives it: counts of arrangements by dynamic programming. */
function exactP(u: number, n: number, m: number): number {
  // w[b] after processing a x's: counts of U for sizes (a, b), as polynomials in U.
  let prev: Float64Array[] = [];
  for (let b = 0; b <= m; b++) prev.push(Float64Array.of(1));
  for (let a = 1; a <= n; a++) {
    const cur: Float64Array[] = [Float64Array.of(1)];
    for (let b = 1; b <= m; b++) {
      const w = new Float64Array(a * b + 1);
      // The largest of the a + b values is an x (beating all b y's) or a y.
      const fromX = prev[b] as Float64Array;
      for (let k = 0; k < fromX.length; k++) w[k + b] = (w[k + b] as number) + (fromX[k] as number);
      const fromY = cur[b - 1] as Float64Array;
      for (let k = 0; k < fromY.length; k++) w[k] = (w[k] as number) + (fromY[k] as number);
      cur.push(w);
    }
    prev = cur;
  }
  const dist = prev[m] as Float64Array;
  let total = 0;
  for (const c of dist) total += c;
  let tail = 0;
  if (u > (n * m) / 2) for (let k = Math.ceil(u); k <= n * m; k++) tail += dist[k] as number;
  else for (let k = 0; k <= Math.floor(u); k++) tail += dist[k] as number;
  return Math.min(1, (2 * tail) / total);
}

/** Standard normal CDF via erfc (Numerical Recipes' erfcc, relative error below 1.2e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: ${p} outside (0, 1)`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  const pl = 0.02425;
  if (p < pl) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(c, q) / (poly(d, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}
