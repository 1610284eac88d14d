// The false-alarm conditions of bench/latency: the robustness conditions of the canary benchmark
// (bench/robustness) as they apply to a latency signal, one at a time on a common base (shared burstiness,
// request counts 1.3x Poisson per version, drawn traffic, weight and baseline slow share), so a broken
// promise names its cause.
import { mulberry32 } from '../lib/random.js';
import type { LatencyCell } from '../lib/latency-sim.js';

export const WATCH_TICKS = 120; // 30 minutes at 15 s: the default watchFor
export const HISTORY_TICKS = 240; // the hour before the deploy the watcher measures the floor on
export const WEIGHTS = [0.05, 0.1, 0.25, 0.5];
/** requests per second of both arms, log-uniform over this range */
export const TOTAL_RANGE = [2, 300] as const;
/** the share of requests slower than 500 ms, log-uniform over this range (the same in both arms: good) */
export const SLOW_RANGE = [0.001, 0.05] as const;
export const BASE_DISPERSION = 1.3;

export interface Condition {
  name: string;
  what: string;
  cell: Partial<LatencyCell>;
}

export const CONDITIONS: Condition[] = [
  ...[1, 2, 3, 5].map((D) => ({
    name: `clump-${D}x`,
    what: `slow requests clumped within each version: ${D}x binomial variance (a stalled pod; beta-binomial)`,
    cell: { slowDispersion: D },
  })),
  ...[0.02, 0.05].map((sd) => ({
    name: `drift-${sd}`,
    what: `per-version AR(1) drift of the log request rate and of the log slow share, sd ${sd} a tick, coefficient 0.9`,
    cell: { driftSd: sd },
  })),
  ...[0.8, 1.2].map((f) => ({
    name: `share-${f}`,
    what: `the canary's real share of requests ${Math.round((f - 1) * 100)}% off the declared weight`,
    cell: { shareFactor: f },
  })),
  {
    name: 'shared-swing',
    what: 'the slow share swinging in both versions at once (a slow dependency: gamma shape 4 a tick)',
    cell: { sharedSlowShape: 4 },
  },
];

/** A good canary of a condition: traffic, weight and slow share drawn from the seed, the condition on top. */
export function goodCell(condition: Condition, seed: number, history: boolean): LatencyCell {
  const rng = mulberry32(seed * 7919 + 17);
  const logUniform = ([lo, hi]: readonly [number, number]) => lo * Math.pow(hi / lo, rng());
  const slow = logUniform(SLOW_RANGE);
  return {
    total: logUniform(TOTAL_RANGE),
    weight: WEIGHTS[seed % WEIGHTS.length] as number,
    baselineSlow: slow,
    canarySlow: slow,
    dispersion: BASE_DISPERSION,
    slowDispersion: 1,
    ...(history ? { historyTicks: HISTORY_TICKS } : {}),
    ...condition.cell,
  };
}
