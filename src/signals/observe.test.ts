import { describe, expect, it } from 'vitest';
import type { SeriesGrid } from '../sources/types.js';
import { observeCohort } from './observe.js';

const g = (values: number[], up?: number[]): SeriesGrid => ({
  labels: { instance: 'a:1', version: 'v2' },
  values: Float64Array.from(values),
  ...(up ? { up: Float64Array.from(up) } : {}),
});
const none = (n: number) => new Array<string | null>(n).fill(null);

describe('observeCohort (seeing is data)', () => {
  it('counts the increments from the anchor to the tick', () => {
    const o = observeCohort([g([10, 15, 22], [1, 1, 1])], none(3), true, 1, 2, 2);
    expect(o).toMatchObject({ kind: 'seen', value: 7, live: 1 });
  });

  it('a tick with no scrape in it is a gap, not zero; the jump arrives once when the counter is seen again', () => {
    // 60 s scrape, 15 s ticks: samples at points 0 and 4 only; up is unknown in between.
    const values = [100, NaN, NaN, NaN, 160];
    const up = [1, NaN, NaN, NaN, 1];
    for (let last = 1; last <= 3; last++)
      expect(observeCohort([g(values, up)], none(5), true, 0, last, 2).kind).toBe('gap');
    const seen = observeCohort([g(values, up)], none(5), true, 0, 4, 2);
    expect(seen).toMatchObject({ kind: 'seen', value: 60, live: 1 });
  });

  it('a failed scrape of the series target is blind; so is a tick the source marks blind', () => {
    expect(observeCohort([g([1, NaN], [1, 0])], none(2), true, 0, 1, 2)).toMatchObject({ kind: 'blind' });
    const o = observeCohort([g([1, 2], [1, 1])], [null, 'scrape of x failed: HTTP 503'], true, 0, 1, 2);
    expect(o).toMatchObject({ kind: 'blind', reason: 'scrape of x failed: HTTP 503' });
  });

  it('a series gone while its target is scraped is absent (zero events), at once', () => {
    const o = observeCohort([g([5, NaN], [1, 1])], none(2), true, 0, 1, 2);
    expect(o).toMatchObject({ kind: 'seen', value: 0, live: 0, born: 0 });
  });

  it('a counter reset inside a span counts the new value, like increase()', () => {
    const o = observeCohort([g([100, 120, 5, 9], [1, 1, 1, 1])], none(4), true, 0, 3, 2);
    expect(o.value).toBe(20 + 5 + 4);
  });

  it('a series that appears after the anchor is new: its first value is not counted', () => {
    const o = observeCohort([g([NaN, 40], [1, 1])], none(2), true, 0, 1, 2);
    expect(o).toMatchObject({ kind: 'seen', value: 0, live: 0, born: 1 });
  });

  it('without health: a missed sample is a gap for absentAfter ticks, then the series stopped', () => {
    expect(observeCohort([g([1, 2, NaN])], none(3), false, 1, 2, 2).kind).toBe('gap');
    expect(observeCohort([g([1, NaN, NaN])], none(3), false, 1, 2, 2)).toMatchObject({ kind: 'seen', live: 0 });
    // back from the gap: the jump across it, once
    expect(observeCohort([g([1, 2, NaN, 9])], none(4), false, 1, 3, 2)).toMatchObject({ kind: 'seen', value: 7 });
  });
});
