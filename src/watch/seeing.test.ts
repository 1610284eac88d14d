import { describe, expect, it } from 'vitest';
import { markBlind, markGap, markSeen, newSeeing, unseen } from './seeing.js';

describe('seeing state and the pass rule', () => {
  it('carries gap ticks and hands their span and averaged weight to the next seen tick', () => {
    const st = newSeeing();
    expect(markGap(st, 15, 15, 0.1, false, 'no scrape')).toBe(true);
    expect(markGap(st, 30, 15, 0.3, false, 'no scrape')).toBe(true);
    expect(unseen(st, 15, 30)).toMatch(/last tick is a gap/);
    const { span, weight } = markSeen(st, 45, 0.5, false);
    expect(span).toBe(3);
    expect(weight).toBeCloseTo(0.3);
    expect(st).toMatchObject({ anchor: 45, seenTicks: 3, run: 3, gapTicks: 2, pending: 0 });
  });

  it('turns a gap longer than 150 s into blind and drops the anchor', () => {
    const st = newSeeing();
    markSeen(st, 0, 0.1, false);
    let t = 0;
    let ok = true;
    while (ok) {
      t += 15;
      ok = markGap(st, t, 15, 0.1, false, 'no scrape');
    }
    expect(t).toBe(165);
    markBlind(st, t, 15, 'too long');
    expect(st).toMatchObject({ anchor: null, blindSince: 0, blindTicks: 11, gapTicks: 0, run: 0 });
  });

  it('passes only with the final ticks seen and most of the watch seen', () => {
    const st = newSeeing();
    // 5 min watch at 15 s = 20 ticks: 16 must be seen, and the last 30 s.
    for (let i = 1; i <= 10; i++) markSeen(st, i * 15, 0.1, false);
    for (let i = 11; i <= 15; i++) markBlind(st, i * 15, 15, 'scrape failed');
    expect(st.blindSince).toBe(150);
    markSeen(st, 16 * 15, 0.1, false);
    expect(unseen(st, 15, 300)).toMatch(/last 30s/);
    markSeen(st, 17 * 15, 0.1, false);
    expect(unseen(st, 15, 300)).toMatch(/saw 12 of the 16 ticks/);
    for (let i = 18; i <= 21; i++) markSeen(st, i * 15, 0.1, false);
    expect(unseen(st, 15, 300)).toBeNull();
  });
});
