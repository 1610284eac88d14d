// A mixture over a grid of effect sizes: the average of one likelihood ratio per candidate effect.
// An average of e-processes is an e-process (statistics.md), so the mixture may be checked every tick and
// failed at 1/alpha with P(ever failing a good deploy) <= alpha; it costs ln(K) nats against an oracle that
// knew the effect, and covers a 99% collapse and a 3% drop alike. Only the bad side is on the grid.

export type Direction = 'drop' | 'rise';

/** Relative multipliers of the null boundary r0: a drop of 99% ... 2.5%, a rise of 2.5% ... 30x. */
const DROP_STEPS = [0.01, 0.1, 0.3, 0.5, 0.65, 0.75, 0.82, 0.87, 0.91, 0.94, 0.96, 0.975];
const RISE_STEPS = [1.025, 1.04, 1.06, 1.09, 1.13, 1.2, 1.35, 1.6, 2, 3, 5, 10, 30];

/** Alternatives on the bad side of the null boundary r0 = 1 -/+ tolerance. */
export function effectGrid(direction: Direction, tolerance: number): { r0: number; alternatives: number[] } {
  const r0 = direction === 'drop' ? 1 - tolerance : 1 + tolerance;
  const steps = direction === 'drop' ? DROP_STEPS : RISE_STEPS;
  return { r0, alternatives: steps.map((q) => r0 * q) };
}

/** ln(mean_k exp(x_k)), stable. */
export function logMeanExp(xs: readonly number[]): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (const x of xs) sum += Math.exp(x - max);
  return max + Math.log(sum / xs.length);
}

/** Index of the largest entry: the effect the evidence favours most. */
export function argMax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] as number) > (xs[best] as number)) best = i;
  return best;
}
