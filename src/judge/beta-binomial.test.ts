// The beta-binomial likelihood of two-arm.ts: exact where it matters, and valid for every less dispersed
// truth (drops) or every truth up to its worst case (large rises, universal inference).
import { describe, expect, it } from 'vitest';
import { gammaln } from 'simple-statistics';
import { betaBinomialLogLR, betaBinomialLogPmf, lnRising, rhoFor, supLogPmfOverRho } from './beta-binomial.js';

const lnC = (n: number, x: number) => gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1);
const pmf = (x: number, n: number, t: number, rho: number) => Math.exp(lnC(n, x) + betaBinomialLogPmf(x, n, t, rho));
const share = (w: number, r: number) => (w * r) / (w * r + 1 - w);

describe('beta-binomial likelihood', () => {
  it('lnRising agrees with ln Gamma differences, also where a is huge', () => {
    for (const a of [0.01, 0.5, 3, 9.9, 10, 55.5, 1e3, 1e6])
      for (const x of [0, 1, 2, 7, 16, 17.5, 300]) {
        const direct = gammaln(a + x) - gammaln(a);
        expect(Math.abs(lnRising(a, x) - direct)).toBeLessThan(1e-6 * (1 + Math.abs(direct)));
      }
    // a = 1e9: ln Gamma differences lose digits, the series does not: ln Gamma(a + 1) - ln Gamma(a) = ln a
    expect(lnRising(1e9, 1)).toBeCloseTo(Math.log(1e9), 9);
  });

  it('sums to one, and is the binomial at rho = 0', () => {
    for (const [n, t, rho] of [
      [20, 0.1, 0.05],
      [7, 0.5, 0.6],
      [150, 0.08, 0.01],
    ] as const) {
      let sum = 0;
      for (let x = 0; x <= n; x++) sum += pmf(x, n, t, rho);
      expect(sum).toBeCloseTo(1, 9);
    }
    expect(pmf(3, 10, 0.2, 0)).toBeCloseTo(Math.exp(lnC(10, 3) + 3 * Math.log(0.2) + 7 * Math.log(0.8)), 12);
  });

  it('a drop likelihood ratio at D has expectation at most 1 under every less dispersed count (convex order)', () => {
    let worst = 0;
    for (const n of [1, 2, 3, 5, 8, 15, 30, 60, 150, 400])
      for (const w of [0.05, 0.1, 0.25, 0.5])
        for (const d of [1.2, 1.5, 2, 3, 5, 10])
          for (const r of [0.01, 0.04, 0.1, 0.3, 0.5, 0.75, 0.9, 0.95])
            for (const dt of [1, 1.5, 2, 3, 5, 10]) {
              if (dt > d) continue;
              const t0 = share(w, 0.99);
              const tk = share(w, 0.99 * r);
              let e = 0;
              for (let x = 0; x <= n; x++)
                e += pmf(x, n, t0, rhoFor(n, dt)) * Math.exp(betaBinomialLogLR(x, n, t0, tk, rhoFor(n, d)));
              worst = Math.max(worst, e);
            }
    expect(worst).toBeLessThan(1 + 1e-9);
    expect(worst).toBeGreaterThan(0.999); // reached where the truth is the stated D
  });

  it('a large-rise factor against the worst dispersion up to 5x has expectation at most 1 under every such truth', () => {
    let worst = 0;
    for (const n of [1, 2, 3, 5, 8, 15, 30, 60, 150])
      for (const w of [0.05, 0.1, 0.5])
        for (const r of [2, 5, 30])
          for (const dt of [1, 1.5, 3, 5]) {
            const t0 = share(w, 1.01);
            const tk = share(w, 1.01 * r);
            let e = 0;
            for (let x = 0; x <= n; x++)
              e +=
                pmf(x, n, t0, rhoFor(n, dt)) *
                Math.exp(
                  Math.min(5, betaBinomialLogPmf(x, n, tk, rhoFor(n, 1.5)) - supLogPmfOverRho(x, n, t0, rhoFor(n, 5))),
                );
            worst = Math.max(worst, e);
          }
    expect(worst).toBeLessThanOrEqual(1 + 1e-9);
  });

  it('gives a tick with no canary events far more evidence than the quasi-likelihood at the same D', () => {
    // 135 events in the tick, a 10% canary that collapsed: the null expects about 13 canary events
    const t0 = share(0.1, 0.99);
    const tk = share(0.1, 0.0099);
    for (const d of [1.5, 3, 5]) {
      const bb = betaBinomialLogLR(0, 135, t0, tk, rhoFor(135, d));
      const quasi = (135 * Math.log((1 - tk) / (1 - t0))) / d;
      expect(bb).toBeGreaterThan(1.15 * quasi);
      // about mu ln(D) / (D - 1) for mu = 135 t0 null events (the negative-binomial zero)
      expect(bb).toBeCloseTo((135 * t0 * Math.log(d)) / (d - 1), -0.5);
    }
  });
});
