// A simulated canary of a latency signal, tick by tick through the production signal judge: per tick, each
// arm's requests (shared gamma burstiness, over-dispersed counts), spread over histogram buckets with a
// share slower than 500 ms (clumped: a slow dependency stalls many requests at once), turned into the
// judge's input exactly as src/watch/inputs.ts does for a histogram (slow = count - bucket{le=0.5},
// requests = count, the buckets for quantiles). Shared by bench/latency and its seeded test.
import { newSignalJudge, stepSignal, type SignalJudgeState, type TickInput } from '../../src/watch/signal-judge.js';
import { BOUNDS, cumulative, SLOW_BOUND, tickBuckets } from './histogram.js';
import { gamma, mulberry32, overdispersedCount, type Rng } from './random.js';

export const STEP = 15;
export const ALPHA = 0.001;
const BURST_SHAPE = 20;

export interface LatencyCell {
  /** requests per second, both arms together */
  total: number;
  /** the canary's traffic share */
  weight: number;
  /** share of requests slower than 500 ms in the baseline, and in the canary */
  baselineSlow: number;
  canarySlow: number;
  /** variance over Poisson of each arm's request count per tick */
  dispersion: number;
  /** variance over binomial of the slow requests among them, per arm (clumping: a stalled pod) */
  slowDispersion: number;
  /** gamma shape of a per-tick multiplier on both arms' slow share (a slow dependency: shared); none if absent */
  sharedSlowShape?: number;
}

function armTick(rng: Rng, mean: number, slowShare: number, c: LatencyCell) {
  const n = overdispersedCount(rng, mean, c.dispersion);
  const cum = cumulative(tickBuckets(rng, n, slowShare, c.slowDispersion));
  const fast = cum[BOUNDS.indexOf(SLOW_BOUND)] as number;
  return {
    pair: { num: { value: n - fast, live: 1 }, den: { value: n, live: 1 } },
    buckets: { bounds: BOUNDS, counts: cum },
  };
}

export function newLatencyJudge(): SignalJudgeState {
  return newSignalJudge({
    name: 'latency',
    kind: 'latency',
    mode: 'canary',
    direction: 'rise',
    alpha: ALPHA,
    tolerance: 0.01,
    forecast: null,
    trafficForecast: null,
    latency: { bound: SLOW_BOUND, unitsPerSecond: 1 },
  });
}

/** Runs one canary for up to `ticks` ticks; returns the deciding tick (1-based) or null, and the judge. */
export function runLatencyCanary(
  seed: number,
  c: LatencyCell,
  ticks: number,
): { tick: number | null; judge: SignalJudgeState } {
  const rng = mulberry32(seed);
  const s = newLatencyJudge();
  for (let t = 0; t < ticks; t++) {
    const mu = c.total * STEP * (gamma(rng, BURST_SHAPE) / BURST_SHAPE);
    const swing = c.sharedSlowShape ? gamma(rng, c.sharedSlowShape) / c.sharedSlowShape : 1;
    const canary = armTick(rng, mu * c.weight, Math.min(1, c.canarySlow * swing), c);
    const baseline = armTick(rng, mu * (1 - c.weight), Math.min(1, c.baselineSlow * swing), c);
    const input: TickInput = {
      mode: 'canary',
      weight: c.weight,
      canary: canary.pair,
      baseline: baseline.pair,
      buckets: { canary: canary.buckets, baseline: baseline.buckets },
    };
    if (stepSignal(s, input, (t + 1) * STEP, t, true)) return { tick: t + 1, judge: s };
  }
  return { tick: null, judge: s };
}
