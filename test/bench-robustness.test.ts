// bench/robustness, seeded and small: the same simulator and the same production judge as the benchmark
// (bench/robustness/run.ts runs thousands of good canaries per condition; these few hundred only guard the wiring
// and the gross behaviour: a broken promise shows as several alarms where the bound allows well under one).
import { describe, expect, it } from 'vitest';
import { judgeCanary } from '../bench/lib/navigator-canary.js';
import { simulateProduction } from '../bench/lib/production.js';
import { CONDITIONS, runSpec } from '../bench/robustness/conditions.js';
import { runDelay, runErrors } from '../bench/robustness/delays.js';

function alarms(name: string, traffic: boolean, runs: number, history = false): number {
  const c = CONDITIONS.find((x) => x.name === name);
  if (!c) throw new Error(`no condition ${name}`);
  let n = 0;
  for (let seed = 0; seed < runs; seed++) {
    const out = judgeCanary(simulateProduction(runSpec(c, seed)), { traffic, history });
    if (out.orders !== null || out.errors !== null) n++;
  }
  return n;
}

describe('bench/robustness, seeded and small', () => {
  it('fails no good canary under a 20% mis-declared split, a late stage change or a scrape gap', () => {
    // alpha = 0.001 per signal: 300 runs x 2 signals expect 0.6 alarms at the bound; 3 would be a breach
    for (const name of ['share-0.8', 'share-1.2', 'stage-late-2', 'gap-60s'])
      for (const traffic of [true, false])
        expect(alarms(name, traffic, 150), `${name} ${traffic}`).toBeLessThanOrEqual(2);
  });

  it('keeps the promise under 5x dispersion and drift, with the floor measured before the deploy and without', () => {
    // without history the stated assumption (3x for drops, wander held 96 ticks, large rises against up to
    // 5x) covers them: 220 in 4,000 failed under drift-0.05 with `traffic` before (issue 9)
    for (const name of ['nb-D5', 'drift-0.05'])
      for (const history of [true, false])
        expect(alarms(name, true, 150, history), `${name} history ${history}`).toBeLessThanOrEqual(2);
  });

  it('decides a 99% collapse at 1 canary event/s within two ticks measured, within three declared', () => {
    const measured = runDelay({
      drop: 0.99,
      rate: 1,
      dispersion: 1,
      traffic: true,
      history: false,
      from: 0,
      to: 41,
    }).ticks;
    expect(measured.filter((t) => t === null || t > 2).length).toBeLessThanOrEqual(4);
    // declared: the null sits at 0.8 w, so a collapse carries a fifth less evidence a tick
    const declared = runDelay({
      drop: 0.99,
      rate: 1,
      dispersion: 1,
      traffic: false,
      history: false,
      from: 0,
      to: 41,
    }).ticks;
    expect(declared.filter((t) => t === null || t > 2).length).toBeLessThanOrEqual(12);
    expect(declared.every((t) => t !== null && t <= 4)).toBe(true);
    // with the floor measured on the hour before the deploy (base dispersion 1.3 there too)
    for (const traffic of [true, false]) {
      const ticks = runDelay({ drop: 0.99, rate: 1, dispersion: 1, traffic, history: true, from: 0, to: 41 }).ticks;
      expect(ticks.filter((t) => t === null || t > 2).length, `history, traffic ${traffic}`).toBeLessThanOrEqual(1);
    }
  });

  it('halts an error ratio going from 0.5% to 10% in a 10% canary at 30 requests/s within 4 ticks (median) with history', () => {
    const median = (history: boolean) => {
      const { ticks } = runErrors({ traffic: false, history, from: 0, to: 41 });
      return ticks.map((t) => t ?? Infinity).sort((a, b) => a - b)[20] as number;
    };
    expect(median(true)).toBeLessThanOrEqual(4);
    // without history large rises are judged against any dispersion up to 5x: the stated cost (README: 6)
    expect(median(false)).toBeLessThanOrEqual(7);
  });

  it('finds a 20% drop per request with a measured split, and cannot without one (the stated cost)', () => {
    const measured = runDelay({ drop: 0.2, rate: 10, dispersion: 1, traffic: true, history: true, from: 0, to: 11 });
    expect(measured.ticks.every((t) => t !== null && t < 60)).toBe(true);
    // without history the wander assumption (held 96 ticks) costs delay at many events a tick (README: 75)
    const fresh = runDelay({ drop: 0.2, rate: 10, dispersion: 1, traffic: true, history: false, from: 0, to: 11 });
    expect(fresh.ticks.every((t) => t !== null && t < 240)).toBe(true);
    // declared: a canary 20% short of its share of events is what a good canary 20% short of its weight
    // looks like, so it is (by design) not failed
    const declared = runDelay({ drop: 0.2, rate: 10, dispersion: 1, traffic: false, history: false, from: 0, to: 5 });
    expect(declared.ticks.filter((t) => t !== null).length).toBeLessThanOrEqual(1);
  });
});
