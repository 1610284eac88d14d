// One signal of one deploy, judged tick by tick: which test applies (canary against baseline, or against
// history), absence, blindness, the decision and its evidence. Plain JSON state, so a restart resumes it.
import {
  newForecastTest,
  summarizeForecastTest,
  updateForecastTest,
  type ForecastTestState,
} from '../judge/forecast-test.js';
import {
  ASSUMED_CV2,
  ASSUMED_DROP_DISPERSION,
  newTwoArm,
  RISE_WORST,
  RISE_WORST_FROM,
  summarizeTwoArm,
  twoArmLogE,
  updateTwoArm,
  type TwoArmState,
} from '../judge/two-arm.js';
import type { Direction } from '../judge/effect-grid.js';
import type { Assumptions, Evidence, TestKind } from '../model/verdict.js';
import { BLOCKS, MIN_TERMS, type DispersionEstimate, type DispersionFloor } from '../judge/dispersion.js';
import { describeEvidence } from './sentence.js';
import type { BucketCounts } from '../signals/histogram.js';
import { accumulateLatency, latencyEvidence, newLatencyState, type LatencyState } from './latency-evidence.js';

/** Events of one cohort in one tick: NaN when unknown; live = series that contributed (0: absent). */
export interface ArmCount {
  value: number;
  live: number;
}
/** A signal's numerator (a count signal's events) and, for ratios, denominator. */
export interface ArmPair {
  num: ArmCount;
  den: ArmCount | null;
}
/** Latency signals: the tick's bucket increments per arm (history: `canary` holds the total), and a
 * histogram that lacks the slowerThan bound (`error`: the signal is never judged). */
interface LatencyExtras {
  buckets?: { canary: BucketCounts | null; baseline: BucketCounts | null };
  error?: string;
}
/**
 * One observation of a canary deploy: `span` ticks ending at the tick judged (default 1; more when a gap's
 * events arrive with the first tick that sees the counter again), both cohorts' counts, the declared split
 * averaged over them and, with `traffic`, the measured one.
 */
export interface CanaryTickInput extends LatencyExtras {
  mode: 'canary';
  /** the declared canary weight, time-averaged over the observation */
  weight: number;
  /**
   * the lowest and highest declared weight over the observation and the STAGE_LAG ticks before it: traffic
   * may follow a stage change a tick or two late (default: `weight`)
   */
  weightLow?: number;
  weightHigh?: number;
  /** each cohort's requests from the service's `traffic` counter, when it is declared */
  exposure?: { canary: ArmCount; baseline: ArmCount } | null;
  /** ticks the counts cover (default 1): a counter's jump across a scrape gap arrives as one observation */
  span?: number;
  canary: ArmPair;
  baseline: ArmPair;
}
export type TickInput =
  | CanaryTickInput
  /** spans > 1: one aggregated observation over that many ticks ending at this one (a gap's counter jump) */
  | ({ mode: 'history'; total: ArmPair; spans?: number; span?: number } & LatencyExtras);

/** A frozen forecast for the watch: values[i] is expected for the tick at start + (i + 1) * step. */
export interface FrozenForecast {
  values: number[];
  margin: number;
  sigma2: number;
  d0: number;
  lags: string[];
  origins: number;
  /** replayed origins whose level error went beyond the margin (0: the replay certifies about 3 / origins) */
  exceedances?: number;
  /** robust sd of the forecaster's level error on history */
  levelSd?: number;
  /** for ratio signals: bad events expected per denominator event */
  ratio?: number;
}

export interface SignalJudgeState {
  name: string;
  kind: 'count' | 'ratio' | 'latency';
  mode: 'canary' | 'history';
  direction: Direction;
  /** latency signals: buckets seen per arm, for quantiles */
  latency?: LatencyState;
  /** set once, never cleared: the signal cannot be judged as configured (a histogram without the bound) */
  error?: string;
  /** share of the deploy's false-alarm budget (ln 1/alpha) for the main and the traffic test */
  threshold: number;
  trafficThreshold: number;
  main: TwoArmState | ForecastTestState;
  /** ratio signals: a collapse of the new version's traffic (its denominator), which the ratio cannot see */
  traffic: TwoArmState | ForecastTestState | null;
  forecast: FrozenForecast | null;
  trafficForecast: FrozenForecast | null;
  canarySeen: boolean;
  absentTicks: number;
  blindTicks: number;
  ticks: number;
  failed: 'main' | 'traffic' | null;
  decidedAt: number | null;
  /** the last usable tick: the new version's events and what was expected of it (for dashboards) */
  last: { observed: number; expected: number } | null;
  /** canary deploys: where the canary's share came from, and what was seen of it (for the evidence) */
  split?: SplitRecord;
}

export interface SplitRecord {
  /** measured: from the `traffic` counter (count signals) or the ratio's denominator; declared: stage weights */
  source: 'measured' | 'declared';
  /** the counter the share was measured from */
  metric: string | null;
  /** summed canary and all requests of the exposure counter, and the summed declared weight, over judged ticks */
  canaryRequests: number;
  allRequests: number;
  declaredSum: number;
  ticks: number;
}

/** The tolerance within which a canary's traffic share may deviate before a vanished canary is called. */
const TRAFFIC_TOLERANCE = 0.5;
/**
 * Without a measured split, the canary's real share of events is only known to +-20% relative of the
 * declared weight (replica-count splits, sticky sessions, uneven pods): the null is composite over that
 * range and tested at its least favourable end (0.8 w for a drop, 1.2 w for a rise).
 */
export const SPLIT_SLACK = 0.2;
/** Ticks a stage change may take to show in the traffic: the null uses the weights of this many ticks before, too. */
export const STAGE_LAG = 2;
/** The main test takes 90% of the false-alarm budget, the traffic test 10% (a union bound). */
const MAIN_SHARE = 0.9;

export interface SignalJudgeOptions {
  name: string;
  kind: 'count' | 'ratio' | 'latency';
  mode: 'canary' | 'history';
  direction: Direction;
  alpha: number;
  tolerance: number;
  forecast: FrozenForecast | null;
  trafficForecast: FrozenForecast | null;
  /** the service's `traffic` counter (canary deploys): the split is measured from it, not assumed */
  traffic?: { metric: string } | null;
  /** latency signals: slowerThan as a bucket bound, in the histogram's unit */
  latency?: { bound: number; unitsPerSecond: number };
  /**
   * canary signals: the dispersion floor measured on the old version's history before the deploy
   * (dispersion.ts: per exposure for ratios, latency and counts with `traffic`; a placebo split of the old
   * version's instances for counts without); null: no history
   */
  floor?: DispersionFloor | null;
}

export function newSignalJudge(o: SignalJudgeOptions): SignalJudgeState {
  const ratio = o.kind !== 'count'; // a latency signal is a ratio: slow requests / requests
  let main: TwoArmState | ForecastTestState;
  let traffic: TwoArmState | ForecastTestState | null = null;
  if (o.mode === 'canary') {
    main = newTwoArm(o.direction, o.tolerance);
    main.floor = o.floor ?? null;
    // ratio signals: a collapse of the canary's requests; counts with a measured split: of its traffic
    if (ratio || o.traffic) traffic = newTwoArm('drop', TRAFFIC_TOLERANCE);
  } else {
    const f = o.forecast;
    if (!f) throw new Error(`signal ${o.name}: a history judgement needs a forecast`);
    main = newForecastTest(o.direction, Math.max(o.tolerance, f.margin), f.d0, f.sigma2, f.levelSd);
    if (ratio && o.trafficForecast) {
      const tf = o.trafficForecast;
      traffic = newForecastTest('drop', Math.max(TRAFFIC_TOLERANCE, tf.margin), tf.d0, tf.sigma2, tf.levelSd);
    }
  }
  return {
    name: o.name,
    kind: o.kind,
    mode: o.mode,
    direction: o.direction,
    threshold: Math.log(1 / (o.alpha * (ratio ? MAIN_SHARE : 1))),
    trafficThreshold: Math.log(1 / (o.alpha * (1 - MAIN_SHARE))),
    main,
    traffic,
    forecast: o.forecast,
    trafficForecast: o.trafficForecast,
    canarySeen: false,
    absentTicks: 0,
    blindTicks: 0,
    ticks: 0,
    failed: null,
    decidedAt: null,
    last: null,
    ...(o.mode === 'canary'
      ? {
          split: {
            source: ratio || o.traffic ? 'measured' : 'declared',
            metric: o.traffic?.metric ?? null,
            canaryRequests: 0,
            allRequests: 0,
            declaredSum: 0,
            ticks: 0,
          },
        }
      : {}),
    ...(o.latency ? { latency: newLatencyState(o.latency) } : {}),
  };
}

const known = (a: ArmCount | null): a is ArmCount => a !== null && Number.isFinite(a.value);

/**
 * Feeds one tick. `index` is the tick's position since the deploy started (0 = first tick), `graceOver`
 * whether the new version has had time to start reporting (before that, its absence is not evidence).
 * Returns true when this tick failed the signal.
 */
export function stepSignal(
  s: SignalJudgeState,
  input: TickInput,
  t: number,
  index: number,
  graceOver: boolean,
): boolean {
  if (s.failed || s.error) return false;
  if (input.error) {
    s.error = `signal ${s.name}: ${input.error}`;
    return false;
  }
  s.ticks++;
  if (input.buckets) accumulateLatency(s, input.buckets);
  if (input.mode === 'canary' && s.main.kind === 'two-arm') {
    if (stepCanary(s, s.main, input, graceOver) === 'blind') {
      s.blindTicks++;
      return false;
    }
  } else if (input.mode === 'history' && s.main.kind === 'forecast' && s.forecast) {
    const { total } = input;
    const parts = [total.num, ...(s.kind !== 'count' ? [total.den] : [])];
    if (!parts.every(known)) {
      s.blindTicks++;
      return false;
    }
    // An observation spanning several ticks is judged against the forecast summed over them.
    const spans = Math.max(1, Math.min(Math.round(input.spans ?? input.span ?? 1), index + 1));
    const sumOver = (values: number[]): number | undefined => {
      let sum = 0;
      for (let j = index - spans + 1; j <= index; j++) {
        const v = values[j];
        if (v === undefined) return undefined;
        sum += v;
      }
      return sum;
    };
    const f = sumOver(s.forecast.values);
    if (f === undefined) return false; // past the frozen horizon: nothing to compare with
    if (total.num.live === 0 && (s.kind === 'count' || (total.den as ArmCount).live === 0)) s.absentTicks++;
    if (s.kind === 'count') {
      updateForecastTest(s.main, total.num.value, f);
      s.last = { observed: total.num.value, expected: f };
    } else {
      const den = (total.den as ArmCount).value;
      updateForecastTest(s.main, total.num.value, den * (s.forecast.ratio ?? 0));
      const tf = s.trafficForecast ? sumOver(s.trafficForecast.values) : undefined;
      if (s.traffic?.kind === 'forecast' && tf !== undefined) updateForecastTest(s.traffic, den, tf);
    }
  } else {
    throw new Error(`signal ${s.name}: a ${input.mode} tick does not fit a ${s.mode} judgement`);
  }
  if (statistic(s.main) >= s.threshold) s.failed = 'main';
  else if (s.traffic && statistic(s.traffic) >= s.trafficThreshold) s.failed = 'traffic';
  if (s.failed) s.decidedAt = t;
  return s.failed !== null;
}

/** The canary part of a tick; 'blind' when a count or the exposure it would be judged against is unknown. */
function stepCanary(
  s: SignalJudgeState,
  main: TwoArmState,
  input: CanaryTickInput,
  graceOver: boolean,
): 'blind' | 'judged' | 'waiting' {
  const { canary, baseline, weight } = input;
  const low = input.weightLow ?? weight;
  const high = input.weightHigh ?? weight;
  const span = input.span ?? 1;
  const parts = [canary.num, baseline.num, ...(s.kind !== 'count' ? [canary.den, baseline.den] : [])];
  if (!parts.every(known)) return 'blind';
  const exposure = input.exposure ?? null;
  const measuredCount = s.kind === 'count' && s.traffic !== null;
  // A declared `traffic` counter that cannot be seen this tick: never judge against an exposure we do not see.
  if (measuredCount && (!exposure || !known(exposure.canary) || !known(exposure.baseline))) return 'blind';
  if (measuredCount && exposure && exposure.canary.live + exposure.baseline.live === 0) return 'blind';
  const canaryLive = s.kind !== 'count' ? (canary.den as ArmCount).live : canary.num.live;
  if (canaryLive > 0) s.canarySeen = true;
  else if (!s.canarySeen && !graceOver) return 'waiting';
  else s.absentTicks++;
  const split = s.split;
  const traffic = s.traffic?.kind === 'two-arm' ? s.traffic : null;
  if (s.kind === 'count' && exposure && measuredCount) {
    // Measured split: the canary's share of this tick's requests; orders per request are what is compared.
    const ec = exposure.canary.value;
    const eb = exposure.baseline.value;
    if (ec + eb > 0) {
      const w = ec / (ec + eb);
      updateTwoArm(main, canary.num.value, baseline.num.value, w, { span });
      if (w > 0 && w < 1) s.last = { observed: canary.num.value, expected: (baseline.num.value * w) / (1 - w) };
      if (split) record(split, ec, ec + eb, weight);
    }
    if (traffic) updateTwoArm(traffic, ec, eb, weight, { span, wNull: low });
  } else if (s.kind === 'count') {
    // Declared split: the null is composite over +-20% of the weight and the weights of the last ticks.
    const wNull = main.direction === 'drop' ? (1 - SPLIT_SLACK) * low : Math.min((1 + SPLIT_SLACK) * high, 0.999);
    updateTwoArm(main, canary.num.value, baseline.num.value, weight, { span, wNull });
    if (weight > 0 && weight < 1) {
      s.last = { observed: canary.num.value, expected: (baseline.num.value * weight) / (1 - weight) };
      if (split) record(split, 0, 0, weight);
    }
  } else {
    const cd = (canary.den as ArmCount).value;
    const bd = (baseline.den as ArmCount).value;
    if (cd + bd > 0) {
      updateTwoArm(main, canary.num.value, baseline.num.value, cd / (cd + bd), { span });
      if (split) record(split, cd, cd + bd, weight);
    }
    if (traffic) updateTwoArm(traffic, cd, bd, weight, { span, wNull: low });
  }
  return 'judged';
}

function record(split: SplitRecord, canaryRequests: number, allRequests: number, weight: number): void {
  split.canaryRequests += canaryRequests;
  split.allRequests += allRequests;
  split.declaredSum += weight;
  split.ticks += 1;
}

function statistic(test: TwoArmState | ForecastTestState): number {
  return test.kind === 'two-arm' ? twoArmLogE(test) : summarizeForecastTest(test).logE;
}

/** Whether the watch saw enough to have caught a collapse: otherwise a pass would be a guess. */
export function hadEnoughData(s: SignalJudgeState): boolean {
  if (s.error) return false;
  const test = s.kind !== 'count' && s.traffic ? s.traffic : s.main;
  const expected = test.kind === 'two-arm' ? test.expectedCanary : test.expected;
  const threshold = test === s.main ? s.threshold : s.trafficThreshold;
  const d = test.kind === 'two-arm' ? summarizeTwoArm(test).dispersion : test.d0;
  return expected / d >= threshold + Math.log(test.alternatives.length);
}

/** The evidence for the signal as it stands: the failing test's if it failed, else the main test's. */
export function evidenceOf(s: SignalJudgeState, unit: string): Evidence {
  const useTraffic = s.failed === 'traffic' && s.traffic !== null;
  const test = useTraffic ? (s.traffic as TwoArmState | ForecastTestState) : s.main;
  const threshold = useTraffic ? s.trafficThreshold : s.threshold;
  const kind: TestKind = useTraffic
    ? 'canary-traffic'
    : s.mode === 'canary'
      ? s.kind !== 'count'
        ? 'ratio-canary-vs-baseline'
        : 'canary-vs-baseline'
      : s.kind !== 'count'
        ? 'ratio-against-history'
        : 'against-forecast';
  let ev: Evidence;
  if (test.kind === 'two-arm') {
    const sum = summarizeTwoArm(test);
    ev = {
      test: kind,
      direction: test.direction,
      statistic: sum.logE,
      threshold,
      effect: sum.effect,
      favouredEffect: sum.favoured,
      tolerance: Math.abs(test.r0 - 1),
      dispersion: sum.dispersion,
      ticks: test.ticks,
      counts: { canary: test.canary, baseline: test.baseline, expectedCanary: round(test.expectedCanary) },
      sentence: '',
    };
    if (s.split) ev.assumptions = assumptionsOf(s.split, sum.dispersionBasis, useTraffic, sum.floor, test.direction);
  } else {
    const sum = summarizeForecastTest(test);
    const f = (useTraffic ? s.trafficForecast : s.forecast) as FrozenForecast;
    ev = {
      test: kind,
      direction: test.direction,
      statistic: sum.logE,
      threshold,
      effect: sum.effect,
      interval: sum.interval,
      favouredEffect: sum.favoured,
      tolerance: test.margin,
      dispersion: test.d0,
      ticks: test.ticks,
      counts: { observed: test.observed, expected: round(test.expected) },
      forecast: {
        expected: round(test.expected),
        observed: test.observed,
        margin: test.margin,
        sigma2: test.sigma2,
        lags: f.lags,
        origins: f.origins,
        ...(f.exceedances !== undefined ? { exceedances: f.exceedances } : {}),
      },
      sentence: '',
    };
  }
  if (s.absentTicks > 0) ev.absent = true;
  ev.sentence = describeEvidence(s.name, useTraffic ? 'requests' : unit, ev, s.failed !== null);
  if (s.kind === 'latency' && !useTraffic) latencyEvidence(s, ev);
  return ev;
}

const round = (x: number) => Math.round(x * 100) / 100;

function assumptionsOf(
  split: SplitRecord,
  d: DispersionEstimate,
  trafficTest: boolean,
  floor: DispersionFloor | null,
  direction: Direction,
): Assumptions {
  const declared = split.ticks > 0 ? round4(split.declaredSum / split.ticks) : null;
  const measured = split.source === 'measured' && !trafficTest;
  return {
    split: measured
      ? {
          source: 'measured',
          metric: split.metric,
          declaredWeight: declared,
          measuredShare: split.allRequests > 0 ? round4(split.canaryRequests / split.allRequests) : null,
        }
      : trafficTest
        ? { source: 'declared', metric: null, declaredWeight: declared, measuredShare: null, lagTicks: STAGE_LAG }
        : {
            source: 'declared',
            metric: null,
            declaredWeight: declared,
            measuredShare: null,
            slack: SPLIT_SLACK,
            lagTicks: STAGE_LAG,
          },
    dispersion: {
      value: round(d.value),
      basis: d.basis,
      block: d.block,
      terms: d.terms,
      point: Number.isFinite(d.point) ? round(d.point) : null,
      estimator: estimatorOf(d, floor, direction),
      history: floor
        ? { value: round(floor.value), ticks: floor.ticks, block: floor.block, method: floor.method ?? 'ratio' }
        : null,
    },
  };
}

/** The dispersion's basis in words: "measured before the deploy on 240 ticks" or "assumed 3, no history". */
function estimatorOf(d: DispersionEstimate, floor: DispersionFloor | null, direction: Direction): string {
  const on =
    floor?.method === 'placebo'
      ? `a placebo split of the old version's instances into two arms (${(floor.arms ?? [1, 1]).join(' and ')})`
      : 'the old version';
  const before = floor
    ? `measured before the deploy on ${floor.ticks} ticks of ${on} (upper 75% bound, blocks of ${BLOCKS.join(', ')} ticks)`
    : null;
  // how the dispersion enters the likelihood (two-arm.ts)
  const law =
    direction === 'drop'
      ? 'beta-binomial likelihood at that dispersion'
      : floor
        ? 'quasi-likelihood divided by it'
        : `quasi-likelihood divided by it; rises of ${RISE_WORST_FROM}x and more against any dispersion up to ${RISE_WORST}x (worst case per tick)`;
  if (d.basis === 'history') return `${round(d.value)}, ${before}; ${law}`;
  if (d.basis === 'assumed')
    return direction === 'drop'
      ? `assumed ${round(d.value)}x binomial, no history before the deploy: ${ASSUMED_DROP_DISPERSION}x until ${MIN_TERMS} pooled ticks measure it, more on ticks with many events (wander of cv^2 ${ASSUMED_CV2} a tick until 96 ticks measure it); ${law}`
      : `assumed ${round(d.value)}x binomial, no history before the deploy, until ${MIN_TERMS} pooled ticks measure it; ${law}`;
  const watch = `upper 75% bound on Pearson residuals over blocks of ${BLOCKS.join(', ')} ticks (largest: ${d.block})`;
  return floor
    ? `${round(d.value)}, ${watch}; above the floor of ${round(floor.value)} ${before}; ${law}`
    : `${round(d.value)}, ${watch}; ${law}`;
}

const round4 = (x: number) => Math.round(x * 10000) / 10000;
