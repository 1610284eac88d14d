// Over-dispersion: real counts vary more than the binomial split of a tick's events says (bursts, bulk
// buyers, retries, a version's rate wandering against the other's). With variance D times the binomial
// variance, log-likelihood ratios grow D times too fast; dividing them by D (quasi-likelihood) keeps the
// promised false-alarm rate, but only if D is not underestimated: a 20% underestimate at alpha = 0.001
// already multiplies false alarms about four times (alpha^0.8). So the D used is an upper bound, never a
// point estimate shrunk towards an optimistic prior:
// - terms are recursive residuals (each tick against the effect fitted on the ticks before it, its variance
//   widened by that fit's own uncertainty), so n terms are n honest chi-square(1) draws times D;
// - ticks whose binomial variance n theta (1 - theta) is small are pooled until it reaches 5, so a tick with
//   a fraction of an event expected is neither a wild term nor a floor of 1 (no cap, no floor on a term);
// - residuals are also summed over blocks of 4 and 16 ticks: autocorrelated wander (per-version drift) adds
//   long-run variance that single ticks do not show, and the largest block estimate is taken;
// - the level-1 estimate is turned into an upper 75% confidence bound, sum / chi2_{n, 0.25}, and that
//   factor is applied to the largest block estimate;
// - until `MIN_TERMS` level-1 terms are in, D is the assumption the caller states (two-arm.ts), or the mean
//   of the terms so far where that is higher (one wild tick raises D at once), reported as assumed.

/** Block lengths in ticks: 1 (plain over-dispersion) and 4, 16 (long-run variance of autocorrelated drift). */
export const BLOCKS = [1, 4, 16] as const;
/** A block is closed only once its binomial variance reaches this (pooling ticks with few events). */
const MIN_VARIANCE = 5;
/** A pooled residual three standard deviations out closes its block early. */
const SURPRISING = 9;
/** Level-1 terms before the data replace the stated assumption. */
export const MIN_TERMS = 8;
/** Terms a longer block needs before it counts (fewer are too noisy to add anything but noise). */
const MIN_BLOCK_TERMS = 4;
/**
 * One-sided confidence of the upper bound once measured: P(D used < true D) is about 25% at each tick, and
 * when it is below, it is below by little (the bound is sum / chi2_{n, 0.25}, 1.35 times the point estimate
 * at 16 terms, 1.22 at 32): a 10% level would cost a third more delay for a promise the bench shows kept.
 */
const LOWER_QUANTILE_Z = -0.6744897501960817; // standard normal 25% quantile
const Z10 = -1.2815515655446004;

interface Level {
  size: number;
  /** the open block: summed residuals, variances and ticks */
  resid: number;
  variance: number;
  span: number;
  /** closed blocks: sum of their Pearson terms, and how many */
  chi2: number;
  n: number;
}

export interface DispersionState {
  levels: Level[];
}

export function newDispersion(): DispersionState {
  return {
    levels: BLOCKS.map((size) => ({ size, resid: 0, variance: 0, span: 0, chi2: 0, n: 0 })),
  };
}

/**
 * Adds one observation's residual (observed - expected under the fitted effect) with its variance under
 * binomial sampling, covering `span` ticks (an observation aggregated across a scrape gap covers several).
 */
export function addResidual(state: DispersionState, residual: number, variance: number, span = 1): void {
  if (!(variance > 0) || !Number.isFinite(residual) || !Number.isFinite(variance)) return;
  for (const l of state.levels) {
    l.resid += residual;
    l.variance += variance;
    l.span += span;
    // A block closes once it spans its length and holds enough variance (estimateDispersion also looks at
    // an open pool whose residual is already surprising).
    const term = (l.resid * l.resid) / l.variance;
    if (l.span >= l.size && l.variance >= MIN_VARIANCE) {
      l.chi2 += term;
      l.n += 1;
      l.resid = 0;
      l.variance = 0;
      l.span = 0;
    }
  }
}

/** chi2_{n, 0.1} for n = 1..7, where the Wilson-Hilferty approximation is poor. */
const CHI2_LOW_10 = [0.01579, 0.2107, 0.5844, 1.0636, 1.6103, 2.2041, 2.8331];

/** The quantile (at standard normal z) of chi-square with n degrees of freedom: Wilson-Hilferty, a table for 10% below 8. */
export function chi2Quantile(n: number, z = LOWER_QUANTILE_Z): number {
  if (z === Z10 && n < 8) return CHI2_LOW_10[n - 1] as number;
  const a = 2 / (9 * n);
  return n * Math.pow(Math.max(0, 1 - a + z * Math.sqrt(a)), 3);
}

export interface DispersionEstimate {
  /** the D the test divides by */
  value: number;
  /** 'assumed' while too few terms are in; 'upper-bound' once measured */
  basis: 'assumed' | 'upper-bound';
  /** block length whose estimate was the largest (1: plain over-dispersion; 4, 16: drift) */
  block: number;
  /** level-1 terms (pooled ticks) behind the estimate */
  terms: number;
  /** the level-1 point estimate, for the evidence */
  point: number;
}

/**
 * `early`: how the terms in before MIN_TERMS may raise the assumption: 'point' by their mean (drop tests,
 * whose evidence per tick is bounded by the events expected), 'upper-bound' by their chi-square upper bound
 * (rise tests: one clump of retried errors must silence the test until D is known).
 */
export function estimateDispersion(
  state: DispersionState,
  assumed: number,
  early: 'point' | 'upper-bound' = 'point',
): DispersionEstimate {
  const levels = state.levels ?? newDispersion().levels; // state persisted before the levels existed
  const closed = levels[0] as Level;
  // An open pool whose residual is already three standard deviations out counts now, as one more term: a
  // clump of retried errors in a quiet signal raises D before the next tick is judged. Only the estimate
  // sees it (the pool closes as usual), so the closed terms stay unbiased.
  const open = closed.variance > 0 ? (closed.resid * closed.resid) / closed.variance : 0;
  const l1 = open >= SURPRISING ? { ...closed, chi2: closed.chi2 + open, n: closed.n + 1 } : closed;
  if (l1.n < MIN_TERMS) {
    // Too few terms to bound D, but enough to raise it: a clump of errors in a quiet signal (one huge term)
    // lifts D above the assumption at once.
    const point = l1.n > 0 ? l1.chi2 / l1.n : NaN;
    const raised = l1.n === 0 ? 0 : early === 'point' ? point : l1.chi2 / chi2Quantile(l1.n, Z10);
    return { value: Math.max(1, assumed, raised), basis: 'assumed', block: 1, terms: l1.n, point };
  }
  const point = l1.chi2 / l1.n;
  // Long-run variance of autocorrelated wander: the block sums. (A lag-window estimate on the residuals was
  // tried and dropped: with few terms it is noise, and a sustained regression's one-sided residuals read as
  // huge autocorrelation, blinding the test exactly when it should fail.)
  let best = point;
  let block = 1;
  for (const l of levels.slice(1)) {
    if (l.n < MIN_BLOCK_TERMS) continue;
    const p = l.chi2 / l.n;
    if (p > best) {
      best = p;
      block = l.size;
    }
  }
  const factor = l1.n / chi2Quantile(l1.n);
  return { value: Math.max(1, best * factor), basis: 'upper-bound', block, terms: l1.n, point };
}

export function dispersion(state: DispersionState, assumed: number): number {
  return estimateDispersion(state, assumed).value;
}
