import { describe, expect, it } from 'vitest';
import { gamma, mulberry32, poisson } from '../../test/support/random.js';
import { collapseP } from './collapse.js';
import { nbLowerTail, nbPredictiveLowerTail } from './nb-predictive.js';

describe('negative-binomial lower tail', () => {
  it('is the geometric law at shape 1 and tends to the Poisson law at a large shape', () => {
    // shape 1, mean mu: P(X <= x) = 1 - (mu / (1 + mu))^(x + 1)
    for (const [x, mu] of [
      [0, 4],
      [3, 4],
      [10, 50],
    ] as const)
      expect(nbLowerTail(x, mu, 1)).toBeCloseTo(1 - (mu / (1 + mu)) ** (x + 1), 12);
    let poissonCdf = 0;
    let term = Math.exp(-20);
    for (let k = 0; k <= 5; k++) {
      poissonCdf += term;
      term *= 20 / (k + 1);
    }
    expect(nbLowerTail(5, 20, 1e7) / poissonCdf).toBeCloseTo(1, 4);
    // far in the tail, where the first term underflows a plain sum (2.5e-4 ** 2 * ...): summed in logs
    expect(nbLowerTail(3, 5000, 0.5)).toBeGreaterThan(0);
    expect(nbLowerTail(3, 1e9, 40)).toBeGreaterThan(0);
    expect(nbLowerTail(3, 1e9, 40)).toBeLessThan(1e-250);
  });
});

describe('posterior-predictive tail of a collapse', () => {
  const nbDraws = (seed: number, n: number, mu: number, shape: number) => {
    const rng = mulberry32(seed);
    return Array.from({ length: n }, () => poisson(rng, (mu * gamma(rng, shape)) / shape));
  };

  it('is heavier with fewer windows from the same law: a short history cannot rule burstiness out', () => {
    const many = nbDraws(3, 400, 40, 20);
    const few = many.slice(0, 12);
    expect(nbPredictiveLowerTail(0, few).p).toBeGreaterThan(nbPredictiveLowerTail(0, many).p * 10);
    // half the weight (overlapping windows) is less evidence than the same windows counted whole
    const half = few.map(() => 0.5);
    expect(nbPredictiveLowerTail(0, few, half).p).toBeGreaterThan(nbPredictiveLowerTail(0, few).p);
  });

  it('still pages a zero where weeks of steady windows held 18', () => {
    const windows = nbDraws(4, 300, 18, 40);
    expect(nbPredictiveLowerTail(0, windows).p).toBeLessThan(Math.exp(-12));
  });

  it('keeps its rate on a bursty series in warm-up (24 windows of gamma shape 3), where a plug-in tail did not', () => {
    // The day-0 case of a `watch: always` signal: two hours of windows, then one more tick from the same
    // law. A page needs the collapse rule (at most a tenth of the lowest window) and p <= alpha; over all
    // draws that must happen at most alpha of the time. The power-law tail fitted to the two lowest
    // windows (the first release) did so at twice alpha here (2.0e-4 in 200,000 draws at alpha 1e-4).
    const rng = mulberry32(11);
    const alpha = 1e-4;
    const reps = 100_000;
    const draw = () => poisson(rng, (40 * gamma(rng, 3)) / 3);
    let pages = 0;
    for (let r = 0; r < reps; r++) {
      const totals = Array.from({ length: 24 }, draw);
      const x = draw();
      if (x > 0.1 * Math.min(...totals)) continue;
      if (collapseP(x, { totals, scale: 1 }).p <= alpha) pages++;
    }
    expect(pages / reps).toBeLessThanOrEqual(alpha);
  });
});
