import { describe, expect, it } from 'vitest';
import { gammaP, gammaQuantile, garwood } from './gamma.js';

describe('incomplete gamma and Garwood intervals', () => {
  it('matches closed forms: P(1, x) = 1 - e^-x and P(2, x) = 1 - (1 + x) e^-x', () => {
    for (const x of [0.1, 1, 3, 10, 40]) {
      expect(gammaP(1, x)).toBeCloseTo(1 - Math.exp(-x), 10);
      expect(gammaP(2, x)).toBeCloseTo(1 - (1 + x) * Math.exp(-x), 10);
    }
  });

  it('gives the tabulated exact Poisson 95% limits', () => {
    // Garwood (1936) limits: x = 0: [0, 3.689]; x = 1: [0.0253, 5.572]; x = 10: [4.795, 18.39].
    expect(garwood(0).low).toBe(0);
    expect(garwood(0).high).toBeCloseTo(3.689, 3);
    expect(garwood(1).low).toBeCloseTo(0.0253, 4);
    expect(garwood(1).high).toBeCloseTo(5.572, 3);
    expect(garwood(10).low).toBeCloseTo(4.795, 3);
    expect(garwood(10).high).toBeCloseTo(18.39, 2);
  });

  it('inverts P', () => {
    for (const a of [0.5, 3, 50, 2000])
      for (const p of [0.025, 0.5, 0.975]) expect(gammaP(a, gammaQuantile(a, p))).toBeCloseTo(p, 8);
  });
});
