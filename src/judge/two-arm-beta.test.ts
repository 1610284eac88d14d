// The grid mixture against the beta-binomial mixture of Lindon & Malek (statistics.md) on data with one
// constant traffic share, where the closed form applies: both reject a collapse and a 20% drop, and neither
// rejects a good canary (the beta mixture is two-sided; the grid looks at the bad side only).
import { gammaln } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { mulberry32, overdispersed } from '../../test/support/random.js';
import { newTwoArm, summarizeTwoArm, updateTwoArm } from './two-arm.js';

const lnBeta = (a: number, b: number) => gammaln(a) + gammaln(b) - gammaln(a + b);

/** ln BF = ln B(k rho_A + N_A, k rho_B + N_B) - ln B(k rho_A, k rho_B) - N_A ln rho_A - N_B ln rho_B (B: canary). */
function betaBinomialLogBF(baseline: number, canary: number, w: number, k = 100): number {
  const ra = 1 - w;
  const rb = w;
  return (
    lnBeta(k * ra + baseline, k * rb + canary) -
    lnBeta(k * ra, k * rb) -
    baseline * Math.log(ra) -
    canary * Math.log(rb)
  );
}

function run(seed: number, drop: number, ticks: number) {
  const rng = mulberry32(seed);
  const s = newTwoArm('drop', 0.0001, 1);
  let a = 0;
  let b = 0;
  for (let t = 0; t < ticks; t++) {
    const c = overdispersed(rng, 10 * (1 - drop), 1);
    const base = overdispersed(rng, 90, 1);
    updateTwoArm(s, c, base, 0.1);
    a += base;
    b += c;
  }
  return { grid: summarizeTwoArm(s).logE, beta: betaBinomialLogBF(a, b, 0.1) };
}

describe('grid mixture and beta-binomial mixture', () => {
  it('agree on what is a regression', () => {
    const threshold = Math.log(1000);
    const collapse = run(1, 0.99, 3);
    expect(collapse.grid).toBeGreaterThan(threshold);
    expect(collapse.beta).toBeGreaterThan(threshold);
    const drop = run(2, 0.2, 120);
    expect(drop.grid).toBeGreaterThan(threshold);
    expect(drop.beta).toBeGreaterThan(threshold);
    for (let seed = 10; seed < 20; seed++) {
      const good = run(seed, 0, 120);
      expect(good.grid).toBeLessThan(threshold);
      expect(good.beta).toBeLessThan(threshold);
    }
  });
});
