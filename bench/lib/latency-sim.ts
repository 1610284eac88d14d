// A simulated canary of a latency signal, tick by tick through the production signal judge: per tick, each
// arm's requests (shared gamma burstiness, over-dispersed counts), spread over histogram buckets with a
// share slower than 500 ms (clumped: a stalled pod slows many requests of its version at once), turned into
// the judge's input exactly as src/watch/inputs.ts does for a histogram (slow = count - bucket{le=0.5},
// requests = count, the buckets for quantiles). The robustness conditions of the canary benchmark apply:
// per-version drift, a real share off the declared weight, clumping, a slow share swinging in both arms.
// Shared by bench/latency and its seeded test.
import {
  newSignalJudge,
  stepSignal,
  type ArmPair,
  type SignalJudgeState,
  type TickInput,
} from '../../src/watch/signal-judge.js';
import { measureFloor } from '../../src/judge/dispersion.js';
import { BOUNDS, cumulative, SLOW_BOUND, tickBuckets } from './histogram.js';
import { gamma, mulberry32, normal, overdispersedCount, type Rng } from './random.js';

export const STEP = 15;
export const ALPHA = 0.001;
const BURST_SHAPE = 20;
/** AR(1) coefficient of the per-version drift (the canary benchmark's) */
const DRIFT_PHI = 0.9;

export interface LatencyCell {
  /** requests per second, both arms together */
  total: number;
  /** the canary's declared traffic share (the stage weight the judge is told) */
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
  /** the canary's real share of requests over the declared weight (0.8: 20% below it) */
  shareFactor?: number;
  /** per-version AR(1) drift (coefficient 0.9) of the log request rate and of the log slow share, sd a tick */
  driftSd?: number;
  /**
   * ticks of the old version's history before the deploy (all the traffic), simulated with the same
   * processes; the judge gets what the watcher measures on it (none: no history, an embedded scraper just
   * started)
   */
  historyTicks?: number;
}

interface Arm {
  pair: ArmPair;
  buckets: { bounds: number[]; counts: number[] };
}

function armTick(rng: Rng, mean: number, slowShare: number, c: LatencyCell): Arm {
  const n = overdispersedCount(rng, mean, c.dispersion);
  const cum = cumulative(tickBuckets(rng, n, Math.min(1, slowShare), c.slowDispersion));
  const fast = cum[BOUNDS.indexOf(SLOW_BOUND)] as number;
  return {
    pair: { num: { value: n - fast, live: 1 }, den: { value: n, live: 1 } },
    buckets: { bounds: BOUNDS, counts: cum },
  };
}

/** Per-version drift state: log-rate and log slow-share offsets. */
class Drift {
  rate = 0;
  slow = 0;
  constructor(private readonly sd: number) {}
  step(rng: Rng): void {
    if (this.sd <= 0) return;
    this.rate = DRIFT_PHI * this.rate + this.sd * normal(rng);
    this.slow = DRIFT_PHI * this.slow + this.sd * normal(rng);
  }
}

export interface LatencyJudgeOptions {
  /** the old version's history before the deploy: slow and all requests per tick (for the judge's floor) */
  history?: { slow: Float64Array; requests: Float64Array } | null;
}

export function newLatencyJudge(o: LatencyJudgeOptions = {}): SignalJudgeState {
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
    // the watcher's canaryFloor for a latency signal: slow requests given requests on the old version's hour
    floor: o.history ? measureFloor(o.history.slow, o.history.requests) : null,
  });
}

/** The old version alone for `ticks` ticks before the deploy, under the cell's processes. */
function simulateHistory(rng: Rng, c: LatencyCell, ticks: number, drift: Drift) {
  const slow = new Float64Array(ticks);
  const requests = new Float64Array(ticks);
  for (let t = 0; t < ticks; t++) {
    drift.step(rng);
    const mu = c.total * STEP * (gamma(rng, BURST_SHAPE) / BURST_SHAPE);
    const swing = c.sharedSlowShape ? gamma(rng, c.sharedSlowShape) / c.sharedSlowShape : 1;
    const a = armTick(rng, mu * Math.exp(drift.rate), c.baselineSlow * swing * Math.exp(drift.slow), c);
    slow[t] = a.pair.num.value;
    requests[t] = (a.pair.den as { value: number }).value;
  }
  return { slow, requests };
}

/** Runs one canary for up to `ticks` ticks; returns the deciding tick (1-based) or null, and the judge. */
export function runLatencyCanary(
  seed: number,
  c: LatencyCell,
  ticks: number,
): { tick: number | null; judge: SignalJudgeState } {
  const rng = mulberry32(seed);
  const canaryDrift = new Drift(c.driftSd ?? 0);
  const baselineDrift = new Drift(c.driftSd ?? 0);
  const history = c.historyTicks ? simulateHistory(rng, c, c.historyTicks, baselineDrift) : null;
  const s = newLatencyJudge({ history });
  const real = Math.min(0.999, c.weight * (c.shareFactor ?? 1));
  for (let t = 0; t < ticks; t++) {
    canaryDrift.step(rng);
    baselineDrift.step(rng);
    const mu = c.total * STEP * (gamma(rng, BURST_SHAPE) / BURST_SHAPE);
    const swing = c.sharedSlowShape ? gamma(rng, c.sharedSlowShape) / c.sharedSlowShape : 1;
    const canary = armTick(
      rng,
      mu * real * Math.exp(canaryDrift.rate),
      c.canarySlow * swing * Math.exp(canaryDrift.slow),
      c,
    );
    const baseline = armTick(
      rng,
      mu * (1 - real) * Math.exp(baselineDrift.rate),
      c.baselineSlow * swing * Math.exp(baselineDrift.slow),
      c,
    );
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
