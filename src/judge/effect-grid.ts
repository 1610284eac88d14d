// A mixture over a grid of effect sizes: the average of one likelihood ratio per candidate effect.
// An average of e-processes is an e-process (statistics.md), so the mixture may be checked every tick and
// failed at 1/alpha with P(ever failing a good deploy) <= alpha; it costs ln(K) nats against an oracle that
// knew the effect, and covers a 99% collapse and a 3% drop alike. Only the bad side is on the grid.

export type Direction = 'drop' | 'rise';

/** Relative multipliers of the null boundary r0: a drop of 99% ... 2.5%, a rise of 2.5% ... 30x. */
// Prior weights: the collapse gets the most (it must be decided at the first tick that shows it, where
// every nat counts), small effects more than middling ones (they take longest; middling ones are fast
// whatever their weight).
// The 96% drop (0.04) came last (issue 9): a collapsed canary that still shows a stray event in a tick is
// a 96% drop as much as a 99% one; it is appended, so a watch persisted with the earlier grid restores
// with its evidence per alternative in place (persist.ts pads the new one).
const DROP_STEPS = [0.01, 0.1, 0.3, 0.5, 0.65, 0.75, 0.82, 0.87, 0.91, 0.94, 0.96, 0.975, 0.04];
const DROP_WEIGHTS = [6, 1, 1, 1, 1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5, 3];
const RISE_STEPS = [1.025, 1.04, 1.06, 1.09, 1.13, 1.2, 1.35, 1.6, 2, 3, 5, 10, 30];
const RISE_WEIGHTS = [1.5, 1.5, 1.5, 1.5, 1, 1, 1, 1, 1, 1, 1, 1, 3];

export interface EffectGrid {
  r0: number;
  alternatives: number[];
  /** ln of each alternative's prior weight; the weights sum to 1 */
  logWeights: number[];
}

/** Alternatives on the bad side of the null boundary r0 = 1 -/+ tolerance. */
export function effectGrid(direction: Direction, tolerance: number): EffectGrid {
  const r0 = direction === 'drop' ? 1 - tolerance : 1 + tolerance;
  const steps = direction === 'drop' ? DROP_STEPS : RISE_STEPS;
  const weights = direction === 'drop' ? DROP_WEIGHTS : RISE_WEIGHTS;
  const total = weights.reduce((a, b) => a + b, 0);
  return { r0, alternatives: steps.map((q) => r0 * q), logWeights: weights.map((w) => Math.log(w / total)) };
}

/** ln(sum_k weight_k exp(x_k)): the log of the mixture e-value. */
export function logMixture(xs: readonly number[], logWeights: readonly number[]): number {
  let max = -Infinity;
  for (let k = 0; k < xs.length; k++) max = Math.max(max, (xs[k] as number) + (logWeights[k] as number));
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let k = 0; k < xs.length; k++) sum += Math.exp((xs[k] as number) + (logWeights[k] as number) - max);
  return max + Math.log(sum);
}

/** Index of the largest entry: the effect the evidence favours most. */
export function argMax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) > (xs[best] as number)) best = i;
  return best;
}
