// A `watch: always` signal: judged every tick against its own seasonal forecast, with no deploy to anchor
// it. The forecast's level follows the signal through a trailing window, but only through ticks that look
// normal: while evidence of a regression builds up (and during an incident) the level is frozen, so the
// forecast does not follow a regression down. One incident per episode; a new one only after recovery.
import {
  detectorStatistic,
  newDetector,
  onsetEstimate,
  resetDetector,
  updateDetector,
  type DetectorState,
} from '../judge/change-detector.js';
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
  /** trailing level window: accepted ticks' observed totals and per-lag copies, with running sums per lag */
  level: { x: number[]; copies: number[][]; sx: number[]; sc: number[] };
  /** the open incident; `tail` holds its latest ticks, to tell when the signal is back */
  episode: {
    onset: number;
    detectedAt: number;
    observed: number;
    expected: number;
    tail: { x: number; f: number }[];
  } | null;
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
/** How long a signal must look normal again before an episode closes (and a new one may page). */
const RECOVERY_TICKS = (w: { step: number }) => Math.max(4, Math.round(7200 / w.step));

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
  const w: AlwaysWatch = {
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
    level: { x: [], copies: [], sx: [], sc: [] },
    episode: null,
    recent: [],
  };
  // Started with history (the live service): the level window starts from the history's last day.
  if (w.history.length) relearnLevel(w, settingsOf(w), w.history.length - 1);
  return w;
}

// The level is the ratio of the last day to each lagged copy of it: a full daily cycle, so a night
// that runs unlike other nights (a long weekend) does not set the level for the whole next day.
function settingsOf(w: AlwaysWatch): ForecastSettings {
  const s = forecastSettings(w.step);
  return { ...s, levelTicks: Math.max(8, Math.round(86400 / w.step)) };
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
  const copies = s.lagTicks.map((lag) =>
    i - lag - s.smoothHalf >= 0 ? smoothedAt(w.history, i - lag, s.smoothHalf) : NaN,
  );
  if (!copies.some(Number.isFinite)) return null; // warming up: no history a day back yet
  if (i - w.measuredAt >= Math.round(86400 / w.step)) remeasure(w, s, i);

  // The forecast: each lag's copy scaled by its level over the accepted window, then the median.
  const scaled: number[] = [];
  copies.forEach((c, k) => {
    const sx = w.level.sx[k] ?? 0;
    const sc = w.level.sc[k] ?? 0;
    if (Number.isFinite(c) && sc > 0 && w.level.x.length >= s.levelTicks / 2) scaled.push(c * (sx / sc));
  });
  const f = scaled.length ? median(scaled) : NaN;
  if (!Number.isFinite(x)) return null;
  if (!(f > 0)) {
    learnLevel(w, s, x, copies); // bootstrapping the level window
    return null;
  }

  updateDetector(w.detector, x, f, w.d0 + w.sigma2 * f, t);
  const stat = detectorStatistic(w.detector);
  w.recent.push({ x, f });
  const recentTicks = Math.max(4, Math.round(3600 / w.step));
  if (w.recent.length > recentTicks) w.recent.shift();

  let incident: AlwaysIncident | null = null;
  if (w.episode) {
    const ep = w.episode;
    ep.observed += x;
    ep.expected += f;
    ep.tail.push({ x, f });
    if (ep.tail.length > RECOVERY_TICKS(w)) ep.tail.shift();
    // Back to normal: a full recovery window inside the episode within half the margin of the forecast.
    const rx = ep.tail.reduce((a, r) => a + r.x, 0);
    const rf = ep.tail.reduce((a, r) => a + r.f, 0);
    const full = ep.tail.length >= RECOVERY_TICKS(w);
    const back = full && (w.direction === 'drop' ? rx >= rf * (1 - w.margin / 2) : rx <= rf * (1 + w.margin / 2));
    const timedOut = t - w.episode.detectedAt > MAX_EPISODE_S;
    if (back || timedOut) {
      w.episode = null;
      resetDetector(w.detector, w.margin);
      // After a day in an episode the signal's new level is the normal one: learn it afresh.
      if (timedOut) relearnLevel(w, s, i);
    }
  } else if (stat >= w.threshold) {
    const since = onsetEstimate(w.detector);
    const onset = Number.isFinite(since) ? Math.min(t, since + w.step) : t;
    const sum = w.recent.slice(-Math.max(1, Math.round((t - onset) / w.step) + 1));
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
    incident = { service: w.service, signal: w.signal, onset, detectedAt: t, evidence };
    w.episode = { onset, detectedAt: t, observed, expected, tail: [] };
    resetDetector(w.detector);
  }
  // Only ticks that look normal teach the level.
  if (!w.episode && stat < w.threshold / 2) learnLevel(w, s, x, copies);
  return incident;
}

function learnLevel(w: AlwaysWatch, s: ForecastSettings, x: number, copies: number[]): void {
  const L = w.level;
  L.x.push(x);
  L.copies.push(copies);
  copies.forEach((c, k) => {
    if (!Number.isFinite(c)) return;
    L.sx[k] = (L.sx[k] ?? 0) + x;
    L.sc[k] = (L.sc[k] ?? 0) + c;
  });
  if (L.x.length > s.levelTicks) {
    const ox = L.x.shift() as number;
    const oc = L.copies.shift() as number[];
    oc.forEach((c, k) => {
      if (!Number.isFinite(c)) return;
      L.sx[k] = (L.sx[k] ?? 0) - ox;
      L.sc[k] = (L.sc[k] ?? 0) - c;
    });
  }
}

function relearnLevel(w: AlwaysWatch, s: ForecastSettings, i: number): void {
  w.level = { x: [], copies: [], sx: [], sc: [] };
  for (let j = Math.max(0, i - s.levelTicks + 1); j <= i; j++) {
    const x = w.history[j] as number;
    if (!Number.isFinite(x)) continue;
    const copies = s.lagTicks.map((lag) =>
      j - lag - s.smoothHalf >= 0 ? smoothedAt(w.history, j - lag, s.smoothHalf) : NaN,
    );
    learnLevel(w, s, x, copies);
  }
}
