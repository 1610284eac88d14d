import { describe, expect, it } from 'vitest';
import { mulberry32, poisson } from '../../test/support/random.js';
import { collapseP, comparableTotals, poissonLowerTail } from './collapse.js';

/** Exact P(X <= x) for Poisson(mu), by summing the terms. */
function exactLowerTail(x: number, mu: number): number {
  let term = Math.exp(-mu);
  let sum = term;
  for (let k = 1; k <= x; k++) {
    term *= mu / k;
    sum += term;
  }
  return sum;
}

describe('collapse test', () => {
  it('bounds the Poisson lower tail from above (so the test stays valid), and is exact at zero', () => {
    for (const mu of [0.5, 3, 12, 80, 600])
      for (const x of [0, 1, 2, 5, 10, 50]) {
        if (x >= mu) continue;
        expect(poissonLowerTail(x, mu)).toBeGreaterThanOrEqual(exactLowerTail(x, mu) * (1 - 1e-12));
      }
    expect(poissonLowerTail(0, 12)).toBeCloseTo(Math.exp(-12), 15);
    expect(poissonLowerTail(20, 10)).toBe(1);
  });

  it('calls a zero where every comparable window held 12 or more strong evidence, and a quiet slot none', () => {
    const forty = Array.from({ length: 10 }, () => [12, 15, 13, 14]).flat();
    expect(collapseP(0, { totals: forty, scale: 1 }).p).toBeLessThan(1e-5);
    // Four such windows are not yet: so short a history cannot rule out a bursty series' quiet ticks.
    expect(collapseP(0, { totals: [12, 15, 13, 14], scale: 1 }).p).toBeGreaterThan(1e-4);
    // A slot whose history shows zeros: a zero there is ordinary.
    expect(collapseP(0, { totals: [0, 2, 5, 8], scale: 1 }).p).toBeGreaterThan(0.25);
    // A lower level (scale < 1) weakens the evidence: it never strengthens it.
    expect(collapseP(0, { totals: [12, 15], scale: 0.5 }).p).toBeGreaterThan(
      collapseP(0, { totals: [12, 15], scale: 1 }).p,
    );
  });

  it('gathers the same time on earlier days and the hours before, and skips windows with excluded ticks', () => {
    const values = Array.from({ length: 3 * 10 }, (_, i) => i);
    values[12] = NaN;
    const totals = comparableTotals(values, 25, 2, { dayTicks: 10, days: 5, half: 1, stride: 1, recent: 2 });
    // day 1 back: windows ending 14, 15, 16; day 2 back: 4, 5, 6; the two windows just before: ending 23 and 22.
    expect(totals).toEqual([13 + 14, 14 + 15, 15 + 16, 3 + 4, 4 + 5, 5 + 6, 22 + 23, 21 + 22]);
    const gap = comparableTotals(values, 23, 2, { dayTicks: 10, days: 1, half: 0, stride: 1, recent: 0 });
    expect(gap).toEqual([]); // the window ending 13 holds the excluded tick 12
  });

  it('rarely fires on Poisson noise: a seeded check of the p-value', () => {
    const rng = mulberry32(5);
    let small = 0;
    for (let r = 0; r < 2000; r++) {
      const totals = Array.from({ length: 50 }, () => poisson(rng, 20));
      if (collapseP(poisson(rng, 20), { totals, scale: 1 }).p <= 0.01) small++;
    }
    expect(small / 2000).toBeLessThanOrEqual(0.01);
  });
});

describe('collapse test: the tail beyond what history shows', () => {
  it('needs more silence from a series whose quiet windows fall far below its median', () => {
    const rng = mulberry32(9);
    // 300 windows: steady (Poisson 30) or bursty (gamma shape 2 rate, mean 30).
    const steady = Array.from({ length: 300 }, () => poisson(rng, 30));
    const bursty = Array.from({ length: 300 }, () => poisson(rng, 15 * -Math.log(rng() * rng())));
    const budget = 1e-5;
    expect(collapseP(0, { totals: steady, scale: 1 }).p).toBeLessThan(budget);
    expect(collapseP(0, { totals: bursty, scale: 1 }).p).toBeGreaterThan(budget);
    // Three ticks of silence on the bursty series: its 3-tick windows are steadier, the evidence enough.
    const bursty3 = Array.from({ length: 300 }, () => {
      let s = 0;
      for (let k = 0; k < 3; k++) s += poisson(rng, 15 * -Math.log(rng() * rng()));
      return s;
    });
    expect(collapseP(0, { totals: bursty3, scale: 1 }).p).toBeLessThan(collapseP(0, { totals: bursty, scale: 1 }).p);
  });
});
