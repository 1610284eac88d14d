import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';

const all = (metric = 'm') => ({ metric, matchers: {} });

/** The store's documented rules, on plain arrays: the reference the property tests compare against. */
class Model {
  series = new Map<string, { t: number; v: number }[]>();
  append(key: string, t: number, v: number): boolean {
    const s = this.series.get(key) ?? [];
    this.series.set(key, s);
    const last = s[s.length - 1];
    if (last && t < last.t) return false;
    if (last && t === last.t) last.v = v;
    else s.push({ t, v });
    return true;
  }
  prune(before: number): void {
    for (const [k, s] of this.series) {
      const kept = s.filter((x) => x.t >= before);
      if (kept.length) this.series.set(k, kept);
      else this.series.delete(k);
    }
  }
  /** The grid by its definition: for each point, scan every sample. */
  grid(key: string, from: number, to: number, step: number): number[] {
    const s = this.series.get(key) ?? [];
    const out: number[] = [];
    for (let i = 0; i <= (to - from) / step + 1e-9; i++) {
      const t = from + i * step;
      const inTick = s.filter((x) => x.t > t - step && x.t <= t);
      out.push(inTick.length ? inTick[inTick.length - 1]!.v : NaN);
    }
    return out;
  }
}

describe('MemoryStore grid', () => {
  it('takes the last sample in (t - step, t], NaN for a missed scrape', () => {
    const s = new MemoryStore();
    for (const [t, v] of [
      [100, 1],
      [110, 1.5],
      [115, 2],
      [145, 4],
      [150, 5],
    ] as const)
      s.append('m', { a: '1' }, t, v);
    const [g, ...rest] = s.gridSync(all(), 100, 160, 15);
    expect(rest).toHaveLength(0);
    expect(g!.labels).toEqual({ a: '1' });
    expect(Array.from(g!.values)).toEqual([1, 2, NaN, 4, 5]);
  });

  it('includes `to` when it is on the grid, even through float rounding, and never passes it', () => {
    const s = new MemoryStore();
    s.append('m', {}, 0.3, 7);
    expect(s.gridSync(all(), 0, 0.3, 0.1)[0]!.values).toHaveLength(4); // 0.3 / 0.1 = 2.9999999999999996
    expect(s.gridSync(all(), 0, 29, 15)[0]!.values).toHaveLength(2);
    expect(s.gridSync(all(), 10, 9, 15)[0]!.values).toHaveLength(0);
    expect(() => s.gridSync(all(), 0, 10, 0)).toThrow(RangeError);
    expect(() => s.gridSync(all(), 0, NaN, 1)).toThrow(RangeError);
  });

  it('matches labels like PromQL =~ (anchored; a missing label is "")', async () => {
    const s = new MemoryStore();
    s.append('m', { code: '500' }, 1, 1);
    s.append('m', { code: '200' }, 1, 2);
    s.append('m', {}, 1, 3);
    s.append('other', { code: '500' }, 1, 4);
    const values = (code: string) => s.gridSync({ metric: 'm', matchers: { code } }, 1, 1, 1).map((g) => g.values[0]);
    expect(values('5..')).toEqual([1]);
    expect(values('0')).toEqual([]);
    expect(values('')).toEqual([3]);
    expect(values('.*').sort()).toEqual([1, 2, 3]);
    // the compiled-matcher cache must not confuse one selector with another
    expect(values('2..')).toEqual([2]);
    expect(await s.grid({ metric: 'nope', matchers: {} }, 1, 1, 1)).toEqual([]);
  });

  it('treats label sets as sets: key order does not matter, values cannot collide', () => {
    const s = new MemoryStore();
    s.append('m', { a: '1', b: '2' }, 1, 1);
    s.append('m', { b: '2', a: '1' }, 2, 2);
    s.append('m', { a: '1\u0000b=2' }, 1, 3);
    s.append('m', { a: '1', b: '2', c: '' }, 1, 4);
    expect(s.seriesCount()).toBe(3);
    expect(s.sampleCount()).toBe(4);
  });

  it('replaces a repeated timestamp and drops an older one', () => {
    const s = new MemoryStore();
    expect(s.append('m', {}, 10, 1)).toBe(true);
    expect(s.append('m', {}, 20, 2)).toBe(true);
    expect(s.append('m', {}, 20, 3)).toBe(true);
    expect(s.append('m', {}, 15, 9)).toBe(false);
    expect(s.append('m', {}, NaN, 9)).toBe(false);
    const [x] = s.samples(all());
    expect(Array.from(x!.ts)).toEqual([10, 20]);
    expect(Array.from(x!.values)).toEqual([1, 3]);
  });

  it('hands out copies of labels: a caller editing them does not rename the series', () => {
    const s = new MemoryStore();
    const labels = { a: '1' };
    s.append('m', labels, 1, 1);
    labels.a = '2';
    const [g] = s.gridSync(all(), 1, 1, 1);
    g!.labels.a = '3';
    expect(s.gridSync({ metric: 'm', matchers: { a: '1' } }, 1, 1, 1)).toHaveLength(1);
  });

  it('agrees with a naive reference on random samples, appends out of order and prunes (property)', () => {
    const op = fc.oneof(
      {
        weight: 20,
        arbitrary: fc.record({ series: fc.constantFrom('a', 'b'), dt: fc.integer({ min: -20, max: 40 }) }),
      },
      { weight: 1, arbitrary: fc.record({ prune: fc.integer({ min: 0, max: 3000 }) }) },
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 400 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.oneof(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0.5, max: 200, noNaN: true })),
        (ops, a, b, step) => {
          const store = new MemoryStore();
          const model = new Model();
          const clock = { a: 0, b: 0 };
          ops.forEach((o, i) => {
            if ('prune' in o) {
              store.prune(o.prune);
              model.prune(o.prune);
            } else {
              // mostly forward in time, sometimes back (out of order) or repeated
              const t = Math.max(0, clock[o.series] + o.dt);
              clock[o.series] = Math.max(clock[o.series], t);
              expect(store.append('m', { s: o.series }, t, i)).toBe(model.append(o.series, t, i));
            }
          });
          const [from, to] = a <= b ? [a, b] : [b, a];
          for (const key of ['a', 'b']) {
            const got = store.gridSync({ metric: 'm', matchers: { s: key } }, from, to, step);
            const want = model.series.has(key) ? [model.grid(key, from, to, step)] : [];
            expect(got.map((g) => Array.from(g.values))).toEqual(want);
          }
          let samples = 0;
          for (const s of model.series.values()) samples += s.length;
          expect(store.sampleCount()).toBe(samples);
          expect(store.seriesCount()).toBe(model.series.size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grows past its initial capacity and answers a 50,000-point grid over 200,000 samples fast', () => {
    const s = new MemoryStore();
    for (let i = 0; i < 200_000; i++) s.append('m', { a: '1' }, 1000 + i * 15, i);
    expect(s.sampleCount()).toBe(200_000);
    const started = performance.now();
    // step 60: every 4th sample is the last in its tick
    const [g] = s.gridSync(all(), 1000, 1000 + 49_999 * 60, 60);
    const ms = performance.now() - started;
    expect(g!.values).toHaveLength(50_000);
    expect(g!.values[0]).toBe(0);
    expect(g!.values[1]).toBe(4);
    expect(g!.values[49_999]).toBe(199_996);
    // a scan of every sample per grid point would take minutes; one pass takes milliseconds
    expect(ms).toBeLessThan(1000);
  });
});

describe('MemoryStore bookkeeping', () => {
  it('prunes old samples and empty series, and reports range, counts and metrics', () => {
    const s = new MemoryStore();
    expect(s.timeRange()).toBeNull();
    for (let t = 0; t < 100; t += 10) s.append('m', {}, t, t);
    s.append('gone', {}, 5, 1);
    expect(s.metrics().sort()).toEqual(['gone', 'm']);
    expect(s.timeRange()).toEqual({ min: 0, max: 90 });
    s.prune(50);
    expect(s.timeRange()).toEqual({ min: 50, max: 90 });
    expect(s.sampleCount()).toBe(5);
    expect(s.seriesCount()).toBe(1);
    expect(s.metrics()).toEqual(['m']);
    s.prune(1000);
    expect(s.timeRange()).toBeNull();
    expect(s.metrics()).toEqual([]);
  });

  it('keeps a retention window right while pruned space is reused', () => {
    // A 300 s window pruned every second: the arrays fill up with a pruned prefix, which is slid down.
    const s = new MemoryStore();
    for (let t = 0; t < 20_000; t++) {
      s.append('m', {}, t, t * 2);
      s.prune(t - 299);
      if (t % 997 === 0 || t === 19_999) {
        const [x] = s.samples(all());
        const from = Math.max(0, t - 299);
        expect(Array.from(x!.ts)).toEqual(Array.from({ length: t - from + 1 }, (_, i) => from + i));
        expect(Array.from(x!.values)).toEqual(Array.from({ length: t - from + 1 }, (_, i) => 2 * (from + i)));
      }
    }
    expect(s.gridSync(all(), 19_990, 19_999, 3)[0]!.values).toEqual(
      Float64Array.from([39_980, 39_986, 39_992, 39_998]),
    );
  });

  it('appends through a series ref, which survives its series being pruned away', () => {
    const s = new MemoryStore();
    const ref = s.series('m', { a: '1' });
    expect(s.appendTo(ref, 10, 1)).toBe(true);
    s.prune(100);
    expect(s.seriesCount()).toBe(0);
    expect(s.appendTo(ref, 200, 2)).toBe(true);
    expect(s.append('m', { a: '1' }, 215, 3)).toBe(true);
    expect(s.seriesCount()).toBe(1);
    expect(Array.from(s.samples(all())[0]!.values)).toEqual([2, 3]);
    expect(() => new MemoryStore().appendTo(ref, 1, 1)).toThrow(/another store/);
  });
});
