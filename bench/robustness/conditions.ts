// The conditions of bench/robustness: each a way production traffic is untidier than a textbook canary,
// applied one at a time on a common base (shared burstiness, per-version dispersion 1.3, drawn weights
// and rates), so a broken promise names its cause.
import type { ProductionSpec } from '../lib/production.js';
import { mulberry32 } from '../lib/random.js';

export const WATCH_TICKS = 120; // 30 minutes at 15 s: the default watchFor
export const WEIGHTS = [0.05, 0.1, 0.25, 0.5];
const NEXT_STAGE: Record<number, number> = { 0.05: 0.1, 0.1: 0.25, 0.25: 0.5, 0.5: 0.75 };
/** the canary's orders per second, log-uniform over this range (requests: 10 per order; errors: 0.5%) */
export const RATE_RANGE = [0.5, 20] as const;
export const BASE_DISPERSION = 1.3;
/** the old version's history before the deploy: an hour at 15 s ticks (the watcher's FLOOR_SECONDS) */
export const HISTORY_TICKS = 240;

export interface Condition {
  name: string;
  what: string;
  spec: (seed: number) => Partial<ProductionSpec>;
}

export const CONDITIONS: Condition[] = [
  ...[1, 2, 3, 5].map((D) => ({
    name: `nb-D${D}`,
    what: `negative-binomial counts, variance ${D}x the mean, per version and counter`,
    spec: () => ({ dispersion: D }),
  })),
  ...[0.02, 0.05].map((sd) => ({
    name: `drift-${sd}`,
    what: `per-version AR(1) drift of the log-rate, innovation sd ${sd} a tick, coefficient 0.9`,
    spec: () => ({ driftSd: sd }),
  })),
  ...[0.8, 1.2].map((f) => ({
    name: `share-${f}`,
    what: `the canary's real share ${Math.round((f - 1) * 100)}% off the declared weight`,
    spec: () => ({ shareFactor: f }),
  })),
  ...[1, 2].map((lag) => ({
    name: `stage-late-${lag}`,
    what: `a stage change at tick 40 (the next weight up) that the traffic follows ${lag} tick(s) late`,
    spec: (seed: number) => {
      const w = WEIGHTS[seed % WEIGHTS.length] as number;
      return { stage: { at: 40, weight: NEXT_STAGE[w] as number, lag } };
    },
  })),
  {
    name: 'gap-60s',
    what: "60 s of missed scrapes on the canary at a random tick; the counters' jump arrives as one observation",
    spec: (seed: number) => ({ gap: { at: 8 + Math.floor(mulberry32(seed ^ 0x9e3779b9)() * 100), ticks: 4 } }),
  },
  {
    name: 'retry-storms',
    what: 'shared retry storms: 2% of ticks, 5% of requests fail and are retried in clumps of mean 5',
    spec: () => ({ storms: { prob: 0.02, ratio: 0.05, clump: 5 } }),
  },
  {
    name: 'push-3x',
    what: 'a traffic push: the total rate x3 for 5 minutes from tick 40',
    spec: () => ({ push: { at: 40, ticks: 20, factor: 3 } }),
  },
];

/** The base of every run: weight and rate drawn from the seed, the condition's changes on top. */
export function runSpec(condition: Condition, seed: number): ProductionSpec {
  const rng = mulberry32(seed * 7919 + 17);
  const [lo, hi] = RATE_RANGE;
  const canaryRate = lo * Math.pow(hi / lo, rng());
  return {
    seed,
    ticks: WATCH_TICKS,
    canaryRate,
    weight: WEIGHTS[seed % WEIGHTS.length] as number,
    dispersion: BASE_DISPERSION,
    historyTicks: HISTORY_TICKS,
    ...condition.spec(seed),
  };
}
