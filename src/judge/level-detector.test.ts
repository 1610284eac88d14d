import { describe, expect, it } from 'vitest';
import { gamma, mulberry32, normal, poisson } from '../../test/support/random.js';
import {
  checkAges,
  levelGrid,
  levelPrior,
  newLevelDetector,
  resetLevelDetector,
  setLevelLaws,
  updateLevelDetector,
  windowLogE,
  type LevelPrior,
} from './level-detector.js';
import { fitShape } from './nb-shape.js';

/** A prior whose gamma law has log-spread `sd` around 1 and no empirical points (the gamma part alone). */
function gammaOnly(sd: number): LevelPrior {
  const alpha = 1 / (sd * sd);
  return { alpha, beta: alpha, points: [], center: 0, spread: sd, rawSpread: sd, origins: 0 };
}

/** A gamma-Poisson (negative-binomial) count of mean m and shape k (Infinity: Poisson). */
const nb = (rng: () => number, m: number, k: number) => poisson(rng, Number.isFinite(k) ? (m * gamma(rng, k)) / k : m);

describe('level-marginal e-detector (negative-binomial ticks, level error on a grid)', () => {
  it('never reaches 1/a with probability above a when the level error is drawn from its law (Ville)', () => {
    // The null model itself: L ~ Gamma(alpha, alpha), x_t ~ NB(L r0 f, k). One onset, checked at every
    // tick for 24 ticks: P(sup ln E >= ln 20) <= 1/20, for a bursty and a steady series.
    for (const k of [3, 20]) {
      const rng = mulberry32(11 + k);
      const p = gammaOnly(0.08);
      const r0 = 0.95;
      const runs = 2000;
      let crossed = 0;
      for (let run = 0; run < runs; run++) {
        const d = newLevelDetector('drop', 24);
        setLevelLaws(d, p, { d0: 1, shape: k }, r0);
        const L = gamma(rng, p.alpha) / p.alpha;
        let hit = false;
        for (let t = 1; t <= 24 && !hit; t++) {
          updateLevelDetector(d, nb(rng, L * r0 * 300, k), 300);
          if (windowLogE(d, t) >= Math.log(20)) hit = true;
        }
        if (hit) crossed++;
      }
      expect(crossed / runs).toBeLessThanOrEqual(0.05);
      // and it is not vacuous: the bound is approached, not met with room to spare by a dead statistic
      expect(crossed).toBeGreaterThan(0);
    }
  });

  it('counts the level error once: a window running 7% low at huge counts is not a regression', () => {
    // With a level-error spread of 5%, 7% low is 1.4 sd: ordinary. A per-tick test would see
    // 100,000-event ticks 7% low as overwhelming evidence within a tick.
    const d = newLevelDetector('drop', 24);
    setLevelLaws(d, gammaOnly(0.05), { d0: 1, shape: Infinity }, 1);
    let max = -Infinity;
    for (let t = 0; t < 24; t++) max = Math.max(max, updateLevelDetector(d, 93_000, 100_000));
    expect(max).toBeLessThan(Math.log(100));
    // The same window 40% low is far outside the level law: found at its first tick.
    const e = newLevelDetector('drop', 24);
    setLevelLaws(e, gammaOnly(0.05), { d0: 1, shape: Infinity }, 1);
    expect(updateLevelDetector(e, 60_000, 100_000)).toBeGreaterThan(20);
  });

  it('finds a 50% drop on a bursty series (gamma shape 20 per tick) within the hour at a 90-day rate', () => {
    const rng = mulberry32(5);
    const lnA = Math.log(2 * 25_920); // 90 days of 5-minute ticks, half the budget
    const delays: number[] = [];
    for (let k = 0; k < 40; k++) {
      const d = newLevelDetector('drop', 24);
      setLevelLaws(d, gammaOnly(0.05), { d0: 1, shape: 20 }, 0.95);
      let at = -1;
      for (let t = 0; t < 12 && at < 0; t++) if (updateLevelDetector(d, nb(rng, 150, 20), 300) >= lnA) at = t + 1;
      delays.push(at < 0 ? Infinity : at);
    }
    delays.sort((a, b) => a - b);
    // Every run within the hour, most within half of it.
    expect(delays[delays.length - 1]).toBeLessThanOrEqual(12);
    expect(delays[Math.floor(delays.length / 2)]).toBeLessThanOrEqual(6);
  });

  it('a gamma burst law gives more evidence than a quasi-Poisson law with the same variance would', () => {
    // The same 50% window judged with the true shape and with shape Infinity on the quasi-Poisson scale
    // d0 = 1 + m / k (same variance at that mean): the shaped law finds it sooner.
    const rng = mulberry32(6);
    let shaped = 0;
    let quasi = 0;
    for (let run = 0; run < 200; run++) {
      const a = newLevelDetector('drop', 24);
      const b = newLevelDetector('drop', 24);
      setLevelLaws(a, gammaOnly(0.05), { d0: 1, shape: 20 }, 0.95);
      setLevelLaws(b, gammaOnly(0.05), { d0: 1 + 300 / 20, shape: Infinity }, 0.95);
      for (let t = 0; t < 4; t++) {
        const x = nb(rng, 150, 20);
        updateLevelDetector(a, x, 300);
        updateLevelDetector(b, x, 300);
      }
      shaped += windowLogE(a, 4);
      quasi += windowLogE(b, 4);
    }
    expect(shaped / 200).toBeGreaterThan((quasi / 200) * 1.1);
  });

  it('a grid whose null weights are the level law and whose alternative lies beyond the tolerated change', () => {
    const p = gammaOnly(0.06);
    const g = levelGrid({ ...p, points: [0.7, 0.95, 1, 1.05, 1.3] }, 'drop', 0.95);
    const sum = (a: Float64Array) => a.reduce((s, x) => s + x, 0);
    expect(sum(g.wNull)).toBeCloseTo(1, 9);
    expect(sum(g.wAlt)).toBeCloseTo(1, 9);
    // the null's mean level: half the gamma law (mean 1) and half the points (mean 1)
    let mean = 0;
    g.wNull.forEach((w, j) => (mean += (w * (g.c[j] as number)) / 0.95));
    expect(mean).toBeCloseTo(1, 2);
    // the lowest empirical point (0.7) carries its weight: mass below 0.8 x r0
    let low = 0;
    g.wNull.forEach((w, j) => (low += (g.c[j] as number) < 0.8 * 0.95 ? w : 0));
    expect(low).toBeGreaterThan(0.09);
    // the alternative: from 8% to 92% of the typical level, nothing above
    g.wAlt.forEach((w, j) => {
      if (w > 0) expect(g.c[j]).toBeLessThan(0.95 * 0.93);
    });
    expect(Math.min(...Array.from(g.c))).toBeLessThan(0.95 * 0.085);
  });

  it('deconvolves the per-tick noise out of the replayed level errors, keeping a floor', () => {
    const rng = mulberry32(3);
    // errors = level (sd 0.04) + noise (sd 0.04): the level law should come out near 0.04, not 0.057
    const errors = Array.from({ length: 400 }, () => Math.exp(0.04 * normal(rng) + 0.04 * normal(rng)) - 1);
    const p = levelPrior(
      errors,
      errors.map(() => 0.04 * 0.04),
      'drop',
    );
    expect(p.rawSpread).toBeGreaterThan(0.05);
    expect(p.spread).toBeGreaterThan(0.028);
    expect(p.spread).toBeLessThan(0.052);
    expect(p.points.length).toBe(32);
    expect(Math.min(...p.points)).toBe(Math.min(...errors.map((e) => 1 + e)));
    // all noise: the floor (2%) stands
    expect(
      levelPrior(
        errors,
        errors.map(() => 1),
        'drop',
      ).spread,
    ).toBeGreaterThanOrEqual(0.02);
  });

  it('checks every onset up to 48 ticks back, then at geometric ages up to the horizon', () => {
    expect(checkAges(24)).toEqual(Array.from({ length: 24 }, (_, k) => k + 1));
    const long = checkAges(480);
    expect(long.slice(0, 48)).toEqual(Array.from({ length: 48 }, (_, k) => k + 1));
    expect(long.slice(48, 52)).toEqual([60, 75, 94, 118]);
    expect(long[long.length - 1]).toBe(480);
  });

  it('pages falsely at most once per A ticks on a long normal stream (the sum over onsets)', () => {
    // Normal ticks whose level error is drawn afresh every two hours (24 ticks): the detector, reset after
    // each alarm as the watch does, alarms at most once per A ticks on average.
    const A = 50;
    for (const k of [3, 20]) {
      const rng = mulberry32(30 + k);
      const p = gammaOnly(0.05);
      const d = newLevelDetector('drop', 24);
      setLevelLaws(d, p, { d0: 1, shape: k }, 0.95);
      const ticks = 40_000;
      let alarms = 0;
      let L = 1;
      for (let t = 0; t < ticks; t++) {
        if (t % 24 === 0) L = gamma(rng, p.alpha) / p.alpha;
        if (updateLevelDetector(d, nb(rng, 0.95 * L * 200, k), 200) >= Math.log(A)) {
          alarms++;
          resetLevelDetector(d);
        }
      }
      expect(alarms).toBeLessThanOrEqual(ticks / A);
      expect(alarms).toBeGreaterThan(0);
    }
  });
});

describe('the burst shape measured on history', () => {
  it('recovers a gamma-Poisson shape from the low side (its 95% lower bound), and Poisson as Poisson', () => {
    const rng = mulberry32(9);
    for (const k of [3, 20]) {
      const m = Array.from({ length: 4000 }, (_, i) => 50 + 300 * ((i % 288) / 288));
      const x = m.map((mi) => nb(rng, mi, k));
      const fit = fitShape(x, m, 1, 1e9);
      expect(fit.shape).toBeLessThanOrEqual(k * 1.05);
      expect(fit.shape).toBeGreaterThan(k * 0.75);
    }
    const m = Array.from({ length: 4000 }, () => 200);
    const fit = fitShape(
      m.map((mi) => poisson(rng, mi)),
      m,
      1,
      1e9,
    );
    expect(fit.shape).toBeGreaterThan(300);
  });
});
