// Navigator's production judge (src/watch/signal-judge.ts, what `navigator serve` and `backtest` run) as a
// BenchJudge: the recording is fed tick by tick, canary against baseline, with the default settings.
import { newSignalJudge, stepSignal, type TickInput } from '../../src/watch/signal-judge.js';
import type { BenchJudge } from './judges.js';

const ALPHA = 0.001;
const MIN_EFFECT = 0.01;

export function navigatorJudge(): BenchJudge {
  return {
    name: 'Navigator',
    settings: {
      falseAlarmRate: ALPHA,
      minEffect: MIN_EFFECT,
      interval: '15s',
      watch: 'the whole recording (anytime-valid)',
    },
    source: 'src/watch/signal-judge.ts with the defaults of src/config/schema.ts',
    decide(rec, signal) {
      const s = newSignalJudge({
        name: signal,
        kind: signal === 'orders' ? 'count' : 'ratio',
        mode: 'canary',
        direction: signal === 'orders' ? 'drop' : 'rise',
        alpha: ALPHA,
        tolerance: MIN_EFFECT,
        forecast: null,
        trafficForecast: null,
      });
      const arm = (value: number) => ({ value, live: 1 });
      for (let t = 0; t < rec.ticks; t++) {
        const weight = rec.weight[t] as number;
        const input: TickInput =
          signal === 'orders'
            ? {
                mode: 'canary',
                weight,
                canary: { num: arm(rec.canaryOrders[t] as number), den: null },
                baseline: { num: arm(rec.baselineOrders[t] as number), den: null },
              }
            : {
                mode: 'canary',
                weight,
                canary: { num: arm(rec.canaryErrors[t] as number), den: arm(rec.canaryRequests[t] as number) },
                baseline: { num: arm(rec.baselineErrors[t] as number), den: arm(rec.baselineRequests[t] as number) },
              };
        if (stepSignal(s, input, t, t, true)) return { tick: t };
      }
      return { tick: null };
    },
  };
}
