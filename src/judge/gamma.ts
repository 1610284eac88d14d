// The regularized incomplete gamma function and its inverse, for exact Poisson (Garwood) intervals:
// for a count x, the 95% interval of its mean is [Q(x, 0.025), Q(x + 1, 0.975)] with Q the quantile of a
// Gamma(shape, 1) (Numerical Recipes' series and continued fraction; bisection for the inverse).
import { gammaln } from 'simple-statistics';

/** P(a, x): the regularized lower incomplete gamma function, a > 0, x >= 0. */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lnPre = a * Math.log(x) - x - gammaln(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-14) break;
    }
    return Math.min(1, Math.exp(lnPre) * sum);
  }
  // Lentz's continued fraction for Q = 1 - P.
  let b = x + 1 - a;
  let c = 1e300;
  let d = 1 / b;
  let h = d;
  for (let n = 1; n < 500; n++) {
    const an = -n * (n - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) break;
  }
  return Math.max(0, 1 - Math.exp(lnPre) * h);
}

/** The p-quantile of a Gamma(a, 1) distribution. */
export function gammaQuantile(a: number, p: number): number {
  if (p <= 0) return 0;
  let lo = 0;
  let hi = Math.max(1, a);
  while (gammaP(a, hi) < p) hi *= 2;
  for (let n = 0; n < 100 && hi - lo > 1e-10 * Math.max(1, hi); n++) {
    const mid = (lo + hi) / 2;
    if (gammaP(a, mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The exact (Garwood) two-sided interval for a Poisson mean from a count x, at confidence 1 - a. */
export function garwood(x: number, a = 0.05): { low: number; high: number } {
  return { low: x > 0 ? gammaQuantile(x, a / 2) : 0, high: gammaQuantile(x + 1, 1 - a / 2) };
}
