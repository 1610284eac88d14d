// Canary against baseline, conditioned on the total (Lindon & Malek 2022): given that an event happened in
// a tick, it fell in the canary with probability theta = w r / (w r + 1 - w), w the canary's share under "no
// regression" (its traffic weight for counts, its share of requests for a ratio's bad events) and r the
// canary's rate multiplier. Shared seasonality and traffic swings cancel. The tick's share w may change from
// tick to tick (stages), which a mixture of per-effect likelihood ratios handles exactly: each grid point's
// log-LR is a sum over ticks. The null is composite, r on the good side of r0 = 1 -/+ tolerance; the
// likelihood ratio against the boundary r0 is a valid e-process for every such r (monotone likelihood ratio).
// Why a discrete prior on the effect rather than the Beta(k rho_A, k rho_B) prior of Lindon & Malek's closed
// form: that closed form needs one traffic share for the whole watch, while a canary's share changes at
// every stage; per-effect likelihood ratios take each tick's share as it is, the grid puts prior mass where
// deploy regressions are (collapses and small drops alike), and two-arm-beta.test.ts checks it against
// the beta-binomial Bayes factor (gammaln from simple-statistics) on constant-share data.
import {
  addResidual,
  estimateDispersion,
  longRunMeasured,
  floorAt,
  newDispersion,
  type DispersionEstimate,
  type DispersionFloor,
  type DispersionState,
} from './dispersion.js';
import { logEValue, stepLogS } from './change-mixture.js';
import { argMax, effectGrid, type Direction } from './effect-grid.js';
import { betaBinomialLogLR, betaBinomialLogPmf, rhoFor, supLogPmfOverRho } from './beta-binomial.js';

export interface TwoArmState {
  kind: 'two-arm';
  direction: Direction;
  r0: number;
  alternatives: number[];
  logWeights: number[];
  /** raw (undivided) log-likelihood ratio per alternative, from the first tick (for the favoured effect) */
  llr: number[];
  /** ln S per alternative: the likelihood ratio mixed over the tick the regression started (change-mixture.ts) */
  logS: number[];
  canary: number;
  baseline: number;
  /** sum over ticks of baseline * w / (1 - w): the canary events expected under r = 1 */
  expectedCanary: number;
  ticks: number;
  /** ticks covered by the observations (an observation aggregated across a scrape gap covers several) */
  span: number;
  dispersion: DispersionState;
  /** the dispersion assumed until the data measure it (dispersion.ts): stated, and never below 1 */
  dispersionPrior: number;
  /** the dispersion the last observation was divided by (for the evidence) */
  lastDispersion?: number;
  /**
   * the floor measured on the old version's history before the deploy (dispersion.ts): D is never below it,
   * and it replaces the stated assumption from the first tick; null: no history
   */
  floor?: DispersionFloor | null;
  /** whether the last observation's D was the floor (the in-deploy bound was lower) */
  lastFromFloor?: boolean;
  /** the fit the dispersion's residuals are taken around: canary, expected canary and all events since it started */
  fitCanary?: number;
  fitExpected?: number;
  fitEvents?: number;
  /** the local fit the level-1 residuals are taken around: exponentially weighted canary and expected canary */
  localCanary?: number;
  localExpected?: number;
  /** the local fit's effective events: (sum of weights x events)^2 / sum of weights^2 x events */
  localWeight?: number;
  localWeight2?: number;
}

/**
 * What D is assumed to be before the data measure it, where no history measured a floor (dispersion.ts).
 * - A rise test: at least 1.5 times the binomial variance, more where the tick holds many events (below);
 *   one surprising tick raises it at once (`early`). Rare bad events need it low: an error ratio going from
 *   0.5% to 10% at a few errors a tick must fail within 4 ticks, and under clumps of 5 times the binomial
 *   variance 18 canary errors where 0.9 were due is a 1-in-1,000 event (README, Known limits).
 * - A drop test: the worst white over-dispersion it promises to cover without history,
 *   ASSUMED_DROP_DISPERSION times the binomial variance. Its per-tick likelihood is the beta-binomial at
 *   that D (beta-binomial.ts), valid for every less dispersed count and four fifths as strong as the
 *   quasi-likelihood at D = 1.5 for a tick with no canary events (0.40 against 0.67 nats per event due),
 *   so a collapse at one canary event a second is still decided by the second tick.
 * - Wander (a version's rate moving against the other's, autocorrelated): a share cv of the canary's
 *   events adds cv^2 n theta (1 - theta) to the binomial variance; over blocks of ticks that is the
 *   long-run variance. Assumed cv^2 = ASSUMED_CV2 a tick, without a cap (at many events a tick a collapse
 *   is decided anyway: its evidence grows with the events as fast as the assumed D), and kept until the
 *   watch has measured its own 16-tick blocks (dispersion.ts), the only ones that see slow wander.
 * The larger of the white and the wander part is taken, not their sum: at a few events a tick the white
 * part covers wander (a 16-tick block of 13 events a tick at a 16% offset is 3.2 times binomial), at many
 * the wander part covers clumps.
 */
export const ASSUMED_DISPERSION = 1.5;
/** a rise test's wander part: cv 0.2 a tick, up to 5 times binomial, replaced once 8 pooled ticks are in */
export const ASSUMED_RISE_CV2 = 0.04;
export const ASSUMED_MAX = 5;
export const ASSUMED_DROP_DISPERSION = 3;
export const ASSUMED_CV2 = 0.1;
/** 16-tick terms the watch needs before its own measure replaces the wander assumption (no history) */
const WANDER_TERMS = 6;
/**
 * A rise test takes at most 5 nats of evidence a tick and alternative: a rise has no natural bound (a clump
 * of retried errors in the canary), so no single tick can fail a deploy (the threshold is about 9 nats),
 * and after one surprising tick D is raised (dispersion.ts) before the next is judged.
 * exp(min(l, c)) <= exp(l), so every factor stays a valid likelihood-ratio factor. A drop is not capped:
 * its evidence a tick is bounded by the events expected (all of them missing), and a collapse after twenty
 * good minutes must be decided at once.
 */
export const RISE_TICK_CAP = 5;
/**
 * Without a floor measured before the deploy, a rise of RISE_WORST_FROM times and more is judged per tick
 * against the null's most favourable dispersion up to RISE_WORST times binomial: the beta-binomial
 * likelihood of the tick at the alternative (at the stated D: any predictable choice keeps the
 * guarantee, and the bound raised by a clump would flatten the alternative) over the supremum of the null's
 * beta-binomial likelihood over every intra-tick correlation up to that of RISE_WORST (universal inference,
 * Wasserman, Ramdas and Balakrishnan 2020: each factor has expectation at most 1 under every such null, so
 * the product is a test supermartingale whatever the true dispersion up to that bound). Those are the
 * alternatives a clump of errors in the canary looks like; smaller rises accumulate over many ticks, by
 * which time the watch has raised D for every surprising tick (`early`). The cost: such a factor is the
 * likelihood against the best-fitting null, so a sustained rise gains about 2.1 nats a tick at 4 errors of
 * 6 where the quasi-likelihood at 1.5 gave 3.6.
 */
export const RISE_WORST = 5;
export const RISE_WORST_FROM = 2;
/** A tick this many (dispersion-widened) standard deviations off the fit restarts the fit: a level change. */
const RESET_Z = 4;
/** Pseudo-events shrinking the fitted effect towards no change while few events are in. */
const FIT_PSEUDO = 2;
/**
 * Weight of the newest tick in the local fit of the level-1 residuals. A fit over the whole watch reads a
 * sustained level change as noise on every tick after it: at a few events a tick, a collapse would then
 * raise D by the collapse's own residuals and blind the test exactly when it should fail. Around a local
 * fit a collapse adds a few decaying terms (sum about 1 / LOCAL times the first), while plain over-dispersion
 * is measured as well (the terms stay prediction residuals with their variance widened by the fit's own).
 * Slow wander, which a local fit follows, is what the longer blocks (around the whole-watch fit) and the
 * floor measured before the deploy are for.
 */
const LOCAL = 0.3;

export function newTwoArm(
  direction: Direction,
  tolerance: number,
  dispersionPrior = direction === 'drop' ? ASSUMED_DROP_DISPERSION : ASSUMED_DISPERSION,
): TwoArmState {
  const { r0, alternatives, logWeights } = effectGrid(direction, tolerance);
  return {
    kind: 'two-arm',
    direction,
    r0,
    alternatives,
    logWeights,
    llr: alternatives.map(() => 0),
    logS: alternatives.map(() => -Infinity),
    canary: 0,
    baseline: 0,
    expectedCanary: 0,
    ticks: 0,
    span: 0,
    dispersion: newDispersion(),
    dispersionPrior,
  };
}

const share = (w: number, r: number) => (w * r) / (w * r + 1 - w);

/** Ratio estimate of r from the running totals (what the canary did per unit of expected canary events). */
export function rateRatio(s: TwoArmState): number {
  if (s.expectedCanary > 0) return s.canary / s.expectedCanary;
  // None expected (the baseline had no such events) but some seen: a +0% effect would read as "no change"
  // next to a failed verdict, so half an event is added to both sides (Haldane), as the interval does.
  return s.canary > 0 ? (s.canary + 0.5) / 0.5 : 1;
}

export interface TwoArmTickOptions {
  /** ticks the counts cover (default 1): the jump of a counter across a scrape gap is one observation */
  span?: number;
  /**
   * the share the null is tested at, when it differs from `w`: the least favourable share of a composite
   * null (a declared split known only to +-20%, a stage change the traffic may follow late). `w` stays the
   * share the effect is reported against.
   */
  wNull?: number;
}

/**
 * One observation: `canary` and `baseline` events, `w` the canary's share of events under no regression
 * (time-averaged over the observation's span). Observations with no events or a share of 0 or 1 carry no
 * information and are skipped. Summed counts at a time-averaged share are still a valid test: a sum of
 * Bernoulli draws with shares averaging w has a likelihood-ratio mean at most 1 at w (AM-GM).
 */
export function updateTwoArm(
  s: TwoArmState,
  canary: number,
  baseline: number,
  w: number,
  o: TwoArmTickOptions = {},
): void {
  const n = canary + baseline;
  const wn = o.wNull ?? w;
  const span = o.span ?? 1;
  if (!(n > 0) || !(w > 0 && w < 1) || !(wn > 0 && wn < 1) || !Number.isFinite(n)) return;
  const t0 = share(wn, s.r0);
  const l0c = Math.log(t0);
  const l0b = Math.log(1 - t0);
  // This tick's likelihood ratios, divided by the dispersion as bounded before it (quasi-likelihood): the
  // larger of the floor measured before the deploy (where history exists; it stands in for the assumption
  // too) and the bound measured on the watch so far.
  const v = (n * t0 * (1 - t0)) / span;
  const floor = s.floor ? floorAt(s.floor, v) : null;
  const est = estimateDispersion(s.dispersion, floor ?? assumedDispersion(s, v), early(s), !s.floor);
  let d = floor !== null ? Math.max(floor, est.value) : est.value;
  // Without history the wander part of the assumption stands until the watch's 16-tick blocks measure it.
  if (floor === null && s.direction === 'drop' && !longRunMeasured(s.dispersion, WANDER_TERMS))
    d = Math.max(d, wanderAssumed(v));
  s.lastDispersion = d;
  s.lastFromFloor = floor !== null && floor >= est.value;
  const cap = s.direction === 'rise' ? RISE_TICK_CAP * span : Infinity;
  // A drop: the beta-binomial likelihood at D (beta-binomial.ts); a rise: the quasi-likelihood, capped (a
  // beta-binomial rise ratio is not valid under a less dispersed truth: its upper tail is what it bets on).
  const rho = rhoFor(n, d);
  // A large rise without a floor measured before the deploy: against the worst dispersion up to
  // RISE_WORST (universal inference, see below), so a clump of retried errors cannot pass for it.
  const worst = s.direction === 'rise' && !s.floor ? supLogPmfOverRho(canary, n, t0, rhoFor(n, RISE_WORST)) : null;
  const tick: number[] = [];
  for (let k = 0; k < s.alternatives.length; k++) {
    const r = s.alternatives[k] as number;
    const t = share(wn, r);
    const l = canary * (Math.log(t) - l0c) + baseline * (Math.log(1 - t) - l0b);
    s.llr[k] = (s.llr[k] as number) + l;
    if (s.direction === 'drop') tick.push(betaBinomialLogLR(canary, n, t0, t, rho));
    else if (worst !== null && r >= RISE_WORST_FROM * s.r0)
      tick.push(Math.min(betaBinomialLogPmf(canary, n, t, rhoFor(n, s.dispersionPrior)) - worst, cap));
    else tick.push(Math.min(l / d, cap));
  }
  stepLogS(s.logS, tick, s.ticks);
  // Dispersion from a recursive residual: this tick against the effect fitted on the ticks before it (so a
  // regression from the start is not mistaken for noise, and a tick cannot explain itself away), its
  // variance widened by that fit's own uncertainty (n / N_fit), so each term is chi-square(1) times D.
  // The fit runs from the start (so slow wander stays in the residuals, as long-run variance) until a
  // tick lands RESET_Z standard deviations off it: a level change (a late collapse) restarts the fit there,
  // so the change adds one term to D, not one every tick after it.
  const fitC = s.fitCanary ?? s.canary;
  const fitE = s.fitExpected ?? s.expectedCanary;
  const fitN = s.fitEvents ?? s.canary + s.baseline;
  const expected = (baseline * w) / (1 - w);
  let reset = false;
  if (fitN > 0 && fitE > 0) {
    const fitted = share(w, Math.max((fitC + FIT_PSEUDO) / (fitE + FIT_PSEUDO), 1e-3));
    const resid = canary - n * fitted;
    const vr = n * fitted * (1 - fitted) * (1 + n / fitN);
    // Level 1 around the local fit (its events' effective number widens the variance the same way).
    const lc = s.localCanary ?? 0;
    const le = s.localExpected ?? 0;
    const lw = s.localWeight ?? 0;
    const lw2 = s.localWeight2 ?? 0;
    let local = { residual: resid, variance: vr };
    if (le > 0 && lw2 > 0) {
      const f = share(w, Math.max((lc + FIT_PSEUDO * LOCAL) / (le + FIT_PSEUDO * LOCAL), 1e-3));
      const nEff = (lw * lw) / lw2;
      local = { residual: canary - n * f, variance: n * f * (1 - f) * (1 + n / nEff) };
    }
    addResidual(s.dispersion, local.residual, local.variance, span, { residual: resid, variance: vr });
    reset = resid * resid >= RESET_Z * RESET_Z * d * Math.max(vr, 1);
  }
  s.fitCanary = reset ? canary : fitC + canary;
  s.fitExpected = reset ? expected : fitE + expected;
  s.fitEvents = reset ? n : fitN + n;
  // The local fit: every earlier tick's weight decays by (1 - LOCAL), the newest enters at LOCAL.
  s.localCanary = (1 - LOCAL) * (s.localCanary ?? 0) + LOCAL * canary;
  s.localExpected = (1 - LOCAL) * (s.localExpected ?? 0) + LOCAL * expected;
  s.localWeight = (1 - LOCAL) * (s.localWeight ?? 0) + LOCAL * n;
  s.localWeight2 = (1 - LOCAL) ** 2 * (s.localWeight2 ?? 0) + LOCAL * LOCAL * n;
  s.canary += canary;
  s.baseline += baseline;
  s.expectedCanary += expected;
  s.ticks += 1;
  s.span = (s.span ?? s.ticks - 1) + span;
}

/**
 * How the terms in before the dispersion is measured may raise the assumption: a rise test without history
 * by their upper bound (one clump of retried errors must silence it until D is known: a rise has no natural
 * bound), a drop test not at all: its evidence a tick is bounded by the events expected (all of them
 * missing), and the first terms of a collapse at a few events a tick are the collapse itself, which must
 * not blind it. Nor a rise test with a floor measured before the deploy: the floor measured the old
 * version's own clumps (retry storms included) on an hour of history and stands in for the assumption, and
 * the first terms of a rise are then mostly the rise itself: one term's upper 10% bound is 63 times the term,
 * so an error ratio going from 0.5% to 10% at a few errors a tick raised D into the hundreds and took 20
 * ticks and more (bench/robustness errorsTarget: p90 22 ticks with the raise, 5 without; no false alarm
 * with history in 2,000 to 6,000 good canaries under any condition either way).
 */
const early = (s: TwoArmState) => (s.direction === 'rise' && !s.floor ? 'upper-bound' : 'none');

/** The D assumed for an observation of binomial variance v a tick, until the data measure it (see above). */
function assumedDispersion(s: TwoArmState, v: number): number {
  if (s.direction === 'rise')
    return Math.min(Math.max(s.dispersionPrior, ASSUMED_MAX), Math.max(s.dispersionPrior, 1 + ASSUMED_RISE_CV2 * v));
  return Math.max(s.dispersionPrior, wanderAssumed(v));
}

/** The wander part of the assumption for a tick of binomial variance v. */
function wanderAssumed(v: number): number {
  return 1 + ASSUMED_CV2 * v;
}

export interface TwoArmSummary {
  /** ln of the mixture e-value, after dividing each log-LR by the dispersion */
  logE: number;
  dispersion: number;
  /** how the dispersion was obtained (assumed or an upper bound, which block length, how many terms) */
  dispersionBasis: DispersionEstimate;
  /** relative effect r - 1 (e.g. -0.99 for a collapse) with an approximate 95% interval */
  effect: { estimate: number; low: number; high: number };
  /** the grid effect the evidence favours most */
  favoured: number;
  /** the floor measured before the deploy, or null (no history: the assumption stood in for it) */
  floor: DispersionFloor | null;
}

/** ln of the mixture e-value alone (what a tick's decision needs; summarizeTwoArm has the rest). */
export function twoArmLogE(s: TwoArmState): number {
  return logEValue(s.logS, s.ticks, s.logWeights);
}

export function summarizeTwoArm(s: TwoArmState): TwoArmSummary {
  const measured = estimateDispersion(s.dispersion, s.dispersionPrior, early(s), !s.floor);
  let est = measured.basis === 'assumed' ? { ...measured, value: s.lastDispersion ?? measured.value } : measured;
  if (s.floor && s.lastFromFloor) est = { ...est, basis: 'history', value: s.lastDispersion ?? s.floor.value };
  // no history: the wander assumption still stood above what the watch measured (held until 96 ticks)
  else if (!s.floor && s.lastDispersion !== undefined && s.lastDispersion > est.value + 1e-9)
    est = { ...est, basis: 'assumed', value: s.lastDispersion };
  const d = est.value;
  const scaled = s.llr.map((x) => x / d);
  const r = rateRatio(s);
  // Wald interval on log r with the quasi-likelihood variance; +0.5 keeps zero counts finite.
  const se = Math.sqrt(d * (1 / (s.canary + 0.5) + 1 / (s.baseline + 0.5)));
  const lr = Math.log(Math.max(r, 1e-6));
  return {
    logE: logEValue(s.logS, s.ticks, s.logWeights),
    dispersion: d,
    dispersionBasis: est,
    effect: { estimate: r - 1, low: Math.exp(lr - 1.96 * se) - 1, high: Math.exp(lr + 1.96 * se) - 1 },
    favoured: (s.alternatives[argMax(scaled)] as number) - 1,
    floor: s.floor ?? null,
  };
}
