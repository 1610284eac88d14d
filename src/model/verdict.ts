// What a judgement says and why: every verdict carries its evidence (effect, statistic, threshold, data).

export type Outcome = 'fail' | 'pass' | 'inconclusive';

export type TestKind =
  | 'canary-vs-baseline' // counts, two arms
  | 'ratio-canary-vs-baseline' // bad / all events, two arms
  | 'canary-traffic' // the canary's share of a ratio's denominator (catches a vanished canary)
  | 'against-forecast' // counts against the service's own history
  | 'ratio-against-history' // bad events against the pre-deploy ratio
  | 'always-against-forecast' // watch: always, change time unknown
  | 'always-collapse'; // watch: always, a flat counter against the empirical lower tail of history

export interface Evidence {
  test: TestKind;
  direction: 'drop' | 'rise';
  /** ln of the e-value (mixture likelihood ratio); the test fails when it reaches `threshold` */
  statistic: number;
  /** ln(1 / falseAlarmRate) for deploys; for always-on signals ln(2 x mean ticks between false pages), half the budget per test */
  threshold: number;
  /** relative change of the new version (or of the signal) against the null, with an approximate 95% interval */
  effect: { estimate: number; low: number; high: number };
  /** what kind of interval `effect` carries, in words (absent: an approximate 95% interval) */
  interval?: string;
  /** the effect size on the grid the evidence favours most */
  favouredEffect: number;
  /** changes smaller than this are tolerated (traffic split tolerance or forecast margin) */
  tolerance: number;
  dispersion: number;
  ticks: number;
  counts: Record<string, number>;
  forecast?: {
    expected: number;
    observed: number;
    margin: number;
    sigma2: number;
    lags: string[];
    /** replayed forecast origins the margin was measured on, and how many of them fell beyond it */
    origins: number;
    exceedances?: number;
    /** always-watched signals: the 95% normal range of the observed count over the window */
    band?: { low: number; high: number };
    /** robust sd of the forecaster's log level error, per-tick noise taken out (what the null integrates over) */
    levelSpread?: number;
    /** the span of history the forecaster's error was measured on (null: not measured yet) */
    measuredOn?: { from: string; to: string } | null;
  };
  /** the new version's series reported nothing while events were due */
  absent?: boolean;
  /** canary tests: what the judgement assumed (the split it tested against, the dispersion and why) */
  assumptions?: Assumptions;
  /** how much of the watch was seen (ticks judged; ticks counted, blind, and gaps) */
  seen?: { ticks: number; seenTicks: number; blindTicks: number; gapTicks: number };
  /** the signal cannot see now */
  blind?: boolean;
  /** latency signals: per arm quantiles and slow share (see LatencyEvidence) */
  latency?: LatencyEvidence;
  sentence: string;
}

export interface SignalVerdict {
  signal: string;
  status: 'watching' | Outcome;
  decidedAt: number | null;
  /** ticks the source could not answer or the data were unknown */
  blindTicks: number;
  evidence: Evidence | null;
  /** what the signal's ticks saw (design §8): seen, absent, gap or blind */
  seeing?: SeeingSummary;
}

export interface SeeingSummary {
  ticks: number;
  seenTicks: number;
  gapTicks: number;
  blindTicks: number;
  last: 'seen' | 'absent' | 'gap' | 'blind' | null;
  blind: boolean;
  /** epoch seconds */
  blindSince: number | null;
  reason: string | null;
}

/** One arm of a latency signal, over the ticks judged so far. Durations in seconds. */
export interface LatencyArm {
  requests: number;
  slow: number;
  /** share of requests slower than slowerThan, with a 95% Wilson interval widened by the dispersion */
  slowShare: { estimate: number; low: number; high: number };
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface LatencyEvidence {
  slowerThan: number;
  /** how quantiles are read from buckets */
  interpolation: string;
  /** the new version (all traffic, for a judgement against history) */
  canary: LatencyArm;
  /** the baseline version; against history, the upper confidence bound on the slow share before the deploy */
  baseline: LatencyArm | { slowShareBefore: { high: number } } | null;
}

export interface Assumptions {
  split: {
    /** measured: each tick's canary share of requests; declared: the stage weights, known to +-slack */
    source: 'measured' | 'declared';
    /** the counter the share was measured from (null: declared) */
    metric: string | null;
    /** the declared stage weight, averaged over the judged ticks */
    declaredWeight: number | null;
    /** the canary's measured share of requests over the judged ticks (null: declared) */
    measuredShare: number | null;
    /** declared only: the relative slack of the composite null, and the ticks a stage change may lag */
    slack?: number;
    lagTicks?: number;
  };
  dispersion: {
    value: number;
    /**
     * assumed (too few ticks to measure it yet, no history), upper-bound (upper 75% confidence bound on the
     * watch), or history (the floor measured on the old version before the deploy was the larger)
     */
    basis: 'assumed' | 'upper-bound' | 'history';
    /** block length in ticks whose estimate was largest: 1 over-dispersion, 4 or 16 drift */
    block: number;
    /** pooled ticks behind the estimate, and the point estimate the bound is built on */
    terms: number;
    point: number | null;
    estimator: string;
    /**
     * the floor measured before the deploy on the old version's history (null: no history to measure it);
     * method: 'ratio' its numerator given its exposure, 'placebo' its instances split into two arms (a
     * count signal without `traffic`)
     */
    history: { value: number; ticks: number; block: number; method?: 'ratio' | 'placebo' } | null;
  };
}
