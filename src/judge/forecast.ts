// Seasonal forecasts for judging without a control arm (design §3.2, statistics.md): the same time on
// earlier days and weeks, each copy scaled by the level just before the origin (frozen there, so the
// forecast does not follow a regression down), combined by their median. How wrong such forecasts are is
// measured on the history itself by replaying the forecaster from many earlier origins: the level error
// sets the margin (a drop smaller than what the forecaster routinely misses is not a finding), the
// per-tick scatter sets the dispersion.
import { median, medianAbsoluteDeviation, probit, quantile } from 'simple-statistics';

const DAY = 86400;
/** Lags tried, in seconds: yesterday and the same weekday of the last four weeks. */
export const SEASONAL_LAGS = [1, 7, 14, 21, 28].map((d) => d * DAY);

export interface ForecastSettings {
  /** ticks of level window before the origin */
  levelTicks: number;
  /** half-width of the moving average over each lagged copy, in ticks */
  smoothHalf: number;
  lagTicks: number[];
  /** with two or more same-weekday lags available, use only those (Monday is not forecast from Sunday) */
  weeklyFirst?: boolean;
}

export function forecastSettings(step: number): ForecastSettings {
  return {
    levelTicks: Math.max(8, Math.round(3600 / step)),
    smoothHalf: Math.floor(300 / step),
    lagTicks: SEASONAL_LAGS.map((l) => Math.round(l / step)),
  };
}

// Prefix sums of finite values and of their count, cached per history array and extended as it grows
// (histories are append-only), so a moving average costs O(1) whatever its width: forecasts over weeks
// of 15 s ticks replay hundreds of origins.
interface Prefix {
  sum: number[];
  n: number[];
}
const prefixes = new WeakMap<object, Prefix>();

function prefixOf(values: ArrayLike<number>): Prefix {
  let p = prefixes.get(values as object);
  if (!p) {
    p = { sum: [0], n: [0] };
    prefixes.set(values as object, p);
  }
  for (let j = p.sum.length - 1; j < values.length; j++) {
    const v = values[j] as number;
    const ok = Number.isFinite(v);
    p.sum.push((p.sum[j] as number) + (ok ? v : 0));
    p.n.push((p.n[j] as number) + (ok ? 1 : 0));
  }
  return p;
}

/** Mean of the finite values in [i - half, i + half], NaN when none or out of range. */
export function smoothedAt(values: ArrayLike<number>, i: number, half: number): number {
  const lo = Math.max(0, i - half);
  const hi = Math.min(values.length - 1, i + half);
  if (hi < lo) return NaN;
  const p = prefixOf(values);
  const n = (p.n[hi + 1] as number) - (p.n[lo] as number);
  return n > 0 ? ((p.sum[hi + 1] as number) - (p.sum[lo] as number)) / n : NaN;
}

/** A forecaster frozen at an origin: which lags it uses, each lag's level scale, or a flat level. */
export interface FrozenModel {
  lags: number[];
  scales: number[];
  /** used when no seasonal lag has history: the mean count per tick in the level window */
  flat: number;
}

/** Fits the level scales on the window [from, to) of ticks. */
export function fitModel(
  values: ArrayLike<number>,
  from: number,
  to: number,
  s: ForecastSettings,
  /** the observed values the level is fitted to (default `values`): NaN where a tick was anomalous */
  truth: ArrayLike<number> = values,
): FrozenModel {
  const lags: number[] = [];
  const scales: number[] = [];
  let flatSum = 0;
  let flatN = 0;
  for (let i = Math.max(0, from); i < to; i++) {
    const x = truth[i] as number;
    if (Number.isFinite(x)) {
      flatSum += x;
      flatN++;
    }
  }
  for (const lag of s.lagTicks) {
    if (from - lag - s.smoothHalf < 0) continue;
    let sx = 0;
    let sc = 0;
    let n = 0;
    for (let i = from; i < to; i++) {
      const x = truth[i] as number;
      const c = smoothedAt(values, i - lag, s.smoothHalf);
      if (Number.isFinite(x) && Number.isFinite(c)) {
        sx += x;
        sc += c;
        n++;
      }
    }
    if (sc > 0 && n >= (to - from) / 2) {
      lags.push(lag);
      scales.push(sx / sc);
    }
  }
  if (s.weeklyFirst) {
    const week = s.lagTicks[1] as number;
    const weekly = lags.map((l, k) => (l % week === 0 ? k : -1)).filter((k) => k >= 0);
    if (weekly.length >= 2)
      return {
        lags: weekly.map((k) => lags[k] as number),
        scales: weekly.map((k) => scales[k] as number),
        flat: flatN > 0 ? flatSum / flatN : NaN,
      };
  }
  return { lags, scales, flat: flatN > 0 ? flatSum / flatN : NaN };
}

/** The forecast for tick i (any i after the model's origin whose lagged copies are in `values`). */
export function forecastAt(values: ArrayLike<number>, i: number, m: FrozenModel, s: ForecastSettings): number {
  const copies: number[] = [];
  for (let k = 0; k < m.lags.length; k++) {
    const c = smoothedAt(values, i - (m.lags[k] as number), s.smoothHalf);
    if (Number.isFinite(c)) copies.push(c * (m.scales[k] as number));
  }
  if (copies.length === 0) return m.flat;
  return copies.length === 1 ? (copies[0] as number) : median(copies);
}

export interface ForecastError {
  origins: number;
  /** upper quantile of how far the truth fell below (drop) / rose above (rise) the forecast over a horizon */
  dropMargin: number;
  riseMargin: number;
  /** excess relative variance per tick beyond Poisson, after the level error is taken out */
  sigma2: number;
  /** Poisson-scale dispersion of small counts */
  d0: number;
  /** robust standard deviation of the level error (1.4826 x MAD) */
  levelSd: number;
  /** origins whose level error went beyond the margin: the replay's failures (0: certifies about 3 / origins) */
  dropExceedances: number;
  riseExceedances: number;
  /**
   * each origin's level error (observed / forecast - 1 over the horizon) and the share of its variance
   * that the per-tick noise alone explains (relative variance of the ratio given the level): what is left
   * once that is taken out is the forecaster's own level error (judge/level-detector.ts)
   */
  errors?: number[];
  noiseVar?: number[];
  /** every replayed tick's observed count and its mean (forecast x its origin's level): the burst law's data */
  ticks?: { x: number[]; m: number[] };
}

/**
 * Replays the forecaster from earlier origins (every `stride` ticks going back from `end - horizon`), each
 * with only the data before it, and measures its errors over `horizon` ticks.
 */
export function measureForecastError(
  values: ArrayLike<number>,
  end: number,
  horizon: number,
  s: ForecastSettings,
  stride: number,
  maxOrigins = 200,
  /** origins whose forecaster has fewer seasonal lags than this are not the forecaster being judged */
  minLags = 0,
  /** probability that a normal day's level error exceeds the margin (the margin's share of alpha) */
  tail = 0.0005,
  /**
   * what was observed (default `values`): when `values` is a cleaned history whose anomalous ticks stand
   * in as their forecasts, the errors are measured on the other ticks only (a stand-in has no error)
   */
  truth: ArrayLike<number> = values,
  /**
   * with `s.weeklyFirst`: origins of the same-weekday forecaster needed before only they count (fewer:
   * all origins count, the earlier forecaster's larger errors included, which errs wide)
   */
  minWeeklyOrigins = 0,
): ForecastError {
  const levelErrors: number[] = [];
  const sums: { f: number; ff: number }[] = [];
  const tx: number[] = [];
  const tm: number[] = [];
  // Per-tick variance model r^2 ~ d0 f + sigma2 f^2, fitted as r^2 / f ~ d0 + sigma2 f by least squares.
  let n = 0;
  let sy = 0;
  let sf1 = 0;
  let sff = 0;
  let syf = 0;
  // A forecaster that has the same weekday to copy from is judged on origins where it had too: the
  // origins before that (yesterday's copy across a weekend) are another forecaster's errors.
  const week = s.lagTicks[1] as number;
  const weeklyOnly = (m: FrozenModel) => m.lags.length >= 2 && m.lags.every((l) => l % week === 0);
  let needWeekly = !!s.weeklyFirst && weeklyOnly(fitModel(values, end - s.levelTicks, end, s, truth));
  if (needWeekly && minWeeklyOrigins > 0) {
    let k = 0;
    for (let o = end - horizon; o - s.levelTicks >= 0 && k < minWeeklyOrigins; o -= stride, k++)
      if (!weeklyOnly(fitModel(values, o - s.levelTicks, o, s, truth))) break;
    needWeekly = k >= minWeeklyOrigins;
  }
  for (let o = end - horizon; o - s.levelTicks >= 0 && levelErrors.length < maxOrigins; o -= stride) {
    const model = fitModel(values, o - s.levelTicks, o, s, truth);
    if (model.lags.length < minLags) continue;
    if (needWeekly && !weeklyOnly(model)) break;
    const xs: number[] = [];
    const fs: number[] = [];
    for (let i = o; i < o + horizon; i++) {
      const x = truth[i] as number;
      const f = forecastAt(values, i, model, s);
      if (Number.isFinite(x) && f > 0) {
        xs.push(x);
        fs.push(f);
      }
    }
    const sx = xs.reduce((a, b) => a + b, 0);
    const sf = fs.reduce((a, b) => a + b, 0);
    if (xs.length < horizon / 2 || !(sf > 0)) continue;
    const level = sx / sf;
    levelErrors.push(level - 1);
    let ff = 0;
    for (const fj of fs) ff += fj * level * (fj * level);
    sums.push({ f: sf * level, ff });
    for (let j = 0; j < xs.length; j++) {
      const fl = (fs[j] as number) * level;
      const r = (xs[j] as number) - fl;
      const y = (r * r) / fl;
      tx.push(xs[j] as number);
      tm.push(fl);
      n++;
      sy += y;
      sf1 += fl;
      sff += fl * fl;
      syf += y * fl;
    }
  }
  if (levelErrors.length < 5) {
    // Too little history to know the forecaster's error: assume a wide one rather than a promise we cannot keep.
    return {
      origins: levelErrors.length,
      dropMargin: 0.25,
      riseMargin: 0.25,
      sigma2: 0.01,
      d0: 2,
      levelSd: 0.25,
      dropExceedances: 0,
      riseExceedances: 0,
    };
  }
  const varF = n * sff - sf1 * sf1;
  let sigma2 = varF > 1e-9 ? (n * syf - sf1 * sy) / varF : 0;
  sigma2 = Math.max(0, sigma2);
  const d0 = Math.max(1, (sy - sigma2 * sf1) / Math.max(n, 1));
  // The margin must hold on all but `tail` of normal days, further out than a few hundred origins can
  // show: the larger of the empirical 2% quantile and a normal tail from the robust spread of that side
  // (the median distance below / above the median, x 1.4826). One-sided spreads: a bursty series errs
  // far upwards, and its bursts say nothing about how far it falls short on a normal day.
  const center = median(levelErrors);
  const z = -probit(tail);
  const below = levelErrors.filter((e) => e < center).map((e) => center - e);
  const above = levelErrors.filter((e) => e > center).map((e) => e - center);
  const mad = 1.4826 * medianAbsoluteDeviation(levelErrors);
  const lowSpread = Math.max(mad, below.length >= 3 ? 1.4826 * median(below) : mad);
  const highSpread = Math.max(mad, above.length >= 3 ? 1.4826 * median(above) : mad);
  const dropMargin = Math.max(0, -quantile(levelErrors, 0.02), lowSpread * z - center);
  const riseMargin = Math.max(0, quantile(levelErrors, 0.98), highSpread * z + center);
  return {
    origins: levelErrors.length,
    dropMargin,
    riseMargin,
    sigma2,
    d0,
    levelSd: mad,
    dropExceedances: levelErrors.filter((e) => -e > dropMargin).length,
    riseExceedances: levelErrors.filter((e) => e > riseMargin).length,
    errors: levelErrors,
    // var(sum x / sum f | level) = sum (d0 f + sigma2 f^2) / (sum f)^2 under the per-tick model above
    noiseVar: sums.map((u) => (d0 * u.f + sigma2 * u.ff) / (u.f * u.f)),
    ticks: { x: tx, m: tm },
  };
}
