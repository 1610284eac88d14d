import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gammaln } from 'simple-statistics';
import { mulberry32, overdispersed, gamma } from '../../test/support/random.js';
import { measureFloor } from './dispersion.js';
import { newTwoArm, summarizeTwoArm, updateTwoArm } from './two-arm.js';

const ALPHA = 0.001;
const THRESHOLD = Math.log(1 / ALPHA);

/** Runs one simulated canary; returns the tick of the decision, or null. */
function simulate(
  seed: number,
  o: { total: number; w: number; drop: number; dispersion: number; ticks: number; history?: boolean },
): number | null {
  const rng = mulberry32(seed);
  const s = newTwoArm('drop', 0.01);
  if (o.history) {
    // the hour before the deploy, under the same burstiness and dispersion: a floor measured per exposure
    // (as for a count with `traffic`: a placebo floor would leave the wander assumption standing)
    const a: number[] = [];
    const b: number[] = [];
    for (let t = 0; t < 240; t++) {
      const mu = o.total * 15 * (gamma(rng, 20) / 20);
      a.push(overdispersed(rng, mu / 2, o.dispersion));
      b.push(overdispersed(rng, mu / 2, o.dispersion));
    }
    s.floor = measureFloor(
      a,
      a.map((x, i) => x + (b[i] as number)),
    );
  }
  for (let t = 0; t < o.ticks; t++) {
    const burst = gamma(rng, 20) / 20; // shared burstiness: cancels between the arms
    const mu = o.total * 15 * burst;
    updateTwoArm(
      s,
      overdispersed(rng, mu * o.w * (1 - o.drop), o.dispersion),
      overdispersed(rng, mu * (1 - o.w), o.dispersion),
      o.w,
    );
    if (summarizeTwoArm(s).logE >= THRESHOLD) return t + 1;
  }
  return null;
}

describe('two-arm e-process', () => {
  it('keeps the false-alarm rate under over-dispersion up to twice Poisson (seeded Monte Carlo)', () => {
    let alarms = 0;
    const runs = 2000;
    for (let i = 0; i < runs; i++) {
      const w = [0.05, 0.1, 0.5][i % 3] as number;
      if (simulate(1000 + i, { total: 50, w, drop: 0, dispersion: 2, ticks: 120 }) !== null) alarms++;
    }
    // alpha = 0.001 over 2000 deploys: 2 expected at the bound; 6 would be a clear breach (Poisson p < 0.02).
    expect(alarms).toBeLessThanOrEqual(6);
  });

  // Updated with issue 9: at 1 event/s the old assertion (97% at the second tick) relied on an optimistic
  // dispersion prior (1.25, shrunk over 8 ticks) that broke the promise on over-dispersed traffic; the
  // judge now assumes D >= 2 until it has measured it, so at 1 event/s with bursty traffic a tenth of
  // collapses need a third tick, and at 2 events/s the old bound holds.
  it('decides a 99% collapse within two ticks at 2 events/s in the canary, within three at 1 event/s', () => {
    const at = (total: number) => {
      const ticks: number[] = [];
      for (let i = 0; i < 200; i++)
        ticks.push(simulate(i, { total, w: 0.1, drop: 0.99, dispersion: 1.3, ticks: 10 }) ?? 99);
      return ticks;
    };
    const one = at(10);
    expect(one.filter((t) => t > 2).length).toBeLessThanOrEqual(24); // at least 88% at the first or second tick
    expect(Math.max(...one)).toBeLessThanOrEqual(3);
    const two = at(20);
    expect(two.filter((t) => t > 2).length).toBeLessThanOrEqual(6); // at least 97% at the first or second tick
    expect(Math.max(...two)).toBeLessThanOrEqual(3);
  });

  it('finds a 20% drop at 2 events/s in the canary within 3x the information bound (median) with history; without, it costs delay', () => {
    const bound = Math.log(1 / ALPHA) / (2 * (0.8 * Math.log(0.8) + 0.2)) / 15; // ticks
    const median = (history: boolean) => {
      const ticks: number[] = [];
      for (let i = 0; i < 101; i++)
        ticks.push(simulate(i, { total: 20, w: 0.1, drop: 0.2, dispersion: 1, ticks: 500, history }) ?? 999);
      ticks.sort((a, b) => a - b);
      return ticks[50] as number;
    };
    expect(median(true)).toBeLessThanOrEqual(3 * bound); // 25 ticks, bound 10.7
    // no history: 3x binomial is assumed for the first pooled ticks and a wander of cv^2 0.1 a tick for 96
    // ticks (what keeping the promise at 5x Poisson and 5% drift without history costs): 88 ticks
    expect(median(false)).toBeLessThanOrEqual(9 * bound);
  });

  it('catches a regression that starts late in the watch about as fast as one at the start', () => {
    // 100 good ticks of exact expectations, then the canary halves: a likelihood ratio counted from the
    // first tick would need about as many bad ticks to climb out; the mixture over start times needs a few.
    const s = newTwoArm('drop', 0.01);
    for (let t = 0; t < 100; t++) updateTwoArm(s, 30, 270, 0.1);
    let ticks = 0;
    while (summarizeTwoArm(s).logE < THRESHOLD && ticks < 100) {
      updateTwoArm(s, 15, 270, 0.1);
      ticks++;
    }
    const fresh = newTwoArm('drop', 0.01);
    let fromStart = 0;
    while (summarizeTwoArm(fresh).logE < THRESHOLD && fromStart < 100) {
      updateTwoArm(fresh, 15, 270, 0.1);
      fromStart++;
    }
    expect(ticks).toBeLessThanOrEqual(fromStart + 2);
  });

  it('a single grid point equals the closed-form binomial likelihood ratio', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.double({ min: 0.02, max: 0.9, noNaN: true }),
        (c, b, w) => {
          const s = newTwoArm('drop', 0.01);
          updateTwoArm(s, c, b, w);
          if (c + b === 0) return s.ticks === 0;
          const share = (r: number) => (w * r) / (w * r + 1 - w);
          const k = 3;
          const r = s.alternatives[k] as number;
          const expected = c * Math.log(share(r) / share(s.r0)) + b * Math.log((1 - share(r)) / (1 - share(s.r0)));
          return Math.abs((s.llr[k] as number) - expected) < 1e-6 * (1 + Math.abs(expected));
        },
      ),
    );
  });

  it('with a floor measured before the deploy, a rise is not read as its own dispersion (0.5% -> 10% errors at 30 requests/s)', () => {
    // The errors target of issue 9: a 10% canary at 30 requests/s in total, its error ratio 0.5% -> 10%.
    // With history the floor stands in for the assumption; its first terms are the rise itself, and an
    // early upper bound on them (one term x 63) blinded the test for 20 ticks and more in a tenth of runs.
    const ticksTo: number[] = [];
    for (let seed = 0; seed < 60; seed++) {
      const rng = mulberry32(7000 + seed);
      const num: number[] = [];
      const den: number[] = [];
      for (let t = 0; t < 240; t++) {
        const req = overdispersed(rng, 450, 1.3);
        num.push(overdispersed(rng, req * 0.005, 1.3));
        den.push(req);
      }
      const s = newTwoArm('rise', 0.01);
      s.floor = measureFloor(num, den);
      let at = 41;
      for (let t = 0; t < 40; t++) {
        const cr = overdispersed(rng, 45, 1.3);
        const br = overdispersed(rng, 405, 1.3);
        const ce = overdispersed(rng, cr * 0.1, 1.3);
        const be = overdispersed(rng, br * 0.005, 1.3);
        if (!(cr > 0 && br > 0)) continue;
        updateTwoArm(s, ce, be, cr / (cr + br));
        if (summarizeTwoArm(s).logE >= THRESHOLD) {
          at = t + 1;
          break;
        }
      }
      ticksTo.push(at);
    }
    ticksTo.sort((a, b) => a - b);
    expect(ticksTo[Math.floor(0.5 * (ticksTo.length - 1))]).toBeLessThanOrEqual(4);
    expect(ticksTo[Math.floor(0.9 * (ticksTo.length - 1))]).toBeLessThanOrEqual(8);
  });

  it('is one-sided: a canary doing better never fails a drop test', () => {
    const s = newTwoArm('drop', 0.01);
    for (let t = 0; t < 50; t++) updateTwoArm(s, 30, 100, 0.1); // canary 3x its share
    expect(summarizeTwoArm(s).logE).toBeLessThan(0);
    expect(summarizeTwoArm(s).effect.estimate).toBeGreaterThan(1);
  });

  it('reports the effect with an interval that covers the truth', () => {
    const s = newTwoArm('drop', 0.01);
    for (let t = 0; t < 40; t++) updateTwoArm(s, 50, 900, 0.1); // expected canary 100 per tick: -50%
    const sum = summarizeTwoArm(s);
    expect(sum.effect.estimate).toBeCloseTo(-0.5, 2);
    expect(sum.effect.low).toBeLessThan(-0.5);
    expect(sum.effect.high).toBeGreaterThan(-0.5);
  });

  it('uses gammaln-consistent numerics (beta-binomial sanity: a fair split gives no evidence)', () => {
    // Not the beta mixture itself, but the same guarantee: the expected log-LR under the null is negative.
    const s = newTwoArm('rise', 0.01);
    updateTwoArm(s, 10, 90, 0.1);
    expect(summarizeTwoArm(s).logE).toBeLessThan(0);
    expect(gammaln(5)).toBeCloseTo(Math.log(24), 6);
  });
});

describe('effect when the baseline had none', () => {
  it('reports a rise, not +0%, when events appear in the new version only', () => {
    const s = newTwoArm('rise', 0.01);
    for (let t = 0; t < 3; t++) updateTwoArm(s, 4, 0, 0.1);
    const e = summarizeTwoArm(s).effect;
    expect(e.estimate).toBeGreaterThan(1);
    expect(e.low).toBeLessThan(e.estimate);
    expect(e.high).toBeGreaterThan(e.estimate);
  });
});
