// The beta-binomial likelihood of a tick's canary events given the tick's total, at a stated dispersion.
// Why not the quasi-likelihood (the binomial log-likelihood ratio divided by D) alone: the two agree where
// a tick's count is near its expectation (small effects), but in the tails, where a collapse or a clump
// lands, quasi-likelihood is far too pessimistic for a drop: the chance of no canary event at all where mu
// were due is (1 + mu / c)^-(theta c) under over-dispersed counts, about D^(-mu / (D - 1)), so a tick
// with no canary events carries mu ln(D) / (D - 1) nats against the null, not mu / D (0.40 mu against
// 0.20 mu at D = 5, 0.69 mu against 0.50 mu at D = 2). That is what lets a collapse at one canary event a
// second be decided at the second tick while D is stated conservatively (no history) or bounded from above.
// It is also the exact law of the canary's share when both versions' counts are negative binomial with
// variance D times their means (gamma-Poisson with a common scale D - 1: the share is Beta-distributed,
// the split of the total beta-binomial), the simulator's and the quasi-likelihood's own model.
//
// The variance is matched to the D the test divides by: BB(n, theta c, (1 - theta) c) has variance
// n theta (1 - theta) (1 + (n - 1) rho), rho = 1 / (1 + c), so rho = (D - 1) / (n - 1). With D at or above
// n (a tick of a handful of events under a large D), rho is capped just below 1: the law is then nearly
// all-or-nothing, far wider than any count, and the tick carries almost no evidence (conservative).
// Validity when the true dispersion is below the stated D: as a function of the canary count x, the
// likelihood ratio is convex in the range that carries probability, and a less dispersed law with the
// same mean is smaller in convex order (binomial <=cx BB(rho) <=cx BB(rho') for rho <= rho'), so its
// expectation stays at most 1; beta-binomial.test.ts checks it numerically over a grid.
import { gammaln } from 'simple-statistics';

/** Stirling's series for ln Gamma(z) minus its leading part, z >= 10 (error below 1e-10). */
function stirlingTail(z: number): number {
  const z2 = z * z;
  return 1 / (12 * z) - 1 / (360 * z * z2) + 1 / (1260 * z * z2 * z2);
}

/**
 * ln Gamma(a + x) - ln Gamma(a), a > 0, x >= 0, accurate also where a is huge and x small (no
 * cancellation of two large ln Gamma values): for a >= 10 by Stirling's series written with log1p.
 */
export function lnRising(a: number, x: number): number {
  if (x === 0) return 0;
  if (a < 10) {
    // small a: shift up by whole steps (Gamma(z + 1) = z Gamma(z)) for x a small integer, else direct
    if (Number.isInteger(x) && x <= 16) {
      let s = 0;
      for (let i = 0; i < x; i++) s += Math.log(a + i);
      return s;
    }
    return gammaln(a + x) - gammaln(a);
  }
  const z = a + x;
  return (a - 0.5) * Math.log1p(x / a) + x * Math.log(z) - x + stirlingTail(z) - stirlingTail(a);
}

/** The largest intra-tick correlation used: rho near 1 is an all-or-nothing law (see above). */
const RHO_MAX = 1 - 1e-6;
/** Below this rho the beta-binomial is the binomial to double precision for the counts seen here. */
const RHO_MIN = 1e-12;

/** rho for a tick of `n` events whose variance is `d` times the binomial's. */
export function rhoFor(n: number, d: number): number {
  if (!(d > 1) || !(n > 1)) return 0;
  return Math.min(RHO_MAX, (d - 1) / (n - 1));
}

/**
 * ln of the beta-binomial likelihood ratio of share `tk` against `t0` for `x` canary events out of `n`,
 * both at intra-tick correlation `rho` (rhoFor). The binomial coefficient and ln B(c, n) cancel.
 */
export function betaBinomialLogLR(x: number, n: number, t0: number, tk: number, rho: number): number {
  const y = n - x;
  if (rho < RHO_MIN) return x * Math.log(tk / t0) + y * Math.log((1 - tk) / (1 - t0));
  const c = 1 / rho - 1;
  return lnRising(tk * c, x) + lnRising((1 - tk) * c, y) - lnRising(t0 * c, x) - lnRising((1 - t0) * c, y);
}

/** ln of the beta-binomial probability of x of n at share t and correlation rho, without ln C(n, x). */
export function betaBinomialLogPmf(x: number, n: number, t: number, rho: number): number {
  const y = n - x;
  if (rho < RHO_MIN) return (x > 0 ? x * Math.log(t) : 0) + (y > 0 ? y * Math.log(1 - t) : 0);
  const c = 1 / rho - 1;
  return lnRising(t * c, x) + lnRising((1 - t) * c, y) - lnRising(c, n);
}

/**
 * sup over rho in [0, rhoMax] of the beta-binomial log-probability of x of n at share t: the denominator of
 * a universal-inference likelihood ratio (Wasserman, Ramdas and Balakrishnan 2020) that is valid for every
 * dispersion up to rhoMax at once. A grid in ln rho, then golden-section refinement around its best point
 * (the log-likelihood in rho is unimodal; the grid alone could only understate the sup, which would
 * overstate the evidence).
 */
export function supLogPmfOverRho(x: number, n: number, t: number, rhoMax: number): number {
  let best = betaBinomialLogPmf(x, n, t, 0);
  if (!(rhoMax > RHO_MIN)) return best;
  const points = 10;
  const lo = Math.log(Math.max(RHO_MIN * 10, rhoMax * 1e-4));
  const hi = Math.log(rhoMax);
  let bestI = -1;
  const at = (i: number) => Math.exp(lo + ((hi - lo) * i) / (points - 1));
  for (let i = 0; i < points; i++) {
    const v = betaBinomialLogPmf(x, n, t, at(i));
    if (v > best) {
      best = v;
      bestI = i;
    }
  }
  if (bestI < 0) return best; // the binomial end: the likelihood falls with rho from there
  let a = Math.log(at(Math.max(0, bestI - 1)));
  let b = Math.log(at(Math.min(points - 1, bestI + 1)));
  const g = (Math.sqrt(5) - 1) / 2;
  let c1 = b - g * (b - a);
  let c2 = a + g * (b - a);
  let f1 = betaBinomialLogPmf(x, n, t, Math.exp(c1));
  let f2 = betaBinomialLogPmf(x, n, t, Math.exp(c2));
  for (let k = 0; k < 14; k++) {
    if (f1 > f2) {
      b = c2;
      c2 = c1;
      f2 = f1;
      c1 = b - g * (b - a);
      f1 = betaBinomialLogPmf(x, n, t, Math.exp(c1));
    } else {
      a = c1;
      c1 = c2;
      f1 = f2;
      c2 = a + g * (b - a);
      f2 = betaBinomialLogPmf(x, n, t, Math.exp(c2));
    }
  }
  return Math.max(best, f1, f2);
}
