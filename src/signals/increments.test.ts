import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cohortCounts } from './increments.js';

const grid = (values: number[], labels: Record<string, string> = {}) => ({ labels, values: Float64Array.from(values) });

describe('cohort increments', () => {
  it('counts increments and handles a counter reset like PromQL increase', () => {
    const c = cohortCounts([grid([0, 10, 25, 5, 12])], 2);
    expect(Array.from(c.values.slice(2))).toEqual([15, 5, 7]);
  });

  it('makes one missed scrape a gap (unknown), not an absence', () => {
    const c = cohortCounts([grid([0, 10, 20, NaN, 40, 50])], 2);
    expect(Number.isNaN(c.values[3])).toBe(true); // the missed scrape
    expect(Number.isNaN(c.values[4])).toBe(true); // back from the gap: events cannot be placed
    expect(c.values[5]).toBe(10);
  });

  it('counts a series that stopped as absent after absentAfter ticks', () => {
    const c = cohortCounts([grid([0, 10, 20, 30, NaN, NaN, NaN])], 2);
    expect(Number.isNaN(c.values[4])).toBe(true);
    expect(c.values[5]).toBe(0);
    expect(c.live[5]).toBe(0);
    expect(c.values[6]).toBe(0);
  });

  it('does not count a new series first value, and a cohort of only newborns is unknown', () => {
    const c = cohortCounts([grid([NaN, NaN, NaN, 7, 9])], 2);
    expect(Number.isNaN(c.values[3])).toBe(true);
    expect(c.values[4]).toBe(2);
    const mixed = cohortCounts([grid([0, 1, 2, 3, 4]), grid([NaN, NaN, NaN, 7, 9])], 2);
    expect(mixed.values[3]).toBe(1); // the established series counts; the newborn adds nothing yet
    expect(mixed.values[4]).toBe(3);
  });

  it('sums to the total increase of gap-free monotone counters (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat(50), { minLength: 12, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
        (steps) => {
          const series = steps.map((s) => {
            let v = 0;
            return grid(s.map((x) => (v += x)));
          });
          const c = cohortCounts(series, 2);
          const total = Array.from(c.values.slice(2)).reduce((a, b) => a + b, 0);
          const expected = series.reduce((a, s) => a + (s.values[11] as number) - (s.values[1] as number), 0);
          return total === expected;
        },
      ),
    );
  });
});
