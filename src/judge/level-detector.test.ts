import { describe, expect, it } from 'vitest';
import { gamma, mulberry32, poisson } from '../../test/support/random.js';
import {
  checkAges,
  levelPrior,
  newLevelDetector,
  updateLevelDetector,
  windowLogE,
  type LevelPrior,
} from './level-detector.js';

/** A prior whose gamma law has log-spread `sd` around 1 and no empirical points (the gamma part alone). */
function gammaOnly(sd: number): LevelPrior {
  const alpha = 1 / (sd * sd);
  return { alpha, beta: alpha, points: [], center: 0, spread: sd, rawSpread: sd, origins: 0 };
}

describe('level-marginal e-detector', () => {
  it('never reaches 1/a with probability above a when the level error is drawn from its law (Ville)', () => {
    // The null model itself: L ~ Gamma(alpha, alpha), y_t ~ Poisson(L r0 f / D), x = D y. One onset,
    // checked at every tick for 24 ticks: P(sup ln E >= ln 20) <= 1/20.
    const rng = mulberry32(11);
    const p = gammaOnly(0.08);
    const r0 = 0.95;
    const runs = 3000;
    let crossed = 0;
    for (let k = 0; k < runs; k++) {
      const L = gamma(rng, p.alpha) / p.alpha;
      const D = 4;
      let sx = 0;
      let sf = 0;
      let hit = false;
      for (let t = 0; t < 24; t++) {
        const f = 300;
        sx += poisson(rng, (L * r0 * f) / D);
        sf += f / D;
        if (windowLogE(p, 'drop', r0, sx, sf) >= Math.log(20)) hit = true;
      }
      if (hit) crossed++;
    }
    expect(crossed / runs).toBeLessThanOrEqual(0.05);
    // and it is not vacuous: the bound is approached, not met with room to spare by a dead statistic
    expect(crossed).toBeGreaterThan(0);
  });

  it('counts the level error once: a window running 7% low at huge counts is not a regression', () => {
    // With a level-error spread of 5%, 7% low is 1.4 sd: ordinary. A per-tick test would see
    // 100,000-event ticks 7% low as overwhelming evidence within a tick.
    const d = newLevelDetector('drop', 24);
    const p = gammaOnly(0.05);
    let max = -Infinity;
    for (let t = 0; t < 24; t++) max = Math.max(max, updateLevelDetector(d, p, 1, 93_000, 100_000, 1));
    expect(max).toBeLessThan(Math.log(100));
    // The same window 40% low is far outside the level law: found.
    const e = newLevelDetector('drop', 24);
    let found = -1;
    for (let t = 0; t < 24 && found < 0; t++) if (updateLevelDetector(e, p, 1, 60_000, 100_000, 1) > 20) found = t;
    expect(found).toBe(0);
  });

  it('finds a 50% drop on a bursty series (gamma shape 20 per tick) within the hour at a 90-day rate', () => {
    const rng = mulberry32(5);
    const lnA = Math.log(2 * 25_920); // 90 days of 5-minute ticks, half the budget
    const p = gammaOnly(0.05);
    const sigma2 = 1 / 20;
    const delays: number[] = [];
    for (let k = 0; k < 40; k++) {
      const d = newLevelDetector('drop', 24);
      let at = -1;
      for (let t = 0; t < 12 && at < 0; t++) {
        const f = 300;
        const x = poisson(rng, 0.5 * f * (gamma(rng, 20) / 20));
        if (updateLevelDetector(d, p, 0.95, x, f, 1 + sigma2 * f) >= lnA) at = t + 1;
      }
      delays.push(at < 0 ? Infinity : at);
    }
    delays.sort((a, b) => a - b);
    expect(delays[Math.floor(delays.length * 0.9)]).toBeLessThanOrEqual(12);
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

  it('checks onsets at geometric ages up to the horizon', () => {
    expect(checkAges(24)).toEqual([1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 24]);
  });
});

function normal(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}
