import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';

describe('MemoryStore grid', () => {
  it('takes the last sample in (t - step, t], NaN for a missed scrape', () => {
    const s = new MemoryStore();
    for (const [t, v] of [
      [100, 1],
      [115, 2],
      [145, 4],
      [150, 5],
    ] as const)
      s.append('m', { a: '1' }, t, v);
    const [g] = s.gridSync({ metric: 'm', matchers: {} }, 100, 160, 15);
    expect(Array.from(g!.values)).toEqual([1, 2, NaN, 4, 5]);
  });

  it('matches labels like PromQL =~ (anchored; a missing label is "")', () => {
    const s = new MemoryStore();
    s.append('m', { code: '500' }, 1, 1);
    s.append('m', { code: '200' }, 1, 1);
    s.append('m', {}, 1, 1);
    expect(s.gridSync({ metric: 'm', matchers: { code: '5..' } }, 1, 1, 1)).toHaveLength(1);
    expect(s.gridSync({ metric: 'm', matchers: { code: '0' } }, 1, 1, 1)).toHaveLength(0);
    expect(s.gridSync({ metric: 'm', matchers: { code: '' } }, 1, 1, 1)).toHaveLength(1);
  });

  it('agrees with a naive reference on random samples (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 40 }),
        (times, step) => {
          const sorted = [...times].sort((a, b) => a - b);
          const s = new MemoryStore();
          sorted.forEach((t, i) => s.append('m', {}, t, i));
          const grid = s.gridSync({ metric: 'm', matchers: {} }, 0, 300, step)[0];
          if (sorted.length === 0) return grid === undefined;
          return Array.from(grid!.values).every((v, i) => {
            const t = i * step;
            const inTick = sorted.map((x, k) => [x, k] as const).filter(([x]) => x > t - step && x <= t);
            const want = inTick.length ? inTick[inTick.length - 1]![1] : NaN;
            return Object.is(v, want);
          });
        },
      ),
    );
  });

  it('prunes old samples and reports its range', () => {
    const s = new MemoryStore();
    for (let t = 0; t < 100; t += 10) s.append('m', {}, t, t);
    s.prune(50);
    expect(s.timeRange()).toEqual({ min: 50, max: 90 });
    expect(s.sampleCount()).toBe(5);
  });
});
