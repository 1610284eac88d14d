// A `watch: always` signal: judged every tick against its own seasonal forecast, with no deploy to anchor
// it. The forecast's level follows the signal through a trailing window, but only through ticks that look
// normal: while evidence of a regression builds up (and during an incident) the level is frozen, so the
// forecast does not follow a regression down. One incident per episode; a new one only after recovery.
import { detectorStatistic, newDetector, resetDetector, updateDetector, type DetectorState } from '../judge/change-detector.js';
import { forecastSettings, measureForecastError, smoothedAt, type ForecastSettings } from '../judge/forecast.js';
import { median } from 'simple-statistics';
import type { Direction } from '../judge/effect-grid.js';
import type { Evidence } from '../model/verdict.js';
import { describeEvidence } from './sentence.js';

export interface AlwaysWatch {
  service: string;
  signal: string;
  direction: Direction;
  step: number;
  /** per-tick totals; history[i] counts the tick ending at start + i * step */
  start: number;
  history: number[];
  /** ln of the alarm threshold: mean ticks between false pages */
  threshold: number;
  minEffect: number;
  detector: DetectorState;
  /** forecast error model, re-measured once a day of ticks */
  margin: number;
  sigma2: number;
  d0: number;
  measuredAt: number;
  /** trailing level window: accepted ticks' observed totals and per-lag copies */
  level: { x: number[]; copies: number[][] };
  /** the last tick whose statistic was at or below 0 (ln 1): the onset estimate of a run of evidence */
  calmAt: number;
  episode: { onset: number; detectedAt: number; lastBelow: number; observed: number; expected: number } | null;
  recent: { x: number; f: number }[];
}

export interface AlwaysIncident {
  service: string;
  signal: string;
  onset: number;
  detectedAt: number;
  evidence: Evidence;
}

/** An episode longer than this is the new normal: accept the new level and start over. */
const MAX_EPISODE_S = 86400;

export function newAlwaysWatch(o: {
  service: string;
  signal: string;
  direction: Direction;
  step: number;
  start: number;
  history: ArrayLike<number>;
  meanTicksBetweenFalsePages: number;
  minEffect: number;
}): AlwaysWatch {
  return {
    service: o.service,
    signal: o.signal,
    direction: o.direction,
    step: o.step,
    start: o.start,
    history: Array.from(o.history),
    threshold: Math.log(Math.max(2, o.meanTicksBetweenFalsePages)),
    minEffect: o.minEffect,
    detector: newDetector(o.direction, 0.25),
    margin: 0.25,
    sigma2: 0.01,
    d0: 2,
    measuredAt: -Infinity,
    level: { x: [], copies: [] },
    calmAt: o.start,
    episode: null,
    recent: [],
  };
}

function settingsOf(w: AlwaysWatch): ForecastSettings {
  const s = forecastSettings(w.step);
  return { ...s, levelTicks: Math.max(8, Math.round(14400 / w.step)) };
}

/** Re-measures the forecaster's error on the history so far (daily: cheap enough, tracks the season). */
function remeasure(w: AlwaysWatch, s: ForecastSettings, i: number): void {
  const horizon = Math.max(8, Math.round(7200 / w.step));
  const err = measureForecastError(w.history, i, horizon, s, Math.max(1, Math.round(3600 / w.step)), 24 * 28, 1);
  const margin = Math.min(0.6, Math.max(w.minEffect, w.direction === 'drop' ? err.dropMargin : err.riseMargin));
  w.margin = margin;
  w.sigma2 = err.sigma2;
  w.d0 = err.d0;
  w.measuredAt = i;
  if (w.episode === null) resetDetector(w.detector, margin);
}

/**
 * Feeds the tick ending at t with its observed total x (NaN: unknown). Returns an incident when this tick
 * starts a new regression episode.
 */
export function stepAlways(w: AlwaysWatch, t: number, x: number): AlwaysIncident | null {
  const i = Math.round((t - w.start) / w.step);
  while (w.history.length < i) w.history.push(NaN);
  w.history[i] = x;
  const s = settingsOf(w);
  const copies = s.lagTicks.map((lag) => (i - lag - s.smoothHalf >= 0 ? smoothedAt(w.history, i - lag, s.smoothHalf) : NaN));
  if (!copies.some(Number.isFinite)) return null; // warming up: no history a day back yet
  if (i - w.measuredAt >= Math.round(86400 / w.step)) remeasure(w, s, i);

  // The forecast: each lag's copy scaled by its level over the accepted window, then the median.
  const scaled: number[] = [];
  copies.forEach((c, k) => {
    let sx = 0;
    let sc = 0;
    w.level.copies.forEach((row, j) => {
      const cj = row[k] as number;
      if (Number.isFinite(cj)) {
        sx += w.level.x[j] as number;
        sc += cj;
      }
    });
    if (Number.isFinite(c) && sc > 0 && w.level.x.length >= s.levelTicks / 2) scaled.push(c * (sx / sc));
  });
  const f = scaled.length ? median(scaled) : NaN;
  if (!Number.isFinite(x) || !(f > 0)) return null;

  updateDetector(w.detector, x, f, w.d0 + w.sigma2 * f);
  const stat = detectorStatistic(w.detector);
  if (stat <= 0) w.calmAt = t;
  w.recent.push({ x, f });
  const recentTicks = Math.max(4, Math.round(3600 / w.step));
  if (w.recent.length > recentTicks) w.recent.shift();

  let incident: AlwaysIncident | null = null;
  if (w.episode) {
    w.episode.observed += x;
    w.episode.expected += f;
    const rx = w.recent.reduce((a, r) => a + r.x, 0);
    const rf = w.recent.reduce((a, r) => a + r.f, 0);
    const back = w.direction === 'drop' ? rx >= rf * (1 - w.margin / 2) : rx <= rf * (1 + w.margin / 2);
    if (back || t - w.episode.detectedAt > MAX_EPISODE_S) {
      w.episode = null;
      resetDetector(w.detector, w.margin);
      w.calmAt = t;
    }
  } else if (stat >= w.threshold) {
    const sum = w.recent.slice(-Math.max(1, Math.round((t - w.calmAt) / w.step)));
    const observed = sum.reduce((a, r) => a + r.x, 0);
    const expected = sum.reduce((a, r) => a + r.f, 0);
    const r = expected > 0 ? observed / expected : 1;
    const evidence: Evidence = {
      test: 'always-against-forecast',
      direction: w.direction,
      statistic: stat,
      threshold: w.threshold,
      effect: { estimate: r - 1, low: r * (1 - w.margin) - 1, high: r * (1 + w.margin) - 1 },
      favouredEffect: (w.detector.alternatives[0] as number) - 1,
      tolerance: w.margin,
      dispersion: w.d0 + w.sigma2 * f,
      ticks: sum.length,
      counts: { observed, expected: Math.round(expected) },
      forecast: { expected: Math.round(expected), observed, margin: w.margin, sigma2: w.sigma2, lags: [], origins: 0 },
      sentence: '',
    };
    evidence.sentence = describeEvidence(w.signal, 'events', evidence, true);
    const onset = Math.min(t, w.calmAt + w.step);
    incident = { service: w.service, signal: w.signal, onset, detectedAt: t, evidence };
    w.episode = { onset, detectedAt: t, lastBelow: t, observed, expected };
    resetDetector(w.detector);
  }
  // Only ticks that look normal teach the level.
  if (!w.episode && stat < w.threshold / 2) {
    w.level.x.push(x);
    w.level.copies.push(copies);
    if (w.level.x.length > s.levelTicks) {
      w.level.x.shift();
      w.level.copies.shift();
    }
  }
  return incident;
}
