// Change detection when the change time is unknown (watch: always): a Shiryaev-Roberts e-detector per
// effect on the grid, R_k <- (1 + R_k) * LR_k, averaged over the grid. Under no change, mean R - n is a
// martingale, so alarming at mean R >= A gives an average run length to a false alarm of at least A ticks
// (statistics.md). Kept in logs for range.
import { effectGrid, logMixture, type Direction } from './effect-grid.js';
import { tickLlr } from './forecast-test.js';

export interface DetectorState {
  direction: Direction;
  r0: number;
  alternatives: number[];
  logWeights: number[];
  logR: number[];
  /** CUSUM per alternative and the last tick it stood at zero: the onset estimate of a change */
  cusum: number[];
  zeroAt: number[];
}

export function newDetector(direction: Direction, margin: number): DetectorState {
  const { r0, alternatives, logWeights } = effectGrid(direction, margin);
  return {
    direction,
    r0,
    alternatives,
    logWeights,
    logR: alternatives.map(() => -Infinity),
    cusum: alternatives.map(() => 0),
    zeroAt: alternatives.map(() => -Infinity),
  };
}

/** ln(1 + e^a) without overflow. */
const log1pExp = (a: number) => (a > 30 ? a : Math.log1p(Math.exp(a)));

export function updateDetector(s: DetectorState, x: number, f: number, dispersion: number, t: number): void {
  const l = tickLlr(s.alternatives, s.r0, x, f, dispersion);
  for (let k = 0; k < l.length; k++) {
    s.logR[k] = log1pExp(s.logR[k] as number) + (l[k] as number);
    const c = Math.max(0, (s.cusum[k] as number) + (l[k] as number));
    s.cusum[k] = c;
    if (c === 0) s.zeroAt[k] = t;
  }
}

/** When the change most likely began: the last tick the leading alternative's CUSUM stood at zero. */
export function onsetEstimate(s: DetectorState): number {
  let best = 0;
  for (let k = 1; k < s.logR.length; k++) if ((s.logR[k] as number) > (s.logR[best] as number)) best = k;
  return s.zeroAt[best] as number;
}

/** ln of the grid-averaged statistic. */
export function detectorStatistic(s: DetectorState): number {
  return logMixture(s.logR, s.logWeights);
}

export function resetDetector(s: DetectorState, margin?: number): void {
  if (margin !== undefined) {
    const g = effectGrid(s.direction, margin);
    s.r0 = g.r0;
    s.alternatives = g.alternatives;
    s.logWeights = g.logWeights;
  }
  s.logR = s.alternatives.map(() => -Infinity);
  s.cusum = s.alternatives.map(() => 0);
  s.zeroAt = s.alternatives.map(() => -Infinity);
}
