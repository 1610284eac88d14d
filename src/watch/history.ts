// Forecasts frozen at a deploy's start, for judging without a control arm (all-at-once deploys).
import { fitModel, forecastAt, forecastSettings, measureForecastError } from '../judge/forecast.js';
import type { Direction } from '../judge/effect-grid.js';
import { formatDuration } from '../config/duration.js';
import type { SelectorConfig, SignalConfig } from '../config/schema.js';
import { measureFloor, measurePlaceboFloor, type DispersionFloor } from '../judge/dispersion.js';
import type { MetricSource, SeriesSelector } from '../sources/types.js';
import type { FrozenForecast } from './signal-judge.js';
import { baselineHistory, baselinePlaceboArms, selectorsOf, totalHistory, type CohortSplit } from './inputs.js';

/** How far back forecasts look: four weeks of lags plus a week of origins to measure their error on. */
export const HISTORY_SECONDS = 35 * 86400;
/** Largest margin accepted: a forecaster that misses by more than this is no basis for a verdict. */
const MAX_MARGIN = 0.6;

/** Builds the forecast of per-tick counts for `horizon` ticks after `origin` from the history before it. */
export function frozenForecast(
  history: ArrayLike<number>,
  step: number,
  horizon: number,
  direction: Direction,
  /** chance a normal day's level error exceeds the margin (half the deploy's false-alarm budget) */
  tail: number,
): FrozenForecast {
  const s = forecastSettings(step);
  const i0 = history.length;
  const model = fitModel(history, i0 - s.levelTicks, i0, s);
  const values: number[] = [];
  for (let i = i0; i < i0 + horizon; i++) values.push(Math.max(0, forecastAt(history, i, model, s)));
  const stride = Math.max(1, Math.round(3600 / step));
  const err = measureForecastError(history, i0, horizon, s, stride, 200, Math.min(1, model.lags.length), tail);
  const margin = Math.min(MAX_MARGIN, direction === 'drop' ? err.dropMargin : err.riseMargin);
  return {
    values,
    margin,
    sigma2: err.sigma2,
    d0: err.d0,
    lags: model.lags.length ? model.lags.map((l) => formatDuration(l * step)) : ['flat'],
    origins: err.origins,
    exceedances: direction === 'drop' ? err.dropExceedances : err.riseExceedances,
    levelSd: err.levelSd,
  };
}

/** The bad-event ratio before the deploy, as an upper confidence bound (few errors say little). */
function baselineRatio(bad: ArrayLike<number>, all: ArrayLike<number>, ticks: number): { ratio: number; d0: number } {
  let e = 0;
  let n = 0;
  const perTick: [number, number][] = [];
  for (let i = Math.max(0, bad.length - ticks); i < bad.length; i++) {
    const b = bad[i] as number;
    const a = all[i] as number;
    if (Number.isFinite(b) && Number.isFinite(a) && a > 0) {
      e += b;
      n += a;
      perTick.push([b, a]);
    }
  }
  if (n === 0) return { ratio: 0, d0: 1 };
  const p = (e + 2 * Math.sqrt(e + 1) + 1) / n;
  let chi = 0;
  for (const [b, a] of perTick) chi += (b - a * (e / n)) ** 2 / Math.max(a * (e / n), 1e-9);
  return { ratio: Math.min(p, 1), d0: Math.min(5, Math.max(1, perTick.length > 4 ? chi / perTick.length : 1)) };
}

export interface HistoryForecasts {
  main: FrozenForecast;
  traffic: FrozenForecast | null;
}

/** Reads the signal's history before `origin` (a tick end) and freezes its forecasts. */
export async function historyForecasts(
  source: MetricSource,
  signal: SignalConfig,
  origin: number,
  step: number,
  horizon: number,
  absentAfter: number,
  tail: number,
): Promise<HistoryForecasts> {
  const from = origin - Math.floor(HISTORY_SECONDS / step) * step;
  const { num, den } = selectorsOf(signal);
  const numHist = await totalHistory(source, num, from, origin, step, absentAfter);
  if (!den) return { main: frozenForecast(numHist, step, horizon, signal.bad, tail), traffic: null };
  const denHist = await totalHistory(source, den, from, origin, step, absentAfter);
  const traffic = frozenForecast(denHist, step, horizon, 'drop', tail);
  const levelTicks = forecastSettings(step).levelTicks;
  const base = baselineRatio(numHist, denHist, levelTicks);
  const main: FrozenForecast = {
    values: traffic.values,
    margin: 0,
    sigma2: 0,
    d0: base.d0,
    lags: [`ratio over the last ${formatDuration(levelTicks * step)}`],
    origins: 0,
    ratio: base.ratio,
  };
  return { main, traffic };
}

/** How far back a canary's dispersion floor looks: the hour before the deploy. */
export const FLOOR_SECONDS = 3600;

/**
 * The dispersion floor of a canary signal, measured on the old version's history in the hour before
 * `origin` (dispersion.ts): its numerator given its denominator, or for a count signal with the service's
 * `traffic` counter, its events given the requests; for a count signal without `traffic`, a placebo split
 * of the old version's instances into two arms (measurePlaceboFloor). Null where there is too little
 * history (an embedded scraper just started) or, for the placebo, a single instance: the judge then keeps
 * its stated assumption and says so.
 */
export async function canaryFloor(
  source: MetricSource,
  signal: SignalConfig,
  traffic: SelectorConfig | null,
  split: CohortSplit,
  origin: number,
  step: number,
  absentAfter: number,
): Promise<DispersionFloor | null> {
  const { num, den } = selectorsOf(signal);
  const exposure: SeriesSelector | null = den ?? (signal.kind === 'count' ? traffic : null);
  const from = origin - Math.floor(FLOOR_SECONDS / step) * step;
  if (!exposure) {
    const arms = await baselinePlaceboArms(source, num, split, from, origin, step, absentAfter);
    return arms ? measurePlaceboFloor(arms.a, arms.b, arms.arms) : null;
  }
  const [n, d] = await Promise.all([
    baselineHistory(source, num, split, from, origin, step, absentAfter),
    baselineHistory(source, exposure, split, from, origin, step, absentAfter),
  ]);
  return measureFloor(n, d);
}
