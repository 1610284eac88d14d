// The reference judges of bench/anchors follow their tools' documented rules.
import { describe, expect, it } from 'vitest';
import { argo, flagger, kayenta, navigator, type Recording } from '../bench/anchors/judges.js';
import { mannWhitney } from '../bench/anchors/mannwhitney.js';

/** Steady traffic, 4 orders per tick in a 10% canary, 36 in the baseline; the canary's orders x factor from `onset`. */
function steady(ticks: number, factor: number, onset = 0): Recording {
  const r: Recording = {
    weight: 0.1,
    canaryOrders: [],
    baselineOrders: [],
    expectedCanaryOrders: [],
    drop: 1 - factor,
  };
  for (let i = 0; i < ticks; i++) {
    r.canaryOrders.push(i >= onset ? Math.round(40 * factor) : 40);
    r.baselineOrders.push(360);
    r.expectedCanaryOrders.push(40);
  }
  return r;
}

describe('Mann-Whitney and Hodges-Lehmann', () => {
  it('matches hand-computed values', () => {
    const t = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 0.95);
    expect(t.estimate).toBe(-5); // the median of the 25 pairwise differences
    expect(t.upper).toBeLessThan(0);
    expect(t.p).toBeLessThan(0.02);
    const same = mannWhitney([1, 2, 3], [1, 2, 3]);
    expect(same.estimate).toBe(0);
    expect(same.p).toBeCloseTo(1, 5);
  });
});

describe('reference judges', () => {
  it('Flagger rolls back on the check after the 5th failed one, and failed checks never reset', () => {
    const k = flagger(5).decide(steady(240, 0.01));
    expect(((k as number) + 1) * 15).toBe(6 * 60);
    // Alternating bad and good minutes still reach 5 failures: they are never reset.
    const r = steady(240, 1);
    for (let m = 0; m < 60; m += 2) for (let i = m * 4; i < m * 4 + 4; i++) r.canaryOrders[i] = 0;
    expect(flagger(5).decide(r)).not.toBeNull();
  });

  it('Argo Rollouts fails on the fourth failed measurement, five minutes apart', () => {
    const k = argo.decide(steady(120, 0.5));
    expect(((k as number) + 1) * 15).toBe(4 * 300);
  });

  it('Kayenta fails a collapse at the 60-minute judgement, not before', () => {
    const k = kayenta.decide(steady(720, 0.01));
    expect(((k as number) + 1) * 15).toBe(3600);
    expect(kayenta.decide(steady(239, 0.01))).toBeNull();
  });

  it('Navigator decides the same collapse at the first tick', () => {
    expect(navigator.decide(steady(120, 0.01))).toBe(0);
    expect(navigator.decide(steady(120, 1))).toBeNull();
  });
});
