import { describe, expect, it } from 'vitest';
import { mulberry32, normal, overdispersed } from '../../test/support/random.js';
import { addResidual, chi2Quantile, estimateDispersion, MIN_TERMS, newDispersion } from './dispersion.js';

/** Residuals of a count with variance D x `v` each tick, optionally AR(1)-correlated with coefficient phi. */
function feed(seed: number, o: { D: number; v: number; ticks: number; phi?: number }) {
  const rng = mulberry32(seed);
  const s = newDispersion();
  let ar = 0;
  const phi = o.phi ?? 0;
  for (let t = 0; t < o.ticks; t++) {
    ar = phi * ar + Math.sqrt(1 - phi * phi) * normal(rng);
    addResidual(s, ar * Math.sqrt(o.D * o.v), o.v);
  }
  return s;
}

describe('dispersion upper bound', () => {
  it('uses the stated assumption until enough ticks are in, then an upper bound', () => {
    const s = feed(1, { D: 1, v: 50, ticks: MIN_TERMS - 1 });
    expect(estimateDispersion(s, 2).basis).toBe('assumed');
    expect(estimateDispersion(s, 2).value).toBeGreaterThanOrEqual(2);
    addResidual(s, 0, 50);
    expect(estimateDispersion(s, 2).basis).toBe('upper-bound');
  });

  it('is at or above the true dispersion in most watches (no optimistic shrinkage)', () => {
    for (const D of [1, 3, 5]) {
      let below = 0;
      const ratios: number[] = [];
      for (let seed = 0; seed < 400; seed++) {
        const d = estimateDispersion(feed(seed, { D, v: 30, ticks: 40 }), 2).value;
        if (d < D) below++;
        ratios.push(d / D);
      }
      // at least a 75% upper bound: a point estimate would be below half the time
      expect(below / 400).toBeLessThan(0.25);
      ratios.sort((a, b) => a - b);
      expect(ratios[200]).toBeLessThan(2); // and not absurdly conservative: the median within twice the truth
    }
  });

  it('sees autocorrelated drift as long-run variance (block sums), not as plain noise', () => {
    let white = 0;
    let drift = 0;
    for (let seed = 0; seed < 200; seed++) {
      white += estimateDispersion(feed(seed, { D: 2, v: 30, ticks: 120 }), 2).value;
      drift += estimateDispersion(feed(seed, { D: 2, v: 30, ticks: 120, phi: 0.8 }), 2).value;
    }
    // AR(1) at 0.8 has long-run variance (1 + 0.8) / (1 - 0.8) = 9 times its per-tick variance
    expect(drift / white).toBeGreaterThan(2);
  });

  it('pools ticks with a fraction of an event expected instead of flooring their variance at 1', () => {
    const rng = mulberry32(7);
    const s = newDispersion();
    // 0.2 expected per tick: each tick alone would be a wild term; pooled 25 at a time they are honest
    for (let t = 0; t < 2000; t++) addResidual(s, overdispersed(rng, 0.2, 1) - 0.2, 0.2);
    const d = estimateDispersion(s, 2);
    expect(d.terms).toBeLessThan(150);
    expect(d.point).toBeGreaterThan(0.6);
    expect(d.point).toBeLessThan(1.6);
  });

  it('lets one surprising tick raise a rise test at once, before the dispersion is measured', () => {
    const s = newDispersion();
    addResidual(s, 12, 1); // a clump of retried errors: 12 standard deviations
    expect(estimateDispersion(s, 2, 'upper-bound').value).toBeGreaterThan(100);
    expect(estimateDispersion(s, 2, 'point').value).toBeGreaterThan(100);
  });

  it('has chi-square quantiles that match the tables', () => {
    expect(chi2Quantile(10, -1.2815515655446004)).toBeCloseTo(4.865, 1);
    expect(chi2Quantile(30)).toBeCloseTo(24.48, 0);
    expect(chi2Quantile(3, -1.2815515655446004)).toBeCloseTo(0.5844, 3);
  });
});
