// When a regression starts: a prior over the tick it starts at, mixed into the e-process. A likelihood
// ratio counted from the deploy's first tick carries every good tick before a late regression as evidence
// against it, so a canary that breaks after twenty good minutes would take about as long again to fail.
// Mixing over start times fixes that and keeps the guarantee: for each start k the product of per-tick
// likelihood ratios from k on is a martingale under no regression, and so is any weighted average of them,
// so Ville's inequality still bounds the chance of ever failing a good deploy by alpha. Most of the prior
// sits on the first tick (the deploy itself: a regression there costs ln(1/0.8) = 0.22 nats), the rest
// decays as 1/(k(k+1)), so a start at tick k costs about 2 ln k nats, not k ticks.
// With S_n = sum_{k<=n} pi_k prod_{j=k..n} LR_j, the recursion S_n = LR_n (S_{n-1} + pi_n) is O(1) a tick.

import { logMixture } from './effect-grid.js';

export const START_MASS = 0.8;

/** Prior mass on a regression starting at informative tick n (0-based). */
export function startMass(n: number): number {
  return n === 0 ? START_MASS : (1 - START_MASS) / (n * (n + 1));
}

/** Prior mass on a start after the first `ticks` ticks: those whose likelihood ratio is still 1. */
export function laterMass(ticks: number): number {
  return ticks === 0 ? 1 : (1 - START_MASS) / ticks;
}

export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** One tick of ln S for each alternative: ln S_n = l_n + ln(S_{n-1} + pi_n). */
export function stepLogS(logS: number[], tickLlr: readonly number[], n: number): void {
  const lp = Math.log(startMass(n));
  for (let k = 0; k < logS.length; k++) logS[k] = logAddExp(logS[k] as number, lp) + (tickLlr[k] as number);
}

/** ln of the e-value: for each alternative S_n plus the mass on later starts, then the effect mixture. */
export function logEValue(logS: readonly number[], ticks: number, logWeights: readonly number[]): number {
  const tail = Math.log(laterMass(ticks));
  return logMixture(
    logS.map((x) => logAddExp(x, tail)),
    logWeights,
  );
}
