// A `watch: always` signal: judged every tick against its own history, with no deploy to anchor it. Two
// tests run side by side:
// - the collapse test (judge/collapse.ts): the last 1-3 ticks' total against the empirical lower tail of
//   comparable windows in history. It needs no dispersion model and almost no history (the hours before
//   are comparable windows too), so it runs during warm-up and while another episode is open: a flat
//   counter where events were due is paged within 3 ticks whatever else is going on;
// - the forecast detector (judge/level-detector.ts): an e-detector against a seasonal forecast, for
//   sustained partial drops: per-tick noise averages out over the window, the forecaster's level error
//   (measured by replaying it on history) is counted once, as a law the null integrates over. It is
//   armed only once the history holds a week and enough replayed forecast origins to measure that law:
//   before that it would be guessing, so it says so (`status`).
// The forecast is built from a cleaned copy of the history: ticks that were anomalous (inside an episode,
// evidence building up, spikes and surges on either side) are left out, so yesterday's surge or outage
// does not set today's forecast. The level follows the series through normal ticks only, so it does not
// follow a regression down. One incident per episode; a new one only after recovery, except a collapse;
// a weaker drop within a day of an episode's end is its aftershock (a holiday's evening), not a new page.
import {
  levelPrior,
  newLevelDetector,
  resetLevelDetector,
  setLevelLaws,
  updateLevelDetector,
  type LevelDetector,
  type LevelPrior,
} from '../judge/level-detector.js';
import { fitShape } from '../judge/nb-shape.js';
import { forecastSettings, measureForecastError, smoothedAt, type ForecastSettings } from '../judge/forecast.js';
import { median } from 'simple-statistics';
import type { Direction } from '../judge/effect-grid.js';
import type { Holiday } from '../config/holidays.js';
import type { Evidence } from '../model/verdict.js';
import { collapseTest, type Collapse } from './always-collapse.js';
import { alarmWindow, collapseEvidence, forecastEvidence, levelBand, type AlarmWindow } from './always-evidence.js';

export interface AlwaysWatch {
  service: string;
  signal: string;
  direction: Direction;
  step: number;
  /** per-tick totals; history[i] counts the tick ending at start + i * step */
  start: number;
  history: number[];
  /** history with anomalous ticks replaced by their forecast, NaN without one (final after `pending` ticks) */
  masked: number[];
  /** the forecast made for each tick (armed or not): what replaces an anomalous tick */
  fcast: number[];
  /** `masked`, committed once final: append-only, what forecasts are built from */
  clean: number[];
  /** the history with anomalous ticks NaN, committed with `clean`: what the forecast's error is measured on */
  truth: number[];
  /** ln of the forecast detector's alarm threshold: twice the mean ticks between false pages (half the budget) */
  threshold: number;
  minEffect: number;
  /** the level-marginal e-detector (judge/level-detector.ts) and its level-error law, measured on history */
  detector: LevelDetector;
  prior: LevelPrior | null;
  /** forecast error model, re-measured once a day of ticks */
  margin: number;
  /** the other side's margin: beyond it a tick is a spike or surge, kept out of the forecast */
  otherMargin: number;
  sigma2: number;
  d0: number;
  /** the per-tick burst law's shape (negative binomial on the d0 scale), measured on the replay */
  shape: number;
  levelSd: number;
  origins: number;
  exceedances: number;
  measuredAt: number;
  /** the span of history (epoch seconds) the error law was last measured on */
  measuredOn: { from: number; to: number } | null;
  /** the lags (days back) the latest forecast was built from */
  lastLags: number[];
  /** consecutive ticks flagged as spikes on the side that is not judged (a long run is a level shift) */
  spikeRun: number;
  /** trailing level window: accepted ticks' observed totals and per-lag copies, with running sums per lag */
  level: { x: number[]; copies: number[][]; sx: number[]; sc: number[]; head: number };
  /** the open incident; `tail` holds its latest ticks, to tell when the signal is back */
  episode: {
    kind: 'collapse' | 'forecast';
    onset: number;
    detectedAt: number;
    observed: number;
    expected: number;
    /** per-tick due when no forecast is available (warm-up) */
    duePerTick: number;
    tail: { x: number; f: number }[];
    /** observed / expected when it was paged (its depth) */
    worst: number;
    /** reopened without a page: an aftershock of the episode before (see `lastEpisode`) */
    continued?: boolean;
  } | null;
  /** the last episode closed: when, and how deep it went */
  lastEpisode: { endedAt: number; worst: number } | null;
  recent: { x: number; f: number }[];
  /** pages so far and ticks judged: the replay's count, for the calibration statement */
  pages: number;
  judgedTicks: number;
  /** the first tick the forecast detector was armed (null: still warming up) */
  armedAt: number | null;
  /** the tick of the first event ever seen */
  firstEvent: number | null;
  /** declared holidays (evaluation.holidays): not normal days, sorted */
  holidays: Holiday[];
}

export interface AlwaysIncident {
  service: string;
  signal: string;
  onset: number;
  detectedAt: number;
  evidence: Evidence;
}

/** What a watch can judge now: warming up (collapse test only), or armed (both tests). */
export interface AlwaysStatus {
  service: string;
  signal: string;
  state: 'warming-up' | 'armed';
  /** why it is warming up, in words */
  reason: string;
  historySeconds: number;
  needSeconds: number;
  origins: number;
  margin: number;
  episode: 'collapse' | 'forecast' | null;
}

const DAY = 86400;
/** An episode longer than this is the new normal: accept the new level and start over. */
const MAX_EPISODE_S = DAY;
/** How long a signal must look normal again before an episode closes (and a new one may page). */
const RECOVERY_TICKS = (w: { step: number }) => Math.max(4, Math.round(7200 / w.step));
/** History the forecast detector needs: a week (so the same weekday exists) and this many replayed origins. */
export const ARM_SECONDS = 7 * DAY;
const ARM_ORIGINS = 72;
export function newAlwaysWatch(o: {
  service: string;
  signal: string;
  direction: Direction;
  step: number;
  start: number;
  meanTicksBetweenFalsePages: number;
  minEffect: number;
  holidays?: Holiday[];
}): AlwaysWatch {
  return {
    service: o.service,
    signal: o.signal,
    direction: o.direction,
    step: o.step,
    start: o.start,
    history: [],
    masked: [],
    fcast: [],
    clean: [],
    truth: [],
    // Half the false-page budget to each test (a union bound): the forecast detector alarms at 2T, the
    // collapse test spends 1 / (2T) a tick over its three window lengths, so together at most 1 / T.
    threshold: Math.log(Math.max(2, 2 * o.meanTicksBetweenFalsePages)),
    minEffect: o.minEffect,
    detector: newLevelDetector(o.direction, horizonTicks(o.step)),
    prior: null,
    margin: 0.25,
    otherMargin: 0.25,
    sigma2: 0.01,
    d0: 2,
    shape: 2,
    levelSd: 0.1,
    origins: 0,
    exceedances: 0,
    measuredAt: -Infinity,
    measuredOn: null,
    lastLags: [],
    spikeRun: 0,
    level: { x: [], copies: [], sx: [], sc: [], head: 0 },
    episode: null,
    lastEpisode: null,
    recent: [],
    pages: 0,
    judgedTicks: 0,
    armedAt: null,
    firstEvent: null,
    holidays: [...(o.holidays ?? [])].sort((a, b) => a.from - b.from),
  };
}

/**
 * Replays the history before the watch goes live (ticks ending at start + i * step): the same detector,
 * so the cleaned history, the level and the episode state are what a watch running all along would have,
 * and the pages it would have sent are counted for the calibration statement.
 */
export function replayHistory(w: AlwaysWatch, history: ArrayLike<number>): AlwaysIncident[] {
  const out: AlwaysIncident[] = [];
  for (let i = 0; i < history.length; i++) {
    const inc = stepAlways(w, w.start + i * w.step, history[i] as number);
    if (inc) out.push(inc);
  }
  return out;
}

// The level is the ratio of the last day to each lagged copy of it: a full daily cycle, so a night
// that runs unlike other nights (a long weekend) does not set the level for the whole next day.
const settingsCache = new Map<number, ForecastSettings>();
function settingsOf(w: AlwaysWatch): ForecastSettings {
  const hit = settingsCache.get(w.step);
  if (hit) return hit;
  const made = makeSettings(w);
  settingsCache.set(w.step, made);
  return made;
}

function makeSettings(w: AlwaysWatch): ForecastSettings {
  const s = forecastSettings(w.step);
  return {
    ...s,
    levelTicks: Math.max(8, Math.round(DAY / w.step)),
    weeklyFirst: true,
    smoothHalf: Math.max(s.smoothHalf, Math.floor(1200 / w.step)),
  };
}

/** The horizon the forecaster's level error is measured over, and the longest window the detector checks. */
const horizonTicks = (step: number) => Math.max(8, Math.round(7200 / step));

/** Ticks after which a tick's anomaly flag is final (an onset found later is at most this far back). */
const pendingTicks = (w: AlwaysWatch) =>
  Math.max(2, Math.min(Math.round(DAY / w.step / 2), Math.round(14400 / w.step)));

export function alwaysStatus(w: AlwaysWatch): AlwaysStatus {
  // Ticks with data, not the span asked for: a source may hold less than was read.
  const historySeconds = w.judgedTicks * w.step;
  const armed = isArmed(w);
  let reason = 'armed: the forecast detector and the collapse test both run';
  if (!armed)
    reason =
      historySeconds < ARM_SECONDS
        ? `warming up: ${(historySeconds / DAY).toFixed(1)} of the 7 days of history the forecast needs; only a collapse to near zero can page`
        : `warming up: ${w.origins} of the ${ARM_ORIGINS} replayed forecast origins needed to measure its error; only a collapse to near zero can page`;
  return {
    service: w.service,
    signal: w.signal,
    state: armed ? 'armed' : 'warming-up',
    reason,
    historySeconds,
    needSeconds: ARM_SECONDS,
    origins: w.origins,
    margin: w.margin,
    episode: w.episode?.kind ?? null,
  };
}

function isArmed(w: AlwaysWatch): boolean {
  return w.judgedTicks * w.step >= ARM_SECONDS && w.origins >= ARM_ORIGINS;
}

/** Re-measures the forecaster's error on the cleaned history so far (daily: cheap, tracks the season). */
function remeasure(w: AlwaysWatch, s: ForecastSettings, i: number): void {
  const horizon = horizonTicks(w.step);
  const end = w.clean.length;
  const stride = Math.max(1, Math.round(3600 / w.step));
  const err = measureForecastError(w.clean, end, horizon, s, stride, 24 * 28, 1, 0.0005, w.truth, ARM_ORIGINS);
  const drop = w.direction === 'drop';
  w.margin = Math.min(0.6, Math.max(w.minEffect, drop ? err.dropMargin : err.riseMargin));
  w.otherMargin = Math.min(3, Math.max(0.25, drop ? err.riseMargin : err.dropMargin));
  w.sigma2 = err.sigma2;
  w.d0 = err.d0;
  w.levelSd = err.levelSd;
  w.origins = err.origins;
  w.exceedances = drop ? err.dropExceedances : err.riseExceedances;
  w.prior = levelPrior(err.errors ?? [], err.noiseVar ?? [], w.direction);
  w.shape = fitShape(err.ticks?.x ?? [], err.ticks?.m ?? [], err.d0, horizon).shape;
  const r0 = drop ? 1 - w.minEffect : 1 + w.minEffect;
  setLevelLaws(w.detector, w.prior, { d0: err.d0, shape: w.shape }, r0);
  // The replayed origins go back `stride` ticks each from the horizon before now, each with its level
  // window and lagged copies before it: the span of history the law rests on.
  const firstOrigin = Math.max(0, end - horizon - stride * Math.max(0, err.origins - 1));
  const back = Math.max(...s.lagTicks) + s.levelTicks;
  w.measuredOn = { from: w.start + Math.max(0, firstOrigin - back) * w.step, to: w.start + end * w.step };
  w.measuredAt = i;
}

/** An anomalous tick's stand-in in the cleaned history: what was forecast for it (NaN: left out). */
function replacement(w: AlwaysWatch, j: number): number {
  const f = w.fcast[j];
  return f !== undefined && f > 0 ? f : NaN;
}

function setAt(a: number[], i: number, v: number): void {
  while (a.length < i) a.push(NaN);
  a[i] = v;
}

function flag(w: AlwaysWatch, from: number, to: number): void {
  for (let j = Math.max(from, w.clean.length); j <= to && j < w.masked.length; j++) w.masked[j] = replacement(w, j);
}

/** The forecast for tick i: each lag's copy (from the cleaned history) scaled by its level, then the median. */
function forecastOf(
  w: AlwaysWatch,
  s: ForecastSettings,
  copies: number[],
): { f: number; scale: number; lags: number[] } {
  const scaled: number[] = [];
  const scales: number[] = [];
  const lagOf: number[] = [];
  copies.forEach((c, k) => {
    const sx = w.level.sx[k] ?? 0;
    const sc = w.level.sc[k] ?? 0;
    // A lag whose copy of the level window held next to nothing says nothing about the level.
    if (!Number.isFinite(c) || !(sc > 20) || w.level.x.length - w.level.head < s.levelTicks / 2) return;
    const scale = Math.min(3, Math.max(1 / 3, sx / sc));
    scaled.push(c * scale);
    scales.push(scale);
    lagOf.push(Math.round(((s.lagTicks[k] as number) * w.step) / DAY));
  });
  if (!scaled.length) return { f: NaN, scale: NaN, lags: [] };
  // Yesterday is a poor copy across weekday boundaries (Monday from Sunday): with two or more weeks to
  // compare with, the same weekday's copies decide; yesterday only fills in while weeks are missing.
  const weekly = scaled.filter((_, k) => (lagOf[k] as number) % 7 === 0);
  const use = weekly.length >= 2 ? weekly : scaled;
  const lags = weekly.length >= 2 ? lagOf.filter((d) => d % 7 === 0) : lagOf;
  return { f: median(use), scale: median(scales), lags };
}

/**
 * Feeds the tick ending at t with its observed total x (NaN: unknown). Returns an incident when this tick
 * starts a new regression episode. `spans` > 1: x is one aggregated observation over the `spans` ticks
 * ending at t (a counter's jump across a gap), judged against the forecast summed over them.
 */
export function stepAlways(w: AlwaysWatch, t: number, x0: number, spans = 1): AlwaysIncident | null {
  const i = Math.round((t - w.start) / w.step);
  const n = Math.max(1, Math.min(Math.round(spans), i + 1));
  // Zeros before the series ever counted anything are no history (a source reports a series that does
  // not exist yet as zero events): the watch starts with the first event.
  if (w.firstEvent === null && x0 > 0) w.firstEvent = i;
  const x = w.firstEvent === null ? NaN : x0;
  if (i < w.history.length) return null; // a tick already judged
  // The span covers the ticks before i that are still unknown (reported as gaps, or not at all) and not
  // yet committed to the cleaned history.
  let first = i;
  while (first > i - n + 1 && first - 1 >= w.clean.length && !Number.isFinite(w.history[first - 1] ?? NaN)) first--;
  const ticks = i - first + 1;
  // An aggregated observation is spread evenly over its ticks in the history later forecasts read.
  for (let j = first; j <= i; j++) {
    setAt(w.history, j, x / ticks);
    setAt(w.masked, j, x / ticks);
  }
  // Commit the flags that are final into the cleaned history the forecast reads.
  for (let j = w.clean.length; j <= i - pendingTicks(w); j++) {
    const m = w.masked[j] as number;
    w.clean.push(m);
    w.truth.push(m === w.history[j] ? m : NaN);
  }
  const s = settingsOf(w);
  const copiesAt = (j: number) =>
    s.lagTicks.map((lag) => (j - lag - s.smoothHalf >= 0 ? smoothedAt(w.clean, j - lag, s.smoothHalf) : NaN));
  const copies = copiesAt(i);
  if (copies.some(Number.isFinite) && i - w.measuredAt >= Math.round(DAY / w.step)) remeasure(w, s, i);
  const spanCopies: number[][] = [];
  let fc = 0;
  let scale = NaN;
  for (let j = first; j <= i; j++) {
    const cj = j === i ? copies : copiesAt(j);
    const fj = forecastOf(w, s, cj);
    setAt(w.fcast, j, fj.f);
    spanCopies.push(cj);
    fc += fj.f;
    if (j === i) {
      scale = fj.scale;
      w.lastLags = fj.lags;
    }
  }
  if (!Number.isFinite(x)) return null;
  w.judgedTicks += ticks;
  const armed = isArmed(w);
  if (armed && w.armedAt === null) w.armedAt = t;
  const f = armed ? fc : NaN;

  const collapse = w.direction === 'drop' ? collapseTest(w, i, x, Number.isFinite(scale) ? scale : 1, ticks) : null;
  let incident: AlwaysIncident | null = null;
  let stat = 0;
  let flagged = false;
  // The level learns from every tick but surges, suspect ticks and episodes: a slow slide of the level
  // is followed (it is not a regression: the detector's statistic stays low), a regression is not.
  let teach = true;
  if (f > 0) {
    // Variance of a sum over `ticks` ticks: sum of d0 f_j + sigma2 f_j^2, about (d0 + sigma2 f / ticks) f.
    if (w.prior) stat = Math.max(0, updateLevelDetector(w.detector, x, f, ticks));
    w.recent.push({ x, f });
    const recentTicks = horizonTicks(w.step);
    if (w.recent.length > recentTicks) w.recent.shift();
    // Outliers on either side stay out of the forecast: a tick beyond the margins by 3 standard deviations.
    const sd = Math.sqrt((w.d0 + (w.sigma2 * f) / ticks) * f);
    const high = x > f * (1 + (w.direction === 'drop' ? w.otherMargin : w.margin)) + 3 * sd;
    const low = x < f * (1 - (w.direction === 'drop' ? w.margin : w.otherMargin)) - 3 * sd;
    const other = w.direction === 'drop' ? high : low;
    w.spikeRun = other ? w.spikeRun + 1 : 0;
    // A day of surges is a new level, not a surge: let it in.
    if (other && w.spikeRun <= DAY / w.step) {
      flagged = true;
      teach = false;
    }
    void low;
    void high;
    if (stat >= w.threshold / 2) teach = false;
  }
  if (collapse?.candidate) {
    flagged = true;
    teach = false;
  }
  // A declared holiday is not a normal day: a drop or rise against the forecast there opens its episode
  // without a page (kept out of the history from its onset, as any episode).
  const holiday = isHoliday(w, t);

  if (w.episode) {
    const ep = w.episode;
    const due = f > 0 ? f : ep.duePerTick;
    ep.observed += x;
    ep.expected += due;
    ep.tail.push({ x, f: due });
    if (ep.tail.length > Math.round(DAY / w.step)) ep.tail.shift();
    const back = isBack(w, ep.tail);
    const timedOut = t - ep.detectedAt > MAX_EPISODE_S;
    if (back || timedOut) {
      w.lastEpisode = { endedAt: t, worst: ep.worst };
      w.episode = null;
      resetLevelDetector(w.detector);
      stat = 0; // the statistic of this tick was the episode's, now reset
      // After a day in an episode the signal's new level is the normal one: learn it afresh.
      if (timedOut) relearnLevel(w, s, i);
    } else flagged = true; // an open episode stays out of the history later forecasts read
  }
  // A collapse pages at once, even while a partial-drop episode is open: it must never be hidden.
  if (collapse?.page && w.episode?.kind !== 'collapse') {
    incident = collapseIncident(w, t, collapse);
  } else if (!w.episode && stat >= w.threshold) {
    const win = alarmWindow(w, t);
    const last = w.lastEpisode;
    // An aftershock: within a day of an episode that ended, not clearly deeper than it went (a holiday's
    // evening after its morning, the next day of a holiday period, the dip while a recovered outage
    // catches up). It is the same anomalous period: kept open and out of the history, not paged again.
    // Clearly deeper: the window's ratio is beyond the last episode's worst by more than its own 95%
    // normal range (level error and noise), so a holiday's second morning, a little lower than its
    // first, is not a new incident, and a regression on top of it is.
    const range = Math.exp(1.96 * levelBand(w, win.expected, win.expected2).sd);
    const aftershock =
      last !== null &&
      t - last.endedAt <= MAX_EPISODE_S &&
      (w.direction === 'drop' ? win.ratio * range >= last.worst : win.ratio / range <= last.worst);
    if (holiday || aftershock) {
      w.episode = {
        kind: 'forecast',
        onset: win.onset,
        detectedAt: t,
        observed: win.observed,
        expected: win.expected,
        duePerTick: win.meanF,
        tail: [],
        worst: aftershock && last ? last.worst : win.ratio,
        continued: true,
      };
      flag(w, Math.round((win.onset - w.start) / w.step), i);
      flagged = true;
      resetLevelDetector(w.detector);
    } else incident = forecastIncident(w, t, stat, win);
  }
  if (incident) {
    w.pages++;
    flagged = true;
    // An episode stays out of the history from its onset: a collapse's zeros would blind the next collapse
    // test there, a holiday's low day would set next week's forecast low, and neither is a normal day the
    // forecaster's measured error should cover.
    flag(w, Math.round((incident.onset - w.start) / w.step), i);
    resetLevelDetector(w.detector);
  }
  if (flagged) for (let j = first; j <= i; j++) w.masked[j] = replacement(w, j);
  if (teach && !incident && !w.episode) for (const c of spanCopies) learnLevel(w, s, x / ticks, c);
  return incident;
}

/**
 * Back to normal: the episode's latest ticks (at least two hours, and at least an eighth of a day's
 * events, so a quiet night alone does not end a holiday) run within the normal band of their forecast,
 * above the 10% quantile (below the 90% for rises) of a normal window's observed / forecast: the
 * level-error law's spread and the window's own noise. Without a measured law (warm-up), within half the
 * margin.
 */
function isBack(w: AlwaysWatch, tail: readonly { x: number; f: number }[]): boolean {
  const minTicks = RECOVERY_TICKS(w);
  if (tail.length < minTicks) return false;
  let dayF = 0;
  for (const r of tail) dayF += r.f;
  dayF *= Math.round(DAY / w.step) / tail.length;
  let rx = 0;
  let rf = 0;
  let rff = 0;
  let n = 0;
  for (let k = tail.length - 1; k >= 0; k--) {
    const r = tail[k] as { x: number; f: number };
    rx += r.x;
    rf += r.f;
    rff += r.f * r.f;
    n++;
    if (n >= minTicks && rf >= dayF / 8) break;
  }
  if (!(n >= minTicks && rf >= dayF / 8 && rf > 0)) return false;
  const drop = w.direction === 'drop';
  if (!w.prior) return drop ? rx >= rf * (1 - w.margin / 2) : rx <= rf * (1 + w.margin / 2);
  const noise = (w.d0 * rf + w.sigma2 * rff) / (rf * rf);
  const band = 1.2816 * Math.sqrt(w.prior.spread * w.prior.spread + noise);
  const ratio = Math.log(Math.max(rx, 1e-9) / rf) - w.prior.center;
  return drop ? ratio >= -band + Math.log(1 - w.minEffect) : ratio <= band + Math.log(1 + w.minEffect);
}

/** Whether tick t (ending at t) falls in a declared holiday. */
function isHoliday(w: AlwaysWatch, t: number): boolean {
  const mid = t - w.step / 2;
  for (const h of w.holidays) {
    if (h.from > mid) return false;
    if (mid < h.to) return true;
  }
  return false;
}

function collapseIncident(w: AlwaysWatch, t: number, c: Collapse): AlwaysIncident {
  const onset = t - (c.k - 1) * w.step;
  const evidence = collapseEvidence(w, c);
  w.episode = {
    kind: 'collapse',
    onset,
    detectedAt: t,
    observed: c.observed,
    expected: c.due,
    duePerTick: c.due / c.k,
    tail: [],
    worst: c.due > 0 ? c.observed / c.due : 0,
  };
  return { service: w.service, signal: w.signal, onset, detectedAt: t, evidence };
}

function forecastIncident(w: AlwaysWatch, t: number, stat: number, win: AlarmWindow): AlwaysIncident {
  const evidence = forecastEvidence(w, stat, win);
  const { onset, observed, expected, meanF } = win;
  w.episode = {
    kind: 'forecast',
    onset,
    detectedAt: t,
    observed,
    expected,
    duePerTick: meanF,
    tail: [],
    worst: win.ratio,
  };
  return { service: w.service, signal: w.signal, onset, detectedAt: t, evidence };
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
  // A window of the last levelTicks accepted ticks: dropped from the front by a head index (shifting a
  // day of 15 s ticks every tick would cost more than the rest of the tick), compacted now and then.
  if (L.x.length - L.head > s.levelTicks) {
    const ox = L.x[L.head] as number;
    const oc = L.copies[L.head] as number[];
    L.head++;
    oc.forEach((c, k) => {
      if (!Number.isFinite(c)) return;
      L.sx[k] = (L.sx[k] ?? 0) - ox;
      L.sc[k] = (L.sc[k] ?? 0) - c;
    });
    if (L.head > s.levelTicks) {
      L.x = L.x.slice(L.head);
      L.copies = L.copies.slice(L.head);
      L.head = 0;
    }
  }
}

function relearnLevel(w: AlwaysWatch, s: ForecastSettings, i: number): void {
  w.level = { x: [], copies: [], sx: [], sc: [], head: 0 };
  for (let j = Math.max(0, i - s.levelTicks + 1); j <= i; j++) {
    const x = w.history[j] as number;
    if (!Number.isFinite(x)) continue;
    const copies = s.lagTicks.map((lag) =>
      j - lag - s.smoothHalf >= 0 ? smoothedAt(w.clean, j - lag, s.smoothHalf) : NaN,
    );
    learnLevel(w, s, x, copies);
  }
}
