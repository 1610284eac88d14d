// Reference judges: the decision rules of the three tools teams would pick instead of Navigator, reproduced
// from their documentation and source (shared/reference/anchors.md), each with its documented example
// settings and the query its users would naturally write for our two signals:
//   orders (a count, bad when it falls): the canary's orders per unit of traffic against the baseline's,
//     (canary orders / canary weight) / (baseline orders / baseline weight), must stay >= 0.95: "no worse
//     than 5%" is what a user writes when a plain threshold on a business count is meaningless;
//   errors (a ratio, bad when it rises): the canary's error ratio, errors / requests, must stay <= 1%
//     (Flagger's built-in request-success-rate with thresholdRange min 99, i.e. errors at most 1%).
// A judge reads a Recording and says at which tick it halts the rollout (null: never within the recording).
import { mannWhitney } from './mannwhitney.js';
import type { Recording } from './simulate.js';

export type BenchSignal = 'orders' | 'errors';

export interface BenchDecision {
  /** index of the tick at whose end the judge halts; null if it never does within the recording */
  tick: number | null;
  /** the halt was an analysis error (Argo: too many consecutive measurement errors), not a failed check */
  error?: boolean;
}

export interface BenchJudge {
  name: string;
  settings: Record<string, unknown>;
  /** where the rule and the settings come from */
  source: string;
  decide(rec: Recording, signal: BenchSignal): BenchDecision;
}

/** The orders threshold users write for a relative business metric ("no worse than 5%"). */
export const ORDERS_MIN_RELATIVE = 0.95;
/** The error-ratio threshold: Flagger's built-in success rate of at least 99%. */
export const ERRORS_MAX_RATIO = 0.01;

function ticksPer(rec: Recording, seconds: number): number {
  const k = seconds / rec.tickSeconds;
  if (!Number.isInteger(k) || k < 1)
    throw new Error(`an interval of ${seconds} s is not whole ${rec.tickSeconds} s ticks`);
  return k;
}

function sum(xs: readonly number[], from: number, to: number): number {
  let s = 0;
  for (let i = Math.max(0, from); i < to; i++) s += xs[i] as number;
  return s;
}

/**
 * One query over ticks [from, to), as Prometheus would answer it: a number, NaN (0/0), or null when the
 * canary's series have no samples in the window ("no values found": the canary served no requests).
 */
export function windowValue(rec: Recording, signal: BenchSignal, from: number, to: number): number | null {
  const requests = sum(rec.canaryRequests, from, to);
  if (from < 0 || requests === 0) return null;
  if (signal === 'errors') return sum(rec.canaryErrors, from, to) / requests;
  const w = rec.weight[to - 1] as number;
  const c = sum(rec.canaryOrders, from, to) / w;
  const b = sum(rec.baselineOrders, from, to) / (1 - w);
  return c / b; // 0/0 is NaN, c/0 is +Inf: PromQL's division does the same
}

/** Does a value pass the user's condition? NaN never does (Flagger counts it as a failed check). */
function passes(signal: BenchSignal, v: number): boolean {
  return signal === 'orders' ? v >= ORDERS_MIN_RELATIVE : v <= ERRORS_MAX_RATIO;
}

const QUERIES = {
  orders: `(sum(increase(orders_total{version="canary"}[I])) / w) / (sum(increase(orders_total{version="primary"}[I])) / (1 - w)) >= ${ORDERS_MIN_RELATIVE}`,
  errors: `sum(increase(http_requests_total{version="canary",code=~"5.."}[I])) / sum(increase(http_requests_total{version="canary"}[I])) <= ${ERRORS_MAX_RATIO}`,
};

/**
 * Flagger: every `interval` (1 m) the scheduler first rolls back if status.failedChecks >= threshold, then
 * checks each metric over the last interval against its thresholdRange and increments failedChecks on a
 * failure; failedChecks is never reset during the analysis; "no values found" and NaN are failed checks.
 * The first scheduler tick (t = 0) only starts the canary, so a collapse from the start fails checks at
 * 1..threshold minutes and is rolled back at minute threshold + 1 (anchors.md: interval x threshold, plus up
 * to one interval).
 */
export function flaggerJudge(threshold: number): BenchJudge {
  const example = threshold === 5 ? 'Istio tutorial' : threshold === 10 ? 'deployment-strategies example' : 'custom';
  return {
    name: `Flagger (threshold ${threshold})`,
    settings: {
      interval: '1m',
      threshold,
      thresholdRange: { orders: { min: ORDERS_MIN_RELATIVE }, errors: { max: ERRORS_MAX_RATIO * 100, unit: '%' } },
      metricInterval: '1m',
      queries: QUERIES,
      noData: 'failed check',
    },
    source: `fluxcd/flagger pkg/controller/scheduler.go (advanceCanary: threshold check before runAnalysis; failedChecks never reset); threshold ${threshold} from the ${example}; anchors.md`,
    decide(rec, signal) {
      const per = ticksPer(rec, 60);
      let failed = 0;
      for (let k = 1; k * per <= rec.ticks; k++) {
        const end = k * per;
        if (failed >= threshold) return { tick: end - 1 };
        const v = windowValue(rec, signal, end - per, end);
        if (v === null || !passes(signal, v)) failed++;
      }
      return { tick: null };
    },
  };
}

/**
 * Argo Rollouts: an AnalysisRun takes its first measurement at once (no initialDelay), then one every
 * `interval` (5 m) of the query over the last 5 minutes. A measurement whose successCondition is false is
 * Failed (NaN compares false); an empty result makes `result[0]` an evaluation error. The run fails when
 * failed measurements exceed failureLimit (3: the fourth) and ends in Error, which aborts as well, when
 * consecutive errors exceed consecutiveErrorLimit (4: the fifth in a row); a good or failed measurement resets
 * the consecutive-error count. The measurement at t = 0 sees no canary data yet: an error, reset later.
 */
export function argoJudge(): BenchJudge {
  const failureLimit = 3;
  const consecutiveErrorLimit = 4;
  return {
    name: 'Argo Rollouts',
    settings: {
      interval: '5m',
      successCondition: { orders: `result[0] >= ${ORDERS_MIN_RELATIVE}`, errors: `result[0] <= ${ERRORS_MAX_RATIO}` },
      failureLimit,
      consecutiveErrorLimit,
      count: 'unbounded (background analysis for the whole recording)',
      queries: QUERIES,
      noData: 'measurement error',
    },
    source:
      'argoproj/argo-rollouts analysis controller and docs (background analysis example: interval 5m, successCondition result[0] >= 0.95, failureLimit 3; consecutiveErrorLimit default 4); anchors.md',
    decide(rec, signal) {
      const per = ticksPer(rec, 300);
      let failed = 0;
      let errors = 0;
      for (let k = 0; k * per <= rec.ticks; k++) {
        const end = k * per;
        const v = windowValue(rec, signal, end - per, end);
        if (v === null) {
          errors++;
          if (errors > consecutiveErrorLimit) return { tick: Math.max(0, end - 1), error: true };
          continue;
        }
        errors = 0;
        if (!passes(signal, v)) failed++;
        if (failed > failureLimit) return { tick: end - 1 };
      }
      return { tick: null };
    },
  };
}

export type KayentaClass = 'Pass' | 'High' | 'Low' | 'Nodata';

/**
 * Kayenta's MannWhitneyClassifier.classify for one metric (kayenta-judge, 2025): no data; identical data
 * Pass; a single distinct value Pass; else Mann-Whitney at `confidence`, bounds at +/- tolerance x |estimate|,
 * High when the interval's lower end is above the upper bound (and the mean ratio >= 1, the default
 * effect-size threshold), Low the mirror. Kayenta adds tiny Gaussian noise when each side has a single value;
 * the interval then sits on the difference itself, which is what we use.
 */
export function kayentaClassify(
  experiment: readonly number[],
  control: readonly number[],
  direction: 'increase' | 'decrease',
  tolerance = 0.25,
  confidence = 0.98,
): KayentaClass {
  if (experiment.length === 0 || control.length === 0) return 'Nodata';
  const e = [...experiment].sort((a, b) => a - b);
  const c = [...control].sort((a, b) => a - b);
  if (e.length === c.length && e.every((v, i) => v === c[i])) return 'Pass';
  const singleE = e[0] === e[e.length - 1];
  const singleC = c[0] === c[c.length - 1];
  if (singleE && singleC && e[0] === c[0]) return 'Pass';
  let lower: number;
  let upper: number;
  let estimate: number;
  if (singleE && singleC) {
    estimate = (e[0] as number) - (c[0] as number);
    lower = upper = estimate;
  } else {
    const t = mannWhitney(e, c, confidence);
    ({ lower, upper, estimate } = t);
  }
  const bound = tolerance * Math.abs(estimate);
  const meanC = c.reduce((s, v) => s + v, 0) / c.length;
  const ratio = meanC === 0 ? 1 : e.reduce((s, v) => s + v, 0) / e.length / meanC;
  if (direction === 'increase' && lower > bound && ratio >= 1) return 'High';
  if (direction === 'decrease' && upper < -bound && ratio <= 1) return 'Low';
  return 'Pass';
}

/**
 * Kayenta as Spinnaker's best-practices guide sets it up: one critical metric, per-minute points of canary
 * and baseline, a judgement every 60 minutes over the window grown since the start; a critical metric
 * classified Low (orders, direction decrease) or High (errors, direction increase) scores 0 and fails the
 * run, as does a metric with no data (100% no-data metrics score 0). NaN points (a minute without requests
 * has no error ratio) are removed (nanStrategy remove). Kayenta warns below 50 points per metric; a judgement
 * at 60 minutes has 60. Its documented lifetime is 3 h; here it keeps judging hourly for the whole recording.
 */
export function kayentaJudge(): BenchJudge {
  const tolerance = 0.25;
  const confidence = 0.98;
  return {
    name: 'Kayenta',
    settings: {
      interval: '60m',
      window: 'growing from the start',
      step: '1m points',
      lifetime: '3h (documented; not applied: judged hourly for the whole recording)',
      confidence,
      tolerance,
      critical: true,
      direction: { orders: 'decrease', errors: 'increase' },
      nanStrategy: 'remove',
      scoreThresholds: { marginal: 75, pass: 95 },
      minPointsWarning: 50,
      queries: {
        orders: 'per arm: sum(increase(orders_total{version=ARM}[1m])) / ARM weight',
        errors: 'per arm: errors / requests per minute',
      },
    },
    source:
      'spinnaker/kayenta kayenta-judge MannWhitneyClassifier.scala and mannwhitney/MannWhitney.scala (98% interval, tolerance 0.25 in NetflixACAJudge); Spinnaker canary best practices (lifetime 3h, interval 60m, marginal 75, pass 95); anchors.md',
    decide(rec, signal) {
      const per = ticksPer(rec, 60);
      const judgement = 60;
      const canary: number[] = [];
      const baseline: number[] = [];
      const minutes = Math.floor(rec.ticks / per);
      for (let k = 1; k <= minutes; k++) {
        const from = (k - 1) * per;
        const to = k * per;
        const w = rec.weight[to - 1] as number;
        if (signal === 'orders') {
          canary.push(sum(rec.canaryOrders, from, to) / w);
          baseline.push(sum(rec.baselineOrders, from, to) / (1 - w));
        } else {
          const cr = sum(rec.canaryRequests, from, to);
          const br = sum(rec.baselineRequests, from, to);
          if (cr > 0) canary.push(sum(rec.canaryErrors, from, to) / cr);
          if (br > 0) baseline.push(sum(rec.baselineErrors, from, to) / br);
        }
        if (k % judgement !== 0) continue;
        const cls = kayentaClassify(
          canary,
          baseline,
          signal === 'orders' ? 'decrease' : 'increase',
          tolerance,
          confidence,
        );
        if (cls !== 'Pass') return { tick: to - 1 };
      }
      return { tick: null };
    },
  };
}

/** The reference judges with their documented example settings, in the order the report shows them. */
export function referenceJudges(): BenchJudge[] {
  return [flaggerJudge(5), flaggerJudge(10), argoJudge(), kayentaJudge()];
}
