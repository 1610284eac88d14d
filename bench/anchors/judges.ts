// Reference judges: the decision rules of Flagger, Argo Rollouts and Kayenta (shared/reference/anchors.md),
// each with its documented example settings and the query its users would naturally write, next to
// Navigator's judge. All read the same simulated recording: per 15 s tick counts for canary and baseline.
import { newSignalJudge, stepSignal } from '../../src/watch/signal-judge.js';
import { mannWhitney } from './mannwhitney.js';

export const TICK = 15;

export interface Recording {
  weight: number;
  /** per tick */
  canaryOrders: number[];
  baselineOrders: number[];
  /** orders the canary would have had without the regression, per tick (for "orders lost") */
  expectedCanaryOrders: number[];
  drop: number;
}

export interface Judge {
  name: string;
  settings: string;
  /** how long the judge watches a rollout before it promotes (its documented analysis length) */
  lifetimeSeconds: number;
  /** the tick index (0-based) at whose end the judge halts, or null */
  decide(r: Recording): number | null;
}

/** The canary's orders per unit of traffic against the baseline's, over ticks [from, to): what users query. */
function relative(r: Recording, from: number, to: number): number | null {
  let c = 0;
  let b = 0;
  for (let i = from; i < to; i++) {
    c += r.canaryOrders[i] as number;
    b += r.baselineOrders[i] as number;
  }
  if (c === 0) return null; // the canary series has no samples in the window: "no values found"
  if (b === 0) return null;
  return c / r.weight / (b / (1 - r.weight));
}

export const navigator: Judge = {
  name: 'Navigator',
  settings: 'falseAlarmRate 0.001, minEffect 0.01, 15 s ticks, watchFor 30m (the defaults)',
  lifetimeSeconds: 1800,
  decide(r) {
    const s = newSignalJudge({
      name: 'orders',
      kind: 'count',
      mode: 'canary',
      direction: 'drop',
      alpha: 0.001,
      tolerance: 0.01,
      forecast: null,
      trafficForecast: null,
    });
    for (let i = 0; i < r.canaryOrders.length; i++) {
      const input = {
        mode: 'canary' as const,
        weight: r.weight,
        canary: { num: { value: r.canaryOrders[i] as number, live: 1 }, den: null },
        baseline: { num: { value: r.baselineOrders[i] as number, live: 1 }, den: null },
      };
      if (stepSignal(s, input, i, i, true)) return i;
    }
    return null;
  },
};

/**
 * Flagger: one check per `interval` (1 m) of the metric over the last interval against its threshold range
 * (here: canary orders per unit of traffic at least 95% of the baseline's); failed checks never reset; no
 * data is a failed check; roll back when failed checks reach `threshold`.
 */
export function flagger(threshold: number): Judge {
  return {
    name: `Flagger (threshold ${threshold})`,
    settings: `interval 1m, threshold ${threshold} (${threshold === 5 ? 'Istio tutorial' : 'deployment-strategies example'}), thresholdRange min 0.95 on canary/baseline orders per unit of traffic, 30 checks`,
    lifetimeSeconds: 1800,
    decide(r) {
      const per = 60 / TICK;
      let failed = 0;
      for (let end = per; end <= r.canaryOrders.length; end += per) {
        const v = relative(r, end - per, end);
        if (v === null || v < 0.95) failed++;
        // the rollback happens on the next check after the threshold is reached
        if (failed >= threshold) return Math.min(r.canaryOrders.length - 1, end - 1 + per);
      }
      return null;
    },
  };
}

/**
 * Argo Rollouts: one measurement per `interval` (5 m) against `successCondition: result[0] >= 0.95`;
 * the run fails when failed measurements exceed `failureLimit` 3 (the fourth); an empty result is an error,
 * and more than `consecutiveErrorLimit` 4 consecutive errors end the run in Error (an abort too).
 */
export const argo: Judge = {
  name: 'Argo Rollouts',
  settings:
    'interval 5m, successCondition result[0] >= 0.95, failureLimit 3, consecutiveErrorLimit 4 (analysis example), 30m of background analysis',
  lifetimeSeconds: 1800,
  decide(r) {
    const per = 300 / TICK;
    let failed = 0;
    let errors = 0;
    for (let end = per; end <= r.canaryOrders.length; end += per) {
      const v = relative(r, end - per, end);
      if (v === null) {
        errors++;
        if (errors > 4) return end - 1;
        continue;
      }
      errors = 0;
      if (v < 0.95) failed++;
      if (failed > 3) return end - 1;
    }
    return null;
  },
};

/**
 * Kayenta: per-minute points of canary and baseline (orders per unit of traffic), Mann-Whitney U with the
 * 98% interval of the Hodges-Lehmann shift, tolerance 0.25; judged every 60 minutes over the growing
 * window; a critical metric classified Low fails the run.
 */
export const kayenta: Judge = {
  name: 'Kayenta',
  settings:
    'lifetime 3h, interval 60m over a growing window, Mann-Whitney 98% interval, tolerance 0.25, metric critical, direction decrease (best-practices guide)',
  lifetimeSeconds: 3 * 3600,
  decide(r) {
    const per = 60 / TICK;
    const canary: number[] = [];
    const baseline: number[] = [];
    for (let end = per; end <= r.canaryOrders.length; end += per) {
      let c = 0;
      let b = 0;
      for (let i = end - per; i < end; i++) {
        c += r.canaryOrders[i] as number;
        b += r.baselineOrders[i] as number;
      }
      canary.push(c / r.weight);
      baseline.push(b / (1 - r.weight));
      if (canary.length % 60 !== 0) continue;
      const t = mannWhitney(canary, baseline, 0.98);
      // Kayenta's MannWhitneyClassifier: bounds +/- tolerance x |Hodges-Lehmann estimate|; Low when the
      // interval's upper end is below the lower bound.
      if (t.upper < -0.25 * Math.abs(t.estimate)) return end - 1;
    }
    return null;
  },
};
