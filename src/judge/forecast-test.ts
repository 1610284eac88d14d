// One process against a forecast (all-at-once deploys: no live control arm). Per tick, observed count x
// against forecast f: the Poisson log-likelihood ratio of rate multiplier r against the null boundary r0,
// x ln(r / r0) - (r - r0) f, divided by that tick's dispersion D_t = d0 + sigma2 * f (forecast error grows
// with the count, Poisson noise with its square root: on real series the forecast error dominates).
// r0 = 1 - margin for drops: a good deploy on a day that runs `margin` below its forecast does not fail.
import { argMax, effectGrid, logMixture, type Direction } from './effect-grid.js';
import { garwood } from './gamma.js';

export interface ForecastTestState {
  kind: 'forecast';
  direction: Direction;
  r0: number;
  alternatives: number[];
  logWeights: number[];
  /** log-likelihood ratio per alternative, already divided by each tick's dispersion */
  llr: number[];
  observed: number;
  expected: number;
  ticks: number;
  /** Poisson-scale dispersion floor and relative forecast variance per tick, measured on history */
  d0: number;
  sigma2: number;
  margin: number;
  /** robust sd of the forecaster's level error, measured on history (for the effect's interval) */
  levelSd?: number;
}

export function newForecastTest(
  direction: Direction,
  margin: number,
  d0: number,
  sigma2: number,
  levelSd?: number,
): ForecastTestState {
  const { r0, alternatives, logWeights } = effectGrid(direction, margin);
  return {
    kind: 'forecast',
    direction,
    r0,
    alternatives,
    logWeights,
    llr: alternatives.map(() => 0),
    observed: 0,
    expected: 0,
    ticks: 0,
    d0: Math.max(1, d0),
    sigma2: Math.max(0, sigma2),
    margin,
    ...(levelSd !== undefined ? { levelSd } : {}),
  };
}

/** Log-likelihood ratio of each alternative for one tick, dispersion-scaled. */
export function tickLlr(alternatives: readonly number[], r0: number, x: number, f: number, d: number): number[] {
  return alternatives.map((r) => (x * Math.log(r / r0) - (r - r0) * f) / d);
}

export function tickDispersion(s: { d0: number; sigma2: number }, f: number): number {
  return s.d0 + s.sigma2 * f;
}

export function updateForecastTest(s: ForecastTestState, x: number, f: number): void {
  if (!Number.isFinite(x) || !(f > 0)) return;
  const l = tickLlr(s.alternatives, s.r0, x, f, tickDispersion(s, f));
  for (let k = 0; k < l.length; k++) s.llr[k] = (s.llr[k] as number) + (l[k] as number);
  s.observed += x;
  s.expected += f;
  s.ticks += 1;
}

export interface ForecastSummary {
  logE: number;
  effect: { estimate: number; low: number; high: number };
  /** what kind of interval `effect` carries */
  interval: string;
  favoured: number;
}

export const COUNT_INTERVAL_KIND =
  "95% interval of observed / forecast: exact Poisson (Garwood) on the dispersion-scaled count, widened by 1.96 robust sd of the forecast's level error measured on history";

/**
 * An interval for the rate ratio observed / expected: the exact Poisson (Garwood) interval of the count
 * on the quasi-Poisson scale (count / D, so over-dispersion widens it), divided by the forecast, then
 * widened on each side by 1.96 sd of the forecaster's level error (the forecast is itself uncertain).
 * Adding the two widths instead of combining them in quadrature errs on the wide side.
 */
export function countInterval(
  observed: number,
  expected: number,
  dispersion: number,
  levelSd: number,
): { low: number; high: number; kind: string } {
  if (!(expected > 0)) return { low: 0, high: Infinity, kind: COUNT_INTERVAL_KIND };
  const d = Math.max(1, dispersion);
  const g = garwood(observed / d);
  const w = Math.exp(1.96 * Math.max(0, levelSd));
  return { low: (g.low * d) / expected / w, high: ((g.high * d) / expected) * w, kind: COUNT_INTERVAL_KIND };
}

export function summarizeForecastTest(s: ForecastTestState): ForecastSummary {
  const r = s.expected > 0 ? s.observed / s.expected : 1;
  const meanF = s.ticks > 0 ? s.expected / s.ticks : 0;
  // Without a measured level error (older state), half the margin stands in for its sd.
  const ci = countInterval(s.observed, s.expected, tickDispersion(s, meanF), s.levelSd ?? s.margin / 2);
  return {
    logE: logMixture(s.llr, s.logWeights),
    effect: { estimate: r - 1, low: ci.low - 1, high: ci.high - 1 },
    interval: ci.kind,
    favoured: (s.alternatives[argMax(s.llr)] as number) - 1,
  };
}
