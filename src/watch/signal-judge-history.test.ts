// The history (all-at-once) judgement of one signal: an observation spanning a gap is judged against the
// forecast summed over the ticks it spans.
import { describe, expect, it } from 'vitest';
import { evidenceOf, newSignalJudge, stepSignal, type FrozenForecast } from './signal-judge.js';

const forecast: FrozenForecast = {
  values: Array.from({ length: 20 }, (_, i) => 100 + i),
  margin: 0.1,
  sigma2: 0.001,
  d0: 1,
  lags: ['7d'],
  origins: 200,
  exceedances: 0,
  levelSd: 0.03,
};
const judge = () =>
  newSignalJudge({
    name: 'orders',
    kind: 'count',
    mode: 'history',
    direction: 'drop',
    alpha: 0.001,
    tolerance: 0.01,
    forecast,
    trafficForecast: null,
  });
const tick = (value: number, spans?: number) => ({
  mode: 'history' as const,
  total: { num: { value, live: 1 }, den: null },
  ...(spans ? { spans } : {}),
});

describe('history judgement across a gap', () => {
  it('expects the forecast summed over the spanned ticks, and names its interval', () => {
    const s = judge();
    stepSignal(s, tick(100), 0, 0, true);
    // ticks 1 and 2 unknown; tick 3 brings the counter's jump over ticks 1-3
    stepSignal(s, tick(101 + 102 + 103, 3), 3, 3, true);
    const ev = evidenceOf(s, 'orders');
    expect(ev.counts.expected).toBe(100 + 101 + 102 + 103);
    expect(s.failed).toBeNull();
    expect(ev.interval).toMatch(/Garwood/);
    expect(ev.sentence).toMatch(/Interval: 95% interval of observed \/ forecast/);
    expect(ev.sentence).toMatch(
      /replaying the forecaster from 200 earlier origins, 0 beyond it \(certifies .* below about 1\.5%\)/,
    );
    expect(ev.effect.low).toBeLessThan(0);
    expect(ev.effect.high).toBeGreaterThan(0);
  });

  it('fails a collapse seen only as one aggregated zero', () => {
    const s = judge();
    stepSignal(s, tick(0, 3), 2, 2, true);
    expect(s.failed).toBe('main');
    expect(evidenceOf(s, 'orders').counts.expected).toBe(100 + 101 + 102);
  });
});
