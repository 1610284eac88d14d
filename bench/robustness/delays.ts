// The delay part of bench/robustness: ticks to the halt for drops of the canary's orders, and for a rise of
// its error ratio, on the production simulator with Navigator's production judge.
import { ALPHA, MIN_EFFECT, judgeCanary } from '../lib/navigator-canary.js';
import { informationRate, simulateProduction } from '../lib/production.js';
import { HISTORY_TICKS } from './conditions.js';

export const DROPS = [0.99, 0.5, 0.2, 0.1, 0.05];
export const CANARY_RATES = [1, 10];
export const DELAY_DISPERSIONS = [1, 2];
export const DELAY_WEIGHT = 0.1;
export const DELAY_RUNS = 101;
/** how long a delay run may watch: past 3x the dispersion-adjusted bound of the slowest cell and then some */
export const DELAY_MAX_TICKS = 4000;

export interface DelayTask {
  drop: number;
  rate: number;
  dispersion: number;
  traffic: boolean;
  history: boolean;
  from: number;
  to: number;
}

export interface DelayResult extends DelayTask {
  /** ticks to the halt, 1-based (null: not within DELAY_MAX_TICKS) */
  ticks: (number | null)[];
}

/**
 * The known-baseline Poisson information bound in ticks, widened by the data's real dispersion D:
 * D ln(1/alpha) / I (design §3). Kept for comparison with earlier runs; it is not a bound any canary test
 * can reach (next).
 */
export function poissonBoundTicks(rate: number, drop: number, dispersion: number): number {
  return (dispersion * Math.log(1 / ALPHA)) / informationRate(rate, drop) / 15;
}

/**
 * The information bound of the problem a canary test solves, in ticks: D ln(1/alpha) / I_c with I_c the
 * Kullback-Leibler information per tick of the canary's share of the tick's events, n KL(Bern(theta_d) ||
 * Bern(theta_0)), n the events of both arms a tick, theta_d the canary's share under the drop, theta_0 at
 * the null's boundary r0 = 1 - minEffect (a drop of 1% is "no regression": no valid test can tell d from
 * r0 faster), D the data's real dispersion of that share. Why conditional on the total: the shared traffic
 * swings (gamma bursts of shape 20 a tick here) are unknown to any canary judge, and the total is what
 * makes them cancel; a test that knew the baseline rate exactly (poissonBoundTicks) is not on offer.
 */
export function boundTicks(rate: number, drop: number, dispersion: number, weight = DELAY_WEIGHT): number {
  const share = (r: number) => (weight * r) / (weight * r + 1 - weight);
  const t0 = share(1 - MIN_EFFECT);
  const td = share(1 - drop);
  const n = (rate * (1 - drop) + (rate * (1 - weight)) / weight) * 15;
  const kl = td * Math.log(td / t0) + (1 - td) * Math.log((1 - td) / (1 - t0));
  return (dispersion * Math.log(1 / ALPHA)) / (n * kl);
}

export function runDelay(task: DelayTask): DelayResult {
  const ticks: (number | null)[] = [];
  for (let seed = task.from; seed < task.to; seed++) {
    const run = simulateProduction({
      seed: 1_000_000 + seed,
      ticks: DELAY_MAX_TICKS,
      canaryRate: task.rate,
      weight: DELAY_WEIGHT,
      drop: task.drop,
      dispersion: task.dispersion,
      historyTicks: HISTORY_TICKS,
    });
    const out = judgeCanary(run, { traffic: task.traffic, history: task.history, signals: ['orders'] });
    ticks.push(out.orders === null ? null : out.orders + 1);
  }
  return { ...task, ticks };
}

export interface ErrorTask {
  traffic: boolean;
  history: boolean;
  from: number;
  to: number;
}

/** Error ratio 0.5% -> 10% in a 10% canary at 30 requests/s in total: ticks to the halt. */
export function runErrors(task: ErrorTask): ErrorTask & { ticks: (number | null)[] } {
  const ticks: (number | null)[] = [];
  for (let seed = task.from; seed < task.to; seed++) {
    const run = simulateProduction({
      seed: 2_000_000 + seed,
      ticks: 40,
      canaryRate: 0.3, // 3 orders/s in total, 10 requests per order: 30 requests/s
      weight: 0.1,
      errorRatio: 0.005,
      errorRatioAfter: 0.1,
      dispersion: 1.3,
      historyTicks: HISTORY_TICKS,
    });
    const out = judgeCanary(run, { traffic: task.traffic, history: task.history, signals: ['errors'] });
    ticks.push(out.errors === null ? null : out.errors + 1);
  }
  return { ...task, ticks };
}
