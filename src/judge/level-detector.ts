// A sustained partial drop (or rise) against a seasonal forecast, when the change time is unknown (watch:
// always). The forecast is wrong in two ways that behave differently over ticks:
// - per-tick noise (bursts, Poisson, the copies' own scatter): independent across ticks, so it averages
//   out over a window. It is a negative-binomial (gamma-Poisson) law on the quasi-Poisson scale: y = x / d0
//   ~ NB(mean c f / d0, shape k), so var x = d0 m + m^2 / k, with d0 and k measured on history
//   (judge/nb-shape.ts). A gamma burst law gives the likelihood a bursty series really has; the
//   over-dispersed Poisson quasi-likelihood used before gave about 65% of that evidence at shape 20;
// - the level error L: how far the whole window runs above or below its forecast on a normal day. It is
//   shared by every tick of the window, so it is counted once, not per tick.
// The model for a window of ticks k..n: c = r L, L ~ G (the level-error law measured by replaying the
// forecaster on history, per-tick noise taken out). Normal: r = r0 (at most the tolerated change);
// regression: ln r spread evenly beyond it. For each onset the ratio of the two joint laws,
// Lambda_k(n) = int prod NB(x | c f) dPi_alt(c) / int prod NB(x | r0 L f) dG(L), is a non-negative
// martingale under the null, so P(it ever reaches A) <= 1/A (Ville). Paging when any onset's Lambda
// reaches A pages falsely at most once per A ticks on average: the e-detector of Shin, Ramdas and Rinaldo
// (2023) in its union form. Onsets are checked at a geometric grid of ages up to the horizon the level
// error was measured over (checking fewer times keeps the bound).
// Both integrals are taken on one grid of c = e^v (a proper mixture: the null's weights are G's mass in
// each cell, the alternative's its own prior), fine where G lives and coarser for deep drops. A window's
// NB log-likelihood at node v is Sy v - sum_t (k + y_t) log1p(e^v g_t / k) (g = f / d0, terms free of v
// cancel in the ratio), kept as prefix sums per node, so a window costs O(nodes) at any age.
// G is a mixture: half a gamma law on L with the deconvolved spread of the replayed errors, half their
// empirical points as measured (noise and all: wider, so a heavy tail seen in history is honoured).
import { median } from 'simple-statistics';
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

/** The per-tick noise law: y = x / d0 ~ NB(mean / d0, shape); shape Infinity is Poisson on that scale. */
export interface NoiseLaw {
  d0: number;
  shape: number;
}

/** One grid for both laws: nodes v = ln c, the null's weights (G, shifted by r0) and the alternative's. */
export interface LevelGrid {
  v: Float64Array;
  c: Float64Array;
  wNull: Float64Array;
  wAlt: Float64Array;
  /** r0 e^center: a window at or beyond this typical level cannot be a regression (not checked) */
  level: number;
}

/** Relative alternatives beyond the null boundary r0: ln q spread evenly over these bounds. */
const DROP_Q: [number, number] = [0.08, 0.92];
const RISE_Q: [number, number] = [1.09, 12];
/** Grid spacing (in ln c) of the alternative beyond the null's range, and the most nodes G gets. */
const ALT_STEP = 0.04;
const MAX_NULL_NODES = 64;

/**
 * The grid: nodes spaced by a quarter of G's spread over its range (gamma tails out to 1e-9 on either
 * side and every empirical point), then coarser nodes out to the alternative's far end. G's gamma half is
 * discretized by its density at the nodes (midpoint rule, normalized: fine next to its spread); each
 * empirical point's weight is split between its two neighbouring nodes.
 */
export function levelGrid(p: LevelPrior, direction: Direction, r0: number): LevelGrid {
  const drop = direction === 'drop';
  const lr0 = Math.log(r0);
  const sd = Math.max(p.spread, 0.01);
  const lnPts = p.points.map((l) => Math.log(l));
  // ln L of a gamma law is left-skewed: a longer reach below.
  let lo = Math.min(p.center - 9 * sd, ...lnPts);
  let hi = Math.max(p.center + 7 * sd, ...lnPts);
  const step = Math.max(sd / 4, (hi - lo) / MAX_NULL_NODES);
  lo -= step;
  hi += step;
  const nNull = Math.ceil((hi - lo) / step) + 1;
  const [qa, qb] = drop ? DROP_Q : RISE_Q;
  const altLo = lr0 + p.center + Math.log(qa);
  const altHi = lr0 + p.center + Math.log(qb);
  const nulLo = lr0 + lo;
  const nulHi = nulLo + (nNull - 1) * step;
  const extra = drop
    ? Math.max(0, Math.ceil((nulLo - altLo) / ALT_STEP))
    : Math.max(0, Math.ceil((altHi - nulHi) / ALT_STEP));
  const n = nNull + extra;
  const v = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    if (drop) v[j] = j < extra ? nulLo - (extra - j) * ALT_STEP : nulLo + (j - extra) * step;
    else v[j] = nulLo + j * step + (j >= nNull ? (j - nNull + 1) * (ALT_STEP - step) : 0);
  }
  const first = drop ? extra : 0;
  const c = v.map((x) => Math.exp(x));
  // The null: G on L = e^(v - ln r0).
  const wNull = new Float64Array(n);
  const lnDens: number[] = [];
  let m = -Infinity;
  for (let j = first; j < first + nNull; j++) {
    const l = (v[j] as number) - lr0;
    // density of ln L when L ~ Gamma(alpha, beta): alpha ln L - beta L (+ constants)
    const d = p.alpha * l - p.beta * Math.exp(l);
    lnDens.push(d);
    if (d > m) m = d;
  }
  let tot = 0;
  for (const d of lnDens) tot += Math.exp(d - m);
  const gw = lnPts.length ? 0.5 : 1;
  lnDens.forEach((d, k) => (wNull[first + k] = (gw * Math.exp(d - m)) / tot));
  for (const l of lnPts) {
    const at = (lr0 + l - nulLo) / step;
    const j0 = Math.min(nNull - 2, Math.max(0, Math.floor(at)));
    const fr = Math.min(1, Math.max(0, at - j0));
    wNull[first + j0] = (wNull[first + j0] as number) + ((1 - gw) * (1 - fr)) / lnPts.length;
    wNull[first + j0 + 1] = (wNull[first + j0 + 1] as number) + ((1 - gw) * fr) / lnPts.length;
  }
  // The alternative: ln c uniform on [altLo, altHi], each node weighted by its cell's share.
  const wAlt = new Float64Array(n);
  let at = 0;
  for (let j = 0; j < n; j++) {
    const x = v[j] as number;
    const left = j > 0 ? (x + (v[j - 1] as number)) / 2 : x;
    const right = j < n - 1 ? (x + (v[j + 1] as number)) / 2 : x;
    const share = Math.max(0, Math.min(right, altHi) - Math.max(left, altLo));
    wAlt[j] = share;
    at += share;
  }
  for (let j = 0; j < n; j++) wAlt[j] = (wAlt[j] as number) / at;
  return { v, c, wNull, wAlt, level: r0 * Math.exp(p.center) };
}

export interface LevelDetector {
  direction: Direction;
  /** the ages (ticks) at which each onset is checked */
  ages: number[];
  grid: LevelGrid | null;
  noise: NoiseLaw;
  /** the latest ticks since the last reset (at most the longest age): observed, forecast, ticks spanned */
  xs: number[];
  fs: number[];
  spans: number[];
  /**
   * running sums since `base`: row r (ring position r mod rows) holds, per node, sum (k + y) log1p(c g / k),
   * and sy the sum of y; rebuilt whenever the grid or the noise law changes
   */
  rows: Float64Array;
  sy: Float64Array;
  sg: Float64Array;
  /** ticks since the last reset */
  n: number;
  /** the largest ln Lambda at the last tick, and the age (ticks) of the window that gave it */
  stat: number;
  age: number;
}

/**
 * Ages (in ticks) at which onsets are checked: every age up to 48 ticks (each onset adds to the sum),
 * then growing by a quarter (15-second ticks over two hours: 480 ages would cost 480 windows a tick).
 */
export function checkAges(maxAge: number): number[] {
  const out: number[] = [];
  for (let a = 1; a < maxAge; a = a < EVERY_AGE ? a + 1 : Math.round(a * 1.25)) out.push(a);
  out.push(Math.max(1, maxAge));
  return out;
}

export function newLevelDetector(direction: Direction, maxAge: number): LevelDetector {
  return {
    direction,
    ages: checkAges(maxAge),
    grid: null,
    noise: { d0: 1, shape: Infinity },
    xs: [],
    fs: [],
    spans: [],
    rows: new Float64Array(0),
    sy: new Float64Array(maxAge + 1),
    sg: new Float64Array(maxAge + 1),
    n: 0,
    stat: -Infinity,
    age: 0,
  };
}

export function resetLevelDetector(d: LevelDetector): void {
  d.xs = [];
  d.fs = [];
  d.spans = [];
  d.n = 0;
  d.stat = -Infinity;
  d.age = 0;
}

const EVERY_AGE = 48;
const maxAgeOf = (d: LevelDetector) => d.ages[d.ages.length - 1] as number;

/** Sets the laws (a new level-error law, a new noise law): the kept ticks are summed again under them. */
export function setLevelLaws(d: LevelDetector, p: LevelPrior, noise: NoiseLaw, r0: number): void {
  d.grid = levelGrid(p, d.direction, r0);
  d.noise = { d0: Math.max(1, noise.d0), shape: noise.shape > 0 ? noise.shape : Infinity };
  const rowsN = maxAgeOf(d) + 1;
  d.rows = new Float64Array(rowsN * d.grid.v.length);
  const xs = d.xs;
  const fs = d.fs;
  const spans = d.spans;
  resetLevelDetector(d);
  for (let k = 0; k < xs.length; k++) push(d, xs[k] as number, fs[k] as number, spans[k] as number);
}

/** Appends one tick's terms to the running sums. */
function push(d: LevelDetector, x: number, f: number, spans: number): void {
  const g = d.grid as LevelGrid;
  const J = g.v.length;
  const rowsN = maxAgeOf(d) + 1;
  const y = x / d.noise.d0;
  const gf = f / d.noise.d0;
  // A sum over `spans` ticks of gamma-Poisson counts with a common shape: shape spans x k.
  const k = d.noise.shape * spans;
  const cur = (d.n + 1) % rowsN;
  const prev = d.n % rowsN;
  const rows = d.rows;
  const poissonLimit = !Number.isFinite(k) || k > 1e12;
  for (let j = 0; j < J; j++) {
    const cg = (g.c[j] as number) * gf;
    const t = poissonLimit ? cg : (k + y) * Math.log1p(cg / k);
    rows[cur * J + j] = (d.n === 0 ? 0 : (rows[prev * J + j] as number)) + t;
  }
  d.sy[cur] = (d.n === 0 ? 0 : (d.sy[prev] as number)) + y;
  d.sg[cur] = (d.n === 0 ? 0 : (d.sg[prev] as number)) + gf;
  if (d.n === 0) {
    rows.fill(0, prev * J, prev * J + J);
    d.sy[prev] = 0;
    d.sg[prev] = 0;
  }
  d.n++;
  d.xs.push(x);
  d.fs.push(f);
  d.spans.push(spans);
  if (d.xs.length > maxAgeOf(d)) {
    d.xs.shift();
    d.fs.shift();
    d.spans.shift();
  }
  // Running sums grow without bound over weeks: now and then, take the oldest kept row off every row.
  if (d.n % 4096 === 0) {
    const base = (d.n - Math.min(d.n, maxAgeOf(d))) % rowsN;
    const b = rows.slice(base * J, base * J + J);
    const bs = d.sy[base] as number;
    const bg = d.sg[base] as number;
    for (let r = 0; r < rowsN; r++) {
      for (let j = 0; j < J; j++) rows[r * J + j] = (rows[r * J + j] as number) - (b[j] as number);
      d.sy[r] = (d.sy[r] as number) - bs;
      d.sg[r] = (d.sg[r] as number) - bg;
    }
  }
}

const scratch = { s: new Float64Array(256) };

/** ln Lambda of the window of the last `a` ticks (a <= ticks since reset); -Infinity when not checked. */
export function windowLogE(d: LevelDetector, a: number): number {
  const g = d.grid;
  if (!g || a > d.n || a < 1) return -Infinity;
  const J = g.v.length;
  const rowsN = maxAgeOf(d) + 1;
  const cur = (d.n % rowsN) * J;
  const old = ((d.n - a) % rowsN) * J;
  const sy = (d.sy[d.n % rowsN] as number) - (d.sy[(d.n - a) % rowsN] as number);
  const sg = (d.sg[d.n % rowsN] as number) - (d.sg[(d.n - a) % rowsN] as number);
  // Checking fewer times keeps the bound: a window at or beyond the typical level cannot be a regression.
  if (!(sg > 0) || (d.direction === 'drop' ? sy >= g.level * sg : sy <= g.level * sg)) return -Infinity;
  if (scratch.s.length < J) scratch.s = new Float64Array(J);
  const s = scratch.s;
  let m = -Infinity;
  for (let j = 0; j < J; j++) {
    const v = sy * (g.v[j] as number) - ((d.rows[cur + j] as number) - (d.rows[old + j] as number));
    s[j] = v;
    if (v > m) m = v;
  }
  let nul = 0;
  let alt = 0;
  for (let j = 0; j < J; j++) {
    const wn = g.wNull[j] as number;
    const wa = g.wAlt[j] as number;
    if (wn === 0 && wa === 0) continue;
    const e = Math.exp((s[j] as number) - m);
    nul += wn * e;
    alt += wa * e;
  }
  return Math.log(alt) - Math.log(nul);
}

/**
 * One tick: observed x against forecast f (summed over `spans` ticks when one observation spans a gap).
 * Returns the largest ln Lambda over the checked ages (the statistic compared with ln A).
 */
export function updateLevelDetector(d: LevelDetector, x: number, f: number, spans = 1): number {
  if (!d.grid) return -Infinity;
  push(d, x, f, spans);
  let best = -Infinity;
  let bestAge = 0;
  // The statistic is the sum of the checked onsets' Lambda (the Shiryaev-Roberts form of the e-detector:
  // its mean grows by at most one a tick under the null, so reaching A takes A ticks on average), which
  // is at least their largest and gathers the evidence of neighbouring onsets.
  let sum = 0;
  let top = -Infinity;
  for (const a of d.ages) {
    if (a > d.n) break;
    const e = windowLogE(d, a);
    if (e === -Infinity) continue;
    if (e > best) {
      best = e;
      bestAge = a;
    }
    if (e > top) {
      sum = sum * Math.exp(top - e) + 1;
      top = e;
    } else sum += Math.exp(e - top);
  }
  d.stat = top === -Infinity ? -Infinity : top + Math.log(sum);
  d.age = bestAge;
  return d.stat;
}
