import { describe, expect, it } from 'vitest';
import { histogramQuantile, wilsonInterval } from './quantiles.js';

const B = [0.1, 0.5, 1, Infinity];

describe('histogramQuantile (histogram_quantile semantics)', () => {
  it('interpolates linearly inside the bucket holding the rank', () => {
    // 100 requests: 50 <= 0.1 s, 30 in (0.1, 0.5], 15 in (0.5, 1], 5 above 1 s
    const c = [50, 80, 95, 100];
    expect(histogramQuantile(0.5, B, c)).toBeCloseTo(0.1, 12); // rank 50: the top of the first bucket
    expect(histogramQuantile(0.25, B, c)).toBeCloseTo(0.05, 12); // first bucket starts at 0
    expect(histogramQuantile(0.65, B, c)).toBeCloseTo(0.1 + 0.4 * (15 / 30), 12);
    expect(histogramQuantile(0.9, B, c)).toBeCloseTo(0.5 + 0.5 * (10 / 15), 12);
  });

  it('returns the highest finite bound for a rank in +Inf, NaN without observations or +Inf', () => {
    expect(histogramQuantile(0.99, B, [50, 80, 95, 100])).toBe(1);
    expect(histogramQuantile(0.5, B, [0, 0, 0, 0])).toBeNaN();
    expect(histogramQuantile(0.5, [0.1, 0.5], [1, 2])).toBeNaN();
    expect(histogramQuantile(0.5, [Infinity], [3])).toBeNaN();
  });

  it('evens out non-monotonic buckets as Prometheus does', () => {
    expect(histogramQuantile(0.5, B, [60, 55, 95, 100])).toBeCloseTo(histogramQuantile(0.5, B, [60, 60, 95, 100]), 12);
  });
});

describe('wilsonInterval', () => {
  it('covers the estimate and stays inside [0, 1], even at zero events', () => {
    const w = wilsonInterval(30, 100);
    expect(w.estimate).toBe(0.3);
    expect(w.low).toBeLessThan(0.3);
    expect(w.high).toBeGreaterThan(0.3);
    expect(w.low).toBeCloseTo(0.2189, 3); // textbook value for 30/100
    expect(w.high).toBeCloseTo(0.3958, 3);
    const z = wilsonInterval(0, 50);
    expect(z.low).toBe(0);
    expect(z.high).toBeGreaterThan(0.05);
  });
});
