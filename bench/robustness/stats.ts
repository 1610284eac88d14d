// Clopper-Pearson intervals for false-alarm rates: exact binomial tails, by bisection on p.
import { logFactorial } from '../lib/random.js';

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** P(X <= x) for X ~ Binomial(n, p), summed in log space from the mode down (x is small here). */
export function binomialCdf(x: number, n: number, p: number): number {
  if (x < 0) return 0;
  if (x >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  let sum = 0;
  for (let k = 0; k <= x; k++) sum += Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log1p(-p));
  return Math.min(1, sum);
}

function bisect(f: (p: number) => number, target: number, increasing: boolean): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    const v = f(mid);
    if (v < target === increasing) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The exact (Clopper-Pearson) 95% interval for x successes in n trials. */
export function clopperPearson(x: number, n: number, level = 0.95): [number, number] {
  const a = (1 - level) / 2;
  const lower = x === 0 ? 0 : bisect((p) => 1 - binomialCdf(x - 1, n, p), a, true);
  const upper = x === n ? 1 : bisect((p) => binomialCdf(x, n, p), a, false);
  return [lower, upper];
}
