// A sustained partial drop (or rise) against a seasonal forecast, when the change time is unknown (watch:
// always). The forecast is wrong in two ways that behave differently over ticks:
// - per-tick noise (bursts, Poisson, the copies' own scatter): independent across ticks, so it averages
//   out over a window; it is the per-tick dispersion D_t = d0 + sigma2 f_t;
// - the level error L: how far the whole window runs above or below its forecast on a normal day. It is
//   shared by every tick of the window, so it must be counted once, not per tick.
// The model for a window of ticks k..n: x_t = D_t y_t, y_t ~ Poisson(L r f_t / D_t) (the over-dispersed
// Poisson model whose quasi-likelihood the rest of the judge uses), L ~ G, the level-error distribution
// measured by replaying the forecaster on history, with the per-tick noise taken out (deconvolved). Normal:
// r = r0 (at most the tolerated change); regression: r on a grid beyond it. For each onset k the ratio of
// the two joint laws, Lambda_k(n) = int prod p(x | r L f) dG dpi(r) / int prod p(x | r0 L f) dG, is a
// non-negative martingale under the null, so P(it ever reaches A) <= 1/A (Ville). Paging when any onset's
// Lambda reaches A pages falsely at most once per A ticks on average (each tick starts one onset, and a
// false page needs an onset that crosses): the e-detector of Shin, Ramdas and Rinaldo (2023) in its
// union form. Onsets are checked at a geometric grid of ages up to the horizon the level error was
// measured over (checking fewer times keeps the bound). Both laws depend on the window only through
// Sx = sum x_t / D_t and Sf = sum f_t / D_t, so a window costs O(1) with prefix sums.
// G is a mixture: half a gamma law on L (closed form, statistics.md's phi formula) with the deconvolved
// spread of the replayed errors, half their empirical points as measured (noise and all: wider, so a heavy
// tail seen in history is honoured).
import { gammaln, median } from 'simple-statistics';
import type { Direction } from './effect-grid.js';

export interface LevelPrior {
  /** gamma law on L: shape and rate (mean alpha / beta) */
  alpha: number;
  beta: number;
  /** empirical level errors' points (L values), equal weights */
  points: number[];
  /** median log level error and the deconvolved robust spread of log L (what the gamma law carries) */
  center: number;
  spread: number;
  /** robust spread of the raw replayed errors (noise included), for comparison */
  rawSpread: number;
  origins: number;
}

const MAX_POINTS = 32;

/**
 * The level-error law G from the replayed origins' errors (observed / forecast - 1 over the horizon) and
 * each origin's noise variance (the part of its error the per-tick noise explains). The spread on the
 * judged side (below the median for drops) is what is deconvolved: sd_L^2 = sd^2 - median noise variance,
 * plus one standard error of the variance estimate (about 1.6 x sqrt(2 / n) sd^2 for a MAD-type spread)
 * so that few origins never claim a precise level; at least 2%.
 */
export function levelPrior(errors: readonly number[], noiseVar: readonly number[], direction: Direction): LevelPrior {
  const logs = errors.map((e) => Math.log(Math.max(1e-3, 1 + e)));
  const n = logs.length;
  const c = n ? median(logs) : 0;
  const side = logs.filter((e) => (direction === 'drop' ? e < c : e > c)).map((e) => Math.abs(e - c));
  const all = logs.map((e) => Math.abs(e - c));
  const mad = all.length ? 1.4826 * median(all) : 0.25;
  const raw = Math.max(mad, side.length >= 3 ? 1.4826 * median(side) : mad, 1e-3);
  const noise = noiseVar.length ? median(noiseVar) : 0;
  const se = raw * raw * 1.6 * Math.sqrt(2 / Math.max(n, 2));
  const spread = Math.min(raw, Math.sqrt(Math.max(0.02 * 0.02, raw * raw - noise + se)));
  const mean = Math.exp(c);
  const alpha = 1 / (spread * spread);
  const sorted = [...logs].sort((a, b) => a - b);
  const points: number[] = [];
  const m = Math.min(MAX_POINTS, n);
  // Evenly spaced order statistics, always including both extremes (the tail is what matters).
  for (let j = 0; j < m; j++) points.push(Math.exp(sorted[Math.round((j * (n - 1)) / Math.max(1, m - 1))] as number));
  return { alpha, beta: alpha / mean, points, center: c, spread, rawSpread: raw, origins: n };
}

/** ln of int L^sx e^(-L sf) Gamma(L; alpha, beta) dL. */
function lnGammaMix(p: LevelPrior, sx: number, sf: number): number {
  return p.alpha * Math.log(p.beta) - gammaln(p.alpha) + gammaln(p.alpha + sx) - (p.alpha + sx) * Math.log(p.beta + sf);
}

/** Relative alternatives beyond the null boundary r0 (equal prior weights). */
const DROP_ALTS = [0.8, 0.6, 0.45, 0.3, 0.15];
const RISE_ALTS = [1.25, 1.6, 2.2, 3.5, 6];

/**
 * ln Lambda for one window: the regression law (r = r0 q, q on the grid, L ~ G's gamma part) against the
 * normal law (r = r0, L ~ G). The alternative may use any law; the null must be G itself.
 */
export function windowLogE(
  p: LevelPrior,
  direction: Direction,
  r0: number,
  sx: number,
  sf: number,
  /** a value the caller already has: when this window cannot beat it, -Infinity comes back early */
  atLeast = -Infinity,
): number {
  const alts = direction === 'drop' ? DROP_ALTS : RISE_ALTS;
  // The regression law, log-sum-exp over the grid (equal weights), without allocating.
  let m = -Infinity;
  const terms = ALT_TERMS;
  for (let k = 0; k < alts.length; k++) {
    const r = r0 * (alts[k] as number);
    const v = sx * Math.log(r) + lnGammaMix(p, sx, r * sf);
    terms[k] = v;
    if (v > m) m = v;
  }
  let acc = 0;
  for (let k = 0; k < alts.length; k++) acc += Math.exp((terms[k] as number) - m);
  const alt = m + Math.log(acc / alts.length);
  // Both laws share the factor prod (f_t / D_t)^y_t / y_t! (y = x / D), which cancels: what is left of
  // each is its kernel (r L)^sx e^(-r L sf), integrated over L.
  const gam = sx * Math.log(r0) + lnGammaMix(p, sx, r0 * sf);
  const np = p.points.length;
  if (!np) return alt - gam;
  // The null is at least half its gamma part, so the ratio is at most alt - gam + ln 2.
  if (alt - gam + Math.LN2 <= atLeast) return -Infinity;
  let em = -Infinity;
  for (const l of p.points) em = Math.max(em, sx * Math.log(r0 * l) - r0 * l * sf);
  let es = 0;
  for (const l of p.points) es += Math.exp(sx * Math.log(r0 * l) - r0 * l * sf - em);
  const emp = em + Math.log(es / np);
  const hi = Math.max(gam, emp);
  const nul = hi + Math.log(0.5 * Math.exp(gam - hi) + 0.5 * Math.exp(emp - hi));
  return alt - nul;
}

const ALT_TERMS: number[] = [0, 0, 0, 0, 0];

export interface LevelDetector {
  direction: Direction;
  /** running sums since the last reset: cx[j] = sum of x / D over the first j ticks, cf the same for f */
  cx: number[];
  cf: number[];
  /** the ages (ticks) at which each onset is checked */
  ages: number[];
  /** the largest ln Lambda at the last tick, and the age (ticks) of the window that gave it */
  stat: number;
  age: number;
}

/** Ages (in ticks) at which each onset is checked: 1, 2, 3, ... growing by a quarter, up to maxAge. */
export function checkAges(maxAge: number): number[] {
  const out: number[] = [];
  for (let a = 1; a < maxAge; a = Math.max(a + 1, Math.round(a * 1.25))) out.push(a);
  out.push(Math.max(1, maxAge));
  return out;
}

export function newLevelDetector(direction: Direction, maxAge: number): LevelDetector {
  return { direction, cx: [0], cf: [0], ages: checkAges(maxAge), stat: -Infinity, age: 0 };
}

export function resetLevelDetector(d: LevelDetector): void {
  d.cx = [0];
  d.cf = [0];
  d.stat = -Infinity;
  d.age = 0;
}

/**
 * One tick: observed x against forecast f with per-tick dispersion D. Returns the largest ln Lambda over
 * the checked ages (the statistic compared with ln A).
 */
export function updateLevelDetector(
  d: LevelDetector,
  p: LevelPrior,
  r0: number,
  x: number,
  f: number,
  dispersion: number,
): number {
  const D = Math.max(1, dispersion);
  const maxAge = d.ages[d.ages.length - 1] as number;
  d.cx.push((d.cx[d.cx.length - 1] as number) + x / D);
  d.cf.push((d.cf[d.cf.length - 1] as number) + f / D);
  if (d.cx.length > maxAge + 1) {
    d.cx.shift();
    d.cf.shift();
  }
  const n = d.cx.length - 1;
  const level = r0 * Math.exp(p.center);
  let best = -Infinity;
  let bestAge = 0;
  for (const a of d.ages) {
    if (a > n) break;
    const sx = (d.cx[n] as number) - (d.cx[n - a] as number);
    const sf = (d.cf[n] as number) - (d.cf[n - a] as number);
    // Checking fewer times keeps the bound: a window at or beyond the typical level cannot be a regression.
    if (!(sf > 0) || (d.direction === 'drop' ? sx >= level * sf : sx <= level * sf)) continue;
    const e = windowLogE(p, d.direction, r0, sx, sf, best);
    if (e > best) {
      best = e;
      bestAge = a;
    }
  }
  d.stat = best;
  d.age = bestAge;
  return best;
}
