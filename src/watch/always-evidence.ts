// What an always-watched signal's page carries: the effect with a named interval, the test's statistic
// and threshold, the forecast with its normal band, and the history the forecast and its error law came from.
import { COUNT_INTERVAL_KIND, countInterval } from '../judge/forecast-test.js';
import type { Evidence } from '../model/verdict.js';
import { COLLAPSE_K, COLLAPSE_SHARE, type Collapse } from './always-collapse.js';
import type { AlwaysWatch } from './always-watch.js';
import { describeEvidence } from './sentence.js';

const DAY = 86400;

export const LEVEL_INTERVAL_KIND =
  "95% interval of the signal's rate against its normal level over the paged window: observed / forecast divided by the normal range of that ratio (the forecaster's level-error law measured by replaying it on history, per-tick noise taken out, plus this window's own per-tick noise; normal on the log scale). The window is the one the detector paged on, so the interval leans towards the larger effect";

export const COLLAPSE_INTERVAL_KIND =
  '95% interval of observed / the median comparable window in history: exact Poisson (Garwood) on the count, widened by 1.96 robust sd of the forecast level error measured on history';

export interface AlarmWindow {
  onset: number;
  ticks: number;
  observed: number;
  expected: number;
  ratio: number;
  meanF: number;
  /** sum of the squared per-tick forecasts (for the window's noise variance) */
  expected2: number;
}

/** The window whose evidence crossed: its onset, and what it held against its forecast. */
export function alarmWindow(w: AlwaysWatch, t: number): AlarmWindow {
  const age = Math.max(1, w.detector.age);
  const sum = w.recent.slice(-age);
  const observed = sum.reduce((a, r) => a + r.x, 0);
  const expected = sum.reduce((a, r) => a + r.f, 0);
  const expected2 = sum.reduce((a, r) => a + r.f * r.f, 0);
  return {
    expected2,
    onset: t - (age - 1) * w.step,
    ticks: sum.length,
    observed,
    expected,
    ratio: expected > 0 ? observed / expected : 1,
    meanF: sum.length ? expected / sum.length : 0,
  };
}

/**
 * The normal range of observed / forecast over a window, and the interval for the effect it gives:
 * ln(observed / forecast) = ln(effect) + ln L + noise, ln L ~ (center, spread^2) from the level-error
 * law, noise variance sum(d0 f + sigma2 f^2) / (sum f)^2.
 */
export function levelBand(
  w: AlwaysWatch,
  expected: number,
  expected2: number,
): { low: number; high: number; sd: number; center: number } {
  const center = w.prior?.center ?? 0;
  const spread = w.prior?.spread ?? w.levelSd;
  const noise = expected > 0 ? (w.d0 * expected + w.sigma2 * expected2) / (expected * expected) : 0;
  const sd = Math.sqrt(spread * spread + noise);
  return { low: Math.exp(center - 1.96 * sd), high: Math.exp(center + 1.96 * sd), sd, center };
}

export function forecastEvidence(w: AlwaysWatch, stat: number, win: AlarmWindow): Evidence {
  const { observed, expected } = win;
  const r = win.ratio;
  const dispersion = w.d0 + w.sigma2 * win.meanF;
  const band = levelBand(w, expected, win.expected2);
  const lr = Math.log(Math.max(observed, 0.5) / Math.max(expected, 1e-9)) - band.center;
  const evidence: Evidence = {
    test: 'always-against-forecast',
    direction: w.direction,
    statistic: stat,
    threshold: w.threshold,
    effect: { estimate: r - 1, low: Math.exp(lr - 1.96 * band.sd) - 1, high: Math.exp(lr + 1.96 * band.sd) - 1 },
    interval: LEVEL_INTERVAL_KIND,
    favouredEffect: r - 1,
    tolerance: w.minEffect,
    dispersion,
    ticks: win.ticks,
    counts: { observed, expected: Math.round(expected) },
    forecast: {
      expected: Math.round(expected),
      observed,
      margin: w.margin,
      sigma2: w.sigma2,
      lags: w.lastLags.length ? w.lastLags.map((d) => `${d}d`) : ['none'],
      origins: w.origins,
      exceedances: w.exceedances,
      band: { low: Math.round(expected * band.low), high: Math.round(expected * band.high) },
      levelSpread: w.prior?.spread ?? w.levelSd,
      measuredOn: w.measuredOn
        ? { from: new Date(w.measuredOn.from * 1000).toISOString(), to: new Date(w.measuredOn.to * 1000).toISOString() }
        : null,
    },
    sentence: '',
  };
  evidence.sentence = describeEvidence(w.signal, 'events', evidence, true);
  return evidence;
}

export function collapseEvidence(w: AlwaysWatch, c: Collapse): Evidence {
  const r = c.due > 0 ? c.observed / c.due : 0;
  const ci = countInterval(c.observed, c.due, 1, w.levelSd);
  const evidence: Evidence = {
    test: 'always-collapse',
    direction: 'drop',
    statistic: Math.log(1 / Math.max(c.p, 1e-300)),
    threshold: w.threshold + Math.log(COLLAPSE_K.length),
    effect: { estimate: r - 1, low: ci.low - 1, high: ci.high - 1 },
    interval: ci.kind === COUNT_INTERVAL_KIND ? COLLAPSE_INTERVAL_KIND : ci.kind,
    favouredEffect: r - 1,
    tolerance: 1 - COLLAPSE_SHARE,
    dispersion: 1,
    ticks: c.k,
    counts: {
      observed: c.observed,
      expected: Math.round(c.due),
      lowestInHistory: Math.round(c.lowest),
      windows: c.windows,
      daysBack: Math.min(28, Math.floor((w.judgedTicks * w.step) / DAY)),
    },
    sentence: '',
  };
  evidence.sentence = describeEvidence(w.signal, 'events', evidence, true);
  return evidence;
}
