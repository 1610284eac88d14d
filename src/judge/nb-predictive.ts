// The posterior-predictive lower tail of a count under a negative-binomial (gamma-mixed Poisson) model whose
// mean AND burst shape are unknown: the collapse test's extrapolation below what history shows.
//
// Why not a point estimate: n comparable windows can show a tail down to about 1 / (n + 1); a p-value of
// e^-12 needs the tail's shape, and the shape is what few windows know least. A plug-in shape (the
// moment estimate, or a power law fitted to the two lowest windows) is optimistic exactly when history is
// short: a bursty series (gamma shape 3 per tick) whose first two hours happen to be tight gets a steep
// tail and pages its first quiet tick (bench/always's warm-up row, 2,000 series-days at shape 3: 17
// collapse pages with the plug-in tail, 3 with this one). Integrating over the posterior of (mean, shape) given the
// windows puts the weight a small sample cannot exclude on bursty shapes, so the tail stays heavy until
// the data rule them out; with weeks of windows the posterior is narrow and the tail is the fitted one.
//
// Model: each window total h_j ~ NB(mean mu, shape r) (Poisson with a Gamma(r, r / mu) rate), windows
// independent at weight w_j (overlapping windows share ticks: a window that shares most of its ticks with
// its neighbour adds only its new ticks' worth of evidence, see comparableTotals). Prior: uniform in
// ln mu and ln r (scale-free; r over [R_MIN, R_MAX]). The predictive P(X <= x | windows) is the posterior
// mean of the NB distribution function at x, on a grid (ln r: 41 points; ln mu: 17 points around the mean,
// spaced by its posterior spread at that r). Pure and I/O-free.
import { gammaln } from 'simple-statistics';

const R_MIN = 0.25;
const R_MAX = 5000;
const R_POINTS = 41;
const MU_Z = [-4, -3.5, -3, -2.5, -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4];

/** P(X <= x) for X ~ NB(mean mu, shape r), summed from zero in logs (x is small where this is asked). */
export function nbLowerTail(x: number, mu: number, r: number): number {
  if (!(mu > 0)) return 1;
  const top = Math.floor(x);
  if (top < 0) return 0;
  const lq = Math.log(mu / (r + mu)); // P(k + 1) / P(k) = (k + r) / (k + 1) * mu / (r + mu)
  let logTerm = r * Math.log(r / (r + mu));
  let logSum = logTerm;
  for (let k = 0; k < top; k++) {
    logTerm += Math.log((k + r) / (k + 1)) + lq;
    logSum = Math.max(logSum, logTerm) + Math.log1p(Math.exp(-Math.abs(logSum - logTerm)));
  }
  return Math.min(1, Math.exp(logSum));
}

export interface PredictiveTail {
  /** P(X <= x) under the posterior predictive */
  p: number;
  /** the posterior mean of the shape r (what the windows say about burstiness) */
  shape: number;
  /** the windows' total weight (their number counted independently) */
  weight: number;
}

/**
 * The posterior-predictive P(X <= x) of a new window like `totals` (weights `weights`, 1 each when
 * omitted). Returns p = 1 when the windows' mean is not positive (history shows nothing here).
 */
export function nbPredictiveLowerTail(
  x: number,
  totals: readonly number[],
  weights?: readonly number[],
): PredictiveTail {
  let W = 0;
  let S = 0;
  for (let j = 0; j < totals.length; j++) {
    const w = weights?.[j] ?? 1;
    W += w;
    S += w * (totals[j] as number);
  }
  const m = W > 0 ? S / W : 0;
  if (!(m > 0) || !(W > 0)) return { p: 1, shape: NaN, weight: W };
  const logs: number[] = [];
  const tails: number[] = [];
  const shapes: number[] = [];
  for (let a = 0; a < R_POINTS; a++) {
    const r = R_MIN * (R_MAX / R_MIN) ** (a / (R_POINTS - 1));
    let lg = 0;
    for (let j = 0; j < totals.length; j++) lg += (weights?.[j] ?? 1) * gammaln((totals[j] as number) + r);
    lg -= W * gammaln(r);
    // The posterior spread of ln mu at this shape (the NB's variance mu + mu^2 / r over W windows).
    const sd = Math.sqrt((1 / m + 1 / r) / W);
    for (const z of MU_Z) {
      const mu = m * Math.exp(z * sd);
      const ll = lg + W * r * Math.log(r / (r + mu)) + S * Math.log(mu / (r + mu));
      // uniform prior in ln mu: the grid's spacing in ln mu (0.5 sd) is the quadrature weight
      logs.push(ll + Math.log(0.5 * sd));
      tails.push(nbLowerTail(x, mu, r));
      shapes.push(r);
    }
  }
  let top = -Infinity;
  for (const l of logs) if (l > top) top = l;
  let norm = 0;
  let p = 0;
  let shape = 0;
  for (let g = 0; g < logs.length; g++) {
    const w = Math.exp((logs[g] as number) - top);
    norm += w;
    p += w * (tails[g] as number);
    shape += w * (shapes[g] as number);
  }
  return { p: Math.min(1, p / norm), shape: shape / norm, weight: W };
}
