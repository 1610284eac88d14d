import { describe, expect, it } from 'vitest';
import { gamma, mulberry32, normal, overdispersed } from '../../test/support/random.js';
import {
  addResidual,
  chi2Quantile,
  estimateDispersion,
  floorAt,
  measureFloor,
  measurePlaceboFloor,
  MIN_TERMS,
  newDispersion,
  type DispersionFloor,
} from './dispersion.js';

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

describe('dispersion floor measured before the deploy', () => {
  /** An hour of one version's history: `n` requests a tick, ratio p, white dispersion D, AR(1) wander sd. */
  function history(seed: number, o: { n: number; p: number; D: number; wander?: number; ticks?: number }) {
    const rng = mulberry32(seed);
    const num: number[] = [];
    const den: number[] = [];
    let u = 0;
    for (let t = 0; t < (o.ticks ?? 240); t++) {
      u = 0.9 * u + (o.wander ?? 0) * normal(rng);
      den.push(o.n);
      num.push(overdispersed(rng, o.n * o.p * Math.exp(u), o.D));
    }
    return { num, den };
  }

  it('bounds white over-dispersion from above on an hour of history', () => {
    for (const D of [1, 3, 5]) {
      let below = 0;
      for (let seed = 0; seed < 200; seed++) {
        const h = history(seed, { n: 2000, p: 0.01, D });
        const f = measureFloor(h.num, h.den);
        expect(f).not.toBeNull();
        if ((f as DispersionFloor).value < D) below++;
        expect((f as DispersionFloor).ticks).toBe(239);
      }
      expect(below / 200).toBeLessThan(0.2);
    }
  });

  it('sees wander on the longer blocks, and carries it to the two-arm share at twice one version, per count', () => {
    const h = history(3, { n: 20000, p: 0.1, D: 1, wander: 0.03 });
    const f = measureFloor(h.num, h.den) as DispersionFloor;
    expect(f.block).toBeGreaterThan(1);
    expect(f.value).toBeGreaterThan(5);
    // at the history's own scale (a two-arm tick has at most a quarter of its variance) the floor is D_h
    expect(floorAt(f, f.variancePerTick / 4)).toBeCloseTo(f.value, 6);
    // a tick with three times the history's variance (a traffic push): wander grows with the count
    expect(floorAt(f, 3 * f.variancePerTick)).toBeCloseTo(1 + 6 * (f.value - 1), 6);
  });

  it('is null where there is too little history (the caller keeps its assumption and says so)', () => {
    const h = history(1, { n: 100, p: 0.01, D: 1, ticks: 6 });
    expect(measureFloor(h.num, h.den)).toBeNull();
    expect(measureFloor([NaN, NaN, 1], [10, NaN, 10])).toBeNull();
  });

  it('a placebo split of one version measures its own over-dispersion, not the shared bursts that cancel', () => {
    // 3x Poisson per half, shared gamma bursts (shape 20, cv 0.22) at 1,500 events a tick: one series'
    // spread would be about 3 + 1500 / 20 = 78 times Poisson; the two halves' split is 3 times binomial
    const rng = mulberry32(41);
    const a: number[] = [];
    const b: number[] = [];
    for (let t = 0; t < 240; t++) {
      const mu = 1500 * (gamma(rng, 20) / 20);
      a.push(overdispersed(rng, 0.45 * mu, 3));
      b.push(overdispersed(rng, 0.55 * mu, 3));
    }
    const f = measurePlaceboFloor(a, b, [2, 3]) as DispersionFloor;
    expect(f.method).toBe('placebo');
    expect(f.arms).toEqual([2, 3]);
    expect(f.value).toBeGreaterThan(2.6);
    expect(f.value).toBeLessThan(5);
    // a placebo already moves by two halves' wander: at the history's own scale the floor is D_h
    expect(floorAt(f, f.variancePerTick)).toBeCloseTo(Math.max(...f.blocks.map((x) => x.value)), 6);
  });
});
