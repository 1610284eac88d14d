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

/** A residual (observed - expected under a fitted effect) and its variance under binomial sampling. */
export interface Residual {
  residual: number;
  variance: number;
}

/**
 * Adds one observation's residual with its variance under binomial sampling, covering `span` ticks (an
 * observation aggregated across a scrape gap covers several). `longRun`, when given, is the residual the
 * longer blocks (4, 16 ticks) sum instead: one around a fit over the whole watch, so slow wander stays in
 * it, while the level-1 residual may be taken around a local fit that a level change (a collapse) leaves
 * within a few ticks instead of reading as noise for the rest of the watch.
 */
export function addResidual(
  state: DispersionState,
  residual: number,
  variance: number,
  span = 1,
  longRun: Residual = { residual, variance },
): void {
  if (!(variance > 0) || !Number.isFinite(residual) || !Number.isFinite(variance)) return;
  if (!(longRun.variance > 0) || !Number.isFinite(longRun.residual)) longRun = { residual, variance };
  for (const l of state.levels) {
    const r = l.size === 1 ? residual : longRun.residual;
    l.resid += r;
    l.variance += l.size === 1 ? variance : longRun.variance;
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
  /**
   * 'assumed' while too few terms are in; 'upper-bound' once measured; 'history' when the floor measured
   * before the deploy was the larger (two-arm.ts)
   */
  basis: 'assumed' | 'upper-bound' | 'history';
  /** block length whose estimate was the largest (1: plain over-dispersion; 4, 16: drift) */
  block: number;
  /** level-1 terms (pooled ticks) behind the estimate */
  terms: number;
  /** the level-1 point estimate, for the evidence */
  point: number;
}

/**
 * `early`: how the terms in before MIN_TERMS may raise the assumption: 'none' (the assumption stands),
 * 'point' by their mean, 'upper-bound' by their chi-square upper bound (rise tests: one clump of retried
 * errors must silence the test until D is known).
 */
export function estimateDispersion(
  state: DispersionState,
  assumed: number,
  early: 'none' | 'point' | 'upper-bound' = 'point',
  /**
   * each longer block's estimate bounded by its own degrees of freedom (k / chi2_{k, 0.25} for k terms)
   * instead of the level-1 factor: where no floor was measured before the deploy the watch's own blocks
   * are the only measure of wander, and four 16-tick terms say little (a drift of 5% a tick failed 7 good
   * canaries in 2,000 between ticks 64 and 120 with the level-1 factor)
   */
  blockBound = false,
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
    const raised = l1.n === 0 || early === 'none' ? 0 : early === 'point' ? point : l1.chi2 / chi2Quantile(l1.n, Z10);
    return { value: Math.max(1, assumed, raised), basis: 'assumed', block: 1, terms: l1.n, point };
  }
  const point = l1.chi2 / l1.n;
  // Long-run variance of autocorrelated wander: the block sums. (A lag-window estimate on the residuals was
  // tried and dropped: with few terms it is noise, and a sustained regression's one-sided residuals read as
  // huge autocorrelation, blinding the test exactly when it should fail.)
  const factor = l1.n / chi2Quantile(l1.n);
  let best = point * factor;
  let block = 1;
  for (const l of levels.slice(1)) {
    if (l.n < MIN_BLOCK_TERMS) continue;
    const p = (l.chi2 / l.n) * (blockBound ? l.n / chi2Quantile(l.n) : factor);
    if (p > best) {
      best = p;
      block = l.size;
    }
  }
  return { value: Math.max(1, best), basis: 'upper-bound', block, terms: l1.n, point };
}

/**
 * Whether the watch's longest blocks (16 ticks, the only ones that see slow wander) have `terms` terms
 * (two-arm.ts holds its wander assumption until 6 are in, 96 ticks, where no floor was measured).
 */
export function longRunMeasured(state: DispersionState, terms = MIN_BLOCK_TERMS): boolean {
  const levels = state.levels ?? [];
  const last = levels[levels.length - 1];
  return last !== undefined && last.size === BLOCKS[BLOCKS.length - 1] && last.n >= terms;
}

export function dispersion(state: DispersionState, assumed: number): number {
  return estimateDispersion(state, assumed).value;
}

// ---- The floor measured before the deploy (issue 9: "a floor D0 measured before the deploy where history
// exists"). The in-deploy bound needs MIN_TERMS ticks and, for wander, blocks of 16 ticks, four of them:
// until then the test would run on an assumption. The old version's own history, the hour before the
// deploy, measures the same spread: its numerator (errors, slow requests, orders) around ratio x its
// denominator (requests), as recursive residuals: pooled per tick like the in-deploy terms, and summed over
// overlapping windows of 4 and 16 ticks for the long run; the largest mean term times the level-1 upper
// 75% factor, n / chi2_{n, 0.25}, as on the watch.
//
// How one version's spread carries over to the two-arm share (the canary's share of the bad events given
// the total, theta = w p_c / (w p_c + (1 - w) p_b)):
// - white over-dispersion (clumps, bulk buyers: variance D_w times the binomial's) carries over as it is:
//   both arms' counts have variance D_w times their means, so the canary's count given the total has
//   D_w times the binomial variance X theta (1 - theta);
// - multiplicative wander of a version's ratio, p e^u with var(u) = s2 (per tick, or per tick of a block's
//   sum for the long run), adds (n p)^2 s2 to one version's count: in Pearson units (divided by the
//   binomial variance v_h = n p (1 - p)), D_h = D_w + v_h s2 / (1 - p)^2. The share's log-odds moves by
//   u_c - u_b, two independent versions' wander, so twice one version's variance: the canary's count given
//   the total gains (X theta (1 - theta))^2 2 s2, in Pearson units D = D_w + 2 v s2 with
//   v = X theta (1 - theta) the two-arm tick's binomial variance. Wander grows with the count, white
//   over-dispersion does not, and history at one scale cannot tell them apart: with D_w anywhere in
//   [1, D_h], D <= max(D_h, 1 + 2 (v / v_h) (D_h - 1)) (dropping (1 - p)^2 <= 1 only raises it). At the
//   history's own traffic a two-arm tick has v <= v_h / 4, so D_h itself is the floor; a traffic push that
//   makes v larger than v_h / 2 raises it.

/** One block length's bound on the history: its mean term times the level-1 factor, and the terms behind it. */
export interface FloorBlock {
  size: number;
  value: number;
  terms: number;
}

/** The dispersion measured on one version's history before the deploy. */
export interface DispersionFloor {
  /** per block length with enough terms: the upper bound */
  blocks: FloorBlock[];
  /** the largest bound, and its block length (the floor at the history's own scale) */
  value: number;
  block: number;
  /** history ticks used (those with the numerator and a positive denominator seen) */
  ticks: number;
  /** mean binomial variance n p (1 - p) of a history tick: the scale the wander part is measured at */
  variancePerTick: number;
  /**
   * how it was measured: 'ratio' (default) the numerator given its denominator on one version's history;
   * 'placebo' the old version's instances split into two arms, one arm's share of the events
   * (measurePlaceboFloor), with `arms` the series or instances in each
   */
  method?: 'ratio' | 'placebo';
  arms?: [number, number];
}

/**
 * Measures the floor on per-tick history: `num[i]` bad (or counted) events out of `den[i]` exposures (NaN:
 * not seen). Returns null when fewer than MIN_TERMS pooled terms are in (no history: the caller keeps its
 * stated assumption and says so).
 */
export function measureFloor(num: ArrayLike<number>, den: ArrayLike<number>): DispersionFloor | null {
  const state = newDispersion();
  const resid: number[] = [];
  const vars: number[] = [];
  let x = 0;
  let n = 0;
  let vSum = 0;
  for (let i = 0; i < Math.min(num.length, den.length); i++) {
    const xi = num[i] as number;
    const ni = den[i] as number;
    if (!Number.isFinite(xi) || !Number.isFinite(ni) || !(ni > 0) || xi < 0) continue;
    if (n > 0) {
      // each tick against the ratio of the ticks before it (half an event of prior keeps a ratio of 0 finite)
      const p = Math.min((x + 0.5) / (n + 1), 1 - 1e-9);
      const v = ni * p * (1 - p);
      addResidual(state, xi - ni * p, v * (1 + ni / n));
      resid.push(xi - ni * p);
      vars.push(v * (1 + ni / n));
      vSum += v;
    }
    x += xi;
    n += ni;
  }
  const ticks = resid.length;
  const l1 = state.levels[0] as Level;
  if (l1.n < MIN_TERMS || ticks === 0) return null;
  // Level 1: the pooled terms' upper bound. Longer blocks: overlapping windows of `size` ticks (batch
  // means; about 1.5 times the degrees of freedom of disjoint blocks, so a 16-tick block on an hour is not
  // 14 noisy terms), their mean term times the level-1 upper-bound factor, as on the watch (the largest of
  // several noisy upper bounds would be far above the truth on white noise).
  const factor = l1.n / chi2Quantile(l1.n);
  const blocks: FloorBlock[] = [{ size: 1, value: Math.max(1, (l1.chi2 / l1.n) * factor), terms: l1.n }];
  for (const size of BLOCKS.slice(1)) {
    let sum = 0;
    let windows = 0;
    let r = 0;
    let v = 0;
    for (let i = 0; i < ticks; i++) {
      r += resid[i] as number;
      v += vars[i] as number;
      if (i >= size) {
        r -= resid[i - size] as number;
        v -= vars[i - size] as number;
      }
      if (i >= size - 1 && v >= MIN_VARIANCE) {
        sum += (r * r) / v;
        windows++;
      }
    }
    if ((3 * windows) / (2 * size) < MIN_BLOCK_TERMS) continue;
    blocks.push({ size, value: Math.max(1, (sum / windows) * factor), terms: windows });
  }
  let best = blocks[0] as FloorBlock;
  for (const b of blocks) if (b.value > best.value) best = b;
  return { blocks, value: best.value, block: best.size, ticks, variancePerTick: vSum / ticks };
}

/**
 * The floor for a two-arm tick whose binomial variance per tick is `variance` (X theta (1 - theta) over the
 * ticks it spans): max over block lengths of max(D_h, 1 + k (v / v_h) (D_h - 1)), see above; k = 2 for one
 * version's ratio (the two-arm share moves by two versions' wander), k = 1 for a placebo split (its share
 * already moves by two independent halves' wander).
 */
export function floorAt(floor: DispersionFloor, variance: number): number {
  const scale = floor.variancePerTick > 0 && variance > 0 ? variance / floor.variancePerTick : 0;
  const k = floor.method === 'placebo' ? 1 : 2;
  let d = 1;
  for (const b of floor.blocks) d = Math.max(d, b.value, 1 + k * scale * (b.value - 1));
  return d;
}

// ---- A count signal without an exposure counter (no `traffic`): a placebo split. Its canary test is the
// canary's share of the events against the declared weight, so the floor must measure the spread of a
// share of events between two arms, not one series' spread around its own level: a single series carries
// the traffic's shared swings (a burst of users, the time of day), which cancel between the two arms of a
// canary and would inflate its floor by about the tick's count times the squared burst cv (50 and more at
// a few thousand events a tick and gamma bursts of shape 20), and a local fit cannot remove white shared
// bursts. Splitting the old version's own instances into two arms (A: every other instance, B: the rest)
// and measuring A's share of the events, tick by tick, around its running share, reproduces the canary
// comparison without a canary: shared swings cancel exactly as they do between versions, and what is left
// is the over-dispersion that is independent between arms (clumps, bulk buyers, one pod's hiccups), which
// carries over to the two-arm share as it is (both arms' counts have variance D times their means, and so
// has their sum over instances). What a placebo cannot see is wander common to all of one version's
// instances and independent between versions (the new version's own drift): no history of one version
// shows it; the watch's own blocks measure it (README, Known limits).

/**
 * The floor measured on two arms of the old version's instances: `a[i]` and `b[i]` the events of each arm
 * in history tick i (NaN: not seen). Null without enough ticks (as measureFloor).
 */
export function measurePlaceboFloor(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  arms: [number, number] = [1, 1],
): DispersionFloor | null {
  const len = Math.min(a.length, b.length);
  const total = new Float64Array(len);
  for (let i = 0; i < len; i++) total[i] = (a[i] as number) + (b[i] as number);
  const f = measureFloor(a, total);
  return f ? { ...f, method: 'placebo', arms } : null;
}
