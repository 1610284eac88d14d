// Over-dispersion: real counts vary more than Poisson (bursts, bulk buyers, retries). With variance D times
// the binomial/Poisson variance, log-likelihood ratios grow D times too fast; dividing them by an estimate
// of D (quasi-likelihood) keeps the promised false-alarm rate. D is estimated online from Pearson residuals
// around the fitted effect (not around the null, so a real regression does not inflate it), shrunk towards
// a prior while few ticks are in, and never below 1.

export interface DispersionState {
  /** sum of Pearson chi-square terms */
  chi2: number;
  /** number of terms */
  n: number;
}

/** Pseudo-ticks of prior belief at `prior`: strong enough that 2-3 noisy ticks cannot swing D much. */
const PRIOR_WEIGHT = 8;

export function newDispersion(): DispersionState {
  return { chi2: 0, n: 0 };
}

/** Adds one tick's Pearson term (observed - expected)^2 / variance; ignores ticks with no variance. */
export function addPearson(state: DispersionState, observed: number, expected: number, variance: number): void {
  if (!(variance > 1e-9) || !Number.isFinite(observed)) return;
  // The variance is floored at 1: with a fitted mean near zero (a collapsed canary) one stray event
  // would otherwise look like wild over-dispersion and blind the test. One tick's term is capped so a
  // single outlier tick (3 standard deviations and beyond count as 3) cannot blind it for the rest of the watch either.
  const term = Math.min(((observed - expected) * (observed - expected)) / Math.max(variance, 1), 9);
  state.chi2 += term;
  state.n += 1;
}

export function dispersion(state: DispersionState, prior: number): number {
  const d = (PRIOR_WEIGHT * prior + state.chi2) / (PRIOR_WEIGHT + state.n);
  return Math.max(1, d);
}
