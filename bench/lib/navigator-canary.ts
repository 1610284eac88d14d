// Navigator's production canary judge (src/watch/signal-judge.ts, and the declared split of
// src/watch/inputs.ts `stageWeights`) fed a ProductionRun tick by tick, as the watcher feeds it: orders as
// a count signal (bad: drop), errors as a ratio signal over the requests (bad: rise), with or without the
// service's `traffic` counter. A scrape gap arrives as blind ticks and then one observation spanning them.
// With `history`, each per-exposure signal's dispersion floor is measured on the run's simulated history
// before the deploy by the same function the watcher uses (src/judge/dispersion.ts measureFloor; for orders
// without `traffic`, measurePlaceboFloor on two halves of the old version's instances).
import { stageWeights } from '../../src/watch/inputs.js';
import { newSignalJudge, STAGE_LAG, stepSignal, type CanaryTickInput } from '../../src/watch/signal-judge.js';
import type { Deploy } from '../../src/model/deploy.js';
import { measureFloor, measurePlaceboFloor } from '../../src/judge/dispersion.js';
import type { ProductionRun } from './production.js';

export const ALPHA = 0.001;
export const MIN_EFFECT = 0.01;
const STEP = 15;

export interface CanaryOutcome {
  /** tick (0-based) each signal failed at, or null */
  orders: number | null;
  errors: number | null;
  /** the failing test: main or traffic */
  ordersTest: 'main' | 'traffic' | null;
  errorsTest: 'main' | 'traffic' | null;
}

export interface JudgeOptions {
  traffic: boolean;
  /** measure each per-exposure signal's dispersion floor on the run's history before the deploy */
  history?: boolean;
  /** judge only these signals (default both) */
  signals?: ('orders' | 'errors')[];
  /** stop at the first failure of any judged signal */
  stopAtFirst?: boolean;
}

/** The deploy the run's declared weights describe, so the watcher's own stageWeights reads it. */
function deployOf(run: ProductionRun): Deploy {
  const stages: Deploy['stages'] = [];
  run.weight.forEach((w, t) => {
    if (t === 0 || w !== run.weight[t - 1]) stages.push({ at: t * STEP, weight: w });
  });
  return {
    id: 'bench',
    service: 'bench',
    version: 'v2',
    baselineVersion: 'v1',
    strategy: 'canary',
    startedAt: 0,
    stages,
    change: null,
  };
}

const arm = (value: number) => ({ value, live: 1 });
const unknown = { value: NaN, live: 1 };

export function judgeCanary(run: ProductionRun, o: JudgeOptions): CanaryOutcome {
  const which = o.signals ?? ['orders', 'errors'];
  const orders = which.includes('orders')
    ? newSignalJudge({
        name: 'orders',
        kind: 'count',
        mode: 'canary',
        direction: 'drop',
        alpha: ALPHA,
        tolerance: MIN_EFFECT,
        forecast: null,
        trafficForecast: null,
        traffic: o.traffic ? { metric: 'http_requests_total' } : null,
        // the watcher's canaryFloor: orders given requests with `traffic` (judged per request); without, a
        // placebo split of the old version's instances into two halves
        floor: !o.history
          ? null
          : o.traffic
            ? measureFloor(run.history.orders, run.history.requests)
            : measurePlaceboFloor(
                run.history.ordersA,
                run.history.orders.map((x, i) => x - (run.history.ordersA[i] as number)),
              ),
      })
    : null;
  const errors = which.includes('errors')
    ? newSignalJudge({
        name: 'errors',
        kind: 'ratio',
        mode: 'canary',
        direction: 'rise',
        alpha: ALPHA,
        tolerance: MIN_EFFECT,
        forecast: null,
        trafficForecast: null,
        floor: o.history ? measureFloor(run.history.errors, run.history.requests) : null,
      })
    : null;
  const deploy = deployOf(run);
  const out: CanaryOutcome = { orders: null, errors: null, ordersTest: null, errorsTest: null };
  const sum = (xs: number[], t: number, span: number) => {
    let s = 0;
    for (let k = t - span + 1; k <= t; k++) s += xs[k] as number;
    return s;
  };
  for (let t = 0; t < run.ticks; t++) {
    const span = run.span[t] as number;
    const end = (t + 1) * STEP;
    let input: { orders: CanaryTickInput; errors: CanaryTickInput };
    if (span === 0) {
      const blind: CanaryTickInput = {
        mode: 'canary',
        weight: run.weight[t] as number,
        canary: { num: unknown, den: unknown },
        baseline: { num: unknown, den: unknown },
        exposure: { canary: unknown, baseline: unknown },
      };
      input = { orders: blind, errors: blind };
    } else {
      // Over a span of several ticks: summed counts, the declared weight averaged over the span, and the
      // lowest and highest weight over it and the STAGE_LAG ticks before.
      let wSum = 0;
      let low = Infinity;
      let high = -Infinity;
      for (let k = t - span + 1; k <= t; k++) {
        const sw = stageWeights(deploy, (k + 1) * STEP, STEP, STAGE_LAG);
        wSum += sw.weight;
        low = Math.min(low, sw.weightLow);
        high = Math.max(high, sw.weightHigh);
      }
      const weights = { weight: wSum / span, weightLow: low, weightHigh: high };
      const exposure = {
        canary: arm(sum(run.canaryRequests, t, span)),
        baseline: arm(sum(run.baselineRequests, t, span)),
      };
      input = {
        orders: {
          mode: 'canary',
          ...weights,
          span,
          exposure: o.traffic ? exposure : null,
          canary: { num: arm(sum(run.canaryOrders, t, span)), den: null },
          baseline: { num: arm(sum(run.baselineOrders, t, span)), den: null },
        },
        errors: {
          mode: 'canary',
          ...weights,
          span,
          canary: { num: arm(sum(run.canaryErrors, t, span)), den: exposure.canary },
          baseline: { num: arm(sum(run.baselineErrors, t, span)), den: exposure.baseline },
        },
      };
    }
    if (orders && out.orders === null && stepSignal(orders, input.orders, end, t, true)) {
      out.orders = t;
      out.ordersTest = orders.failed;
    }
    if (errors && out.errors === null && stepSignal(errors, input.errors, end, t, true)) {
      out.errors = t;
      out.errorsTest = errors.failed;
    }
    if (o.stopAtFirst && (out.orders !== null || out.errors !== null)) break;
    if ((!orders || out.orders !== null) && (!errors || out.errors !== null)) break;
  }
  return out;
}
