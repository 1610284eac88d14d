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
import { addPearson, dispersion, newDispersion, type DispersionState } from './dispersion.js';
import { logEValue, stepLogS } from './change-mixture.js';
import { argMax, effectGrid, type Direction } from './effect-grid.js';

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
  /** exponentially weighted canary and expected-canary counts: the local effect the spread is measured around */
  localCanary: number;
  localExpected: number;
  dispersion: DispersionState;
  dispersionPrior: number;
}

export function newTwoArm(direction: Direction, tolerance: number, dispersionPrior = 1.25): TwoArmState {
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
    localCanary: 0,
    localExpected: 0,
    dispersion: newDispersion(),
    dispersionPrior,
  };
}

/** Weight of the newest tick in the local effect estimate. */
const LOCAL = 0.3;

const share = (w: number, r: number) => (w * r) / (w * r + 1 - w);

/** Ratio estimate of r from the running totals (what the canary did per unit of expected canary events). */
export function rateRatio(s: TwoArmState): number {
  return s.expectedCanary > 0 ? s.canary / s.expectedCanary : 1;
}

/**
 * One tick: `canary` and `baseline` events, `w` the canary's share of events under no regression.
 * Ticks with no events or a share of 0 or 1 carry no information and are skipped.
 */
export function updateTwoArm(s: TwoArmState, canary: number, baseline: number, w: number): void {
  const n = canary + baseline;
  if (!(n > 0) || !(w > 0 && w < 1) || !Number.isFinite(n)) return;
  const t0 = share(w, s.r0);
  const l0c = Math.log(t0);
  const l0b = Math.log(1 - t0);
  // This tick's likelihood ratios, divided by the dispersion as estimated before it (quasi-likelihood).
  const d = dispersion(s.dispersion, s.dispersionPrior);
  const tick: number[] = [];
  for (let k = 0; k < s.alternatives.length; k++) {
    const t = share(w, s.alternatives[k] as number);
    const l = canary * (Math.log(t) - l0c) + baseline * (Math.log(1 - t) - l0b);
    s.llr[k] = (s.llr[k] as number) + l;
    tick.push(l / d);
  }
  stepLogS(s.logS, tick, s.ticks);
  // Dispersion from the spread around the local effect (a moving fit, so a regression that starts mid-watch
  // is not mistaken for noise); the fit uses the ticks before this one so a tick cannot explain itself away.
  if (s.ticks > 0 && s.localExpected > 0) {
    const fitted = share(w, Math.max(s.localCanary / s.localExpected, 1e-3));
    addPearson(s.dispersion, canary, n * fitted, n * fitted * (1 - fitted));
  }
  const expected = (baseline * w) / (1 - w);
  s.localCanary = LOCAL * canary + (1 - LOCAL) * s.localCanary;
  s.localExpected = LOCAL * expected + (1 - LOCAL) * s.localExpected;
  s.canary += canary;
  s.baseline += baseline;
  s.expectedCanary += expected;
  s.ticks += 1;
}

export interface TwoArmSummary {
  /** ln of the mixture e-value, after dividing each log-LR by the dispersion */
  logE: number;
  dispersion: number;
  /** relative effect r - 1 (e.g. -0.99 for a collapse) with an approximate 95% interval */
  effect: { estimate: number; low: number; high: number };
  /** the grid effect the evidence favours most */
  favoured: number;
}

export function summarizeTwoArm(s: TwoArmState): TwoArmSummary {
  const d = dispersion(s.dispersion, s.dispersionPrior);
  const scaled = s.llr.map((x) => x / d);
  const r = rateRatio(s);
  // Wald interval on log r with the quasi-likelihood variance; +0.5 keeps zero counts finite.
  const se = Math.sqrt(d * (1 / (s.canary + 0.5) + 1 / (s.baseline + 0.5)));
  const lr = Math.log(Math.max(r, 1e-6));
  return {
    logE: logEValue(s.logS, s.ticks, s.logWeights),
    dispersion: d,
    effect: { estimate: r - 1, low: Math.exp(lr - 1.96 * se) - 1, high: Math.exp(lr + 1.96 * se) - 1 },
    favoured: (s.alternatives[argMax(scaled)] as number) - 1,
  };
}
