// The watch loop's I/O: turns a signal declaration and a deploy into per-tick cohort counts from a source.
import type { Deploy } from '../model/deploy.js';
import type { SelectorConfig, SignalConfig } from '../config/schema.js';
import { cohortCounts, selectCohort } from '../signals/increments.js';
import type { MetricSource, SeriesGrid, SeriesSelector } from '../sources/types.js';
import {
  HistogramBoundError,
  isSlowSelector,
  lastBucketIncrements,
  latencySelectors,
  slowGrids,
} from '../signals/histogram.js';
import type { ArmCount, ArmPair, TickInput } from './signal-judge.js';

export function selectorsOf(signal: SignalConfig): { num: SeriesSelector; den: SeriesSelector | null } {
  if (signal.kind === 'count') return { num: { metric: signal.metric, matchers: signal.matchers }, den: null };
  // A latency signal is the ratio slow requests / requests (signals/histogram.ts).
  if (signal.kind === 'latency') {
    const h = latencySelectors(signal);
    return { num: h.slow, den: h.count };
  }
  return { num: signal.numerator, den: signal.denominator };
}

/** source.grid, except that a histogram's slow-request counter is derived from its buckets and count. */
async function gridOf(source: MetricSource, sel: SeriesSelector, from: number, to: number, step: number) {
  if (!isSlowSelector(sel)) return source.grid(sel, from, to, step);
  const count = { metric: `${sel.histogram.base}_count`, matchers: sel.matchers };
  const [buckets, counts] = await Promise.all([source.grid(sel, from, to, step), source.grid(count, from, to, step)]);
  return slowGrids(sel, buckets, counts);
}

/** A latency tick's buckets per arm (for quantiles); a histogram without the slowerThan bound is an error. */
async function latencyParts(
  source: MetricSource,
  signal: SignalConfig,
  from: number,
  t: number,
  step: number,
  absentAfter: number,
  arms: Record<string, (s: SeriesGrid) => boolean>,
) {
  if (signal.kind !== 'latency') return null;
  const buckets = await source.grid(latencySelectors(signal).buckets, from, t, step);
  return Object.fromEntries(
    Object.entries(arms).map(([arm, pick]) => [arm, lastBucketIncrements(buckets.filter(pick), absentAfter)]),
  );
}

/** Which cohorts a deploy compares: the new version against its baseline, or everything (history). */
export interface CohortSplit {
  label: string;
  version: string;
  baselineVersion: string | null;
}

function lastCount(series: SeriesGrid[], absentAfter: number): ArmCount {
  const points = absentAfter + 1;
  const c = cohortCounts(series, absentAfter, points);
  return { value: c.values[points - 1] as number, live: c.live[points - 1] as number };
}

async function armPairs(
  source: MetricSource,
  signal: SignalConfig,
  t: number,
  step: number,
  absentAfter: number,
): Promise<{ num: SeriesGrid[]; den: SeriesGrid[] | null }> {
  const { num, den } = selectorsOf(signal);
  const from = t - absentAfter * step;
  const [n, d] = await Promise.all([
    gridOf(source, num, from, t, step),
    den ? gridOf(source, den, from, t, step) : null,
  ]);
  return { num: n, den: d };
}

/** The declared split around tick t: its time-averaged weight, and the range over the last `lag` ticks. */
export interface StageWeights {
  weight: number;
  weightLow: number;
  weightHigh: number;
}

/** A signal's name and the service's `traffic` counter, for a canary tick whose split is measured. */
export interface TrafficDeclaration {
  signal: string;
  selector: SelectorConfig;
}

/** The tick ending at t for one signal of a canary deploy: canary and baseline cohorts. */
export async function canaryTick(
  source: MetricSource,
  signal: SignalConfig,
  split: CohortSplit,
  weight: number | StageWeights,
  t: number,
  step: number,
  absentAfter: number,
  traffic: TrafficDeclaration | null = null,
): Promise<TickInput> {
  const isCanary = (v: string) => v === split.version;
  const isBaseline = (v: string) =>
    split.baselineVersion === null ? v !== split.version : v === split.baselineVersion;
  const w = typeof weight === 'number' ? { weight, weightLow: weight, weightHigh: weight } : weight;
  let g: Awaited<ReturnType<typeof armPairs>>;
  let tg: SeriesGrid[] | null;
  try {
    [g, tg] = await Promise.all([
      armPairs(source, signal, t, step, absentAfter),
      traffic ? source.grid(traffic.selector, t - absentAfter * step, t, step) : null,
    ]);
  } catch (e) {
    if (e instanceof HistogramBoundError) return { mode: 'canary', ...w, ...unknownArms(), error: e.message };
    throw e;
  }
  const pair = (pick: (v: string) => boolean): ArmPair => ({
    num: lastCount(selectCohort(g.num, split.label, pick), absentAfter),
    den: g.den ? lastCount(selectCohort(g.den, split.label, pick), absentAfter) : null,
  });
  let exposure = null;
  if (traffic && tg) {
    // A traffic counter whose series do not tell the versions apart cannot measure a split: that is a
    // mistake in the config, not a tick to judge (nor one to pass).
    if (tg.length > 0 && !tg.some((s) => s.labels[split.label] !== undefined))
      throw new Error(
        `signal ${traffic.signal}: traffic metric ${traffic.selector.metric} has no series with the cohort label "${split.label}": it cannot measure the canary's share`,
      );
    exposure = {
      canary: lastCount(selectCohort(tg, split.label, isCanary), absentAfter),
      baseline: lastCount(selectCohort(tg, split.label, isBaseline), absentAfter),
    };
  }
  const input: TickInput = { mode: 'canary', ...w, exposure, canary: pair(isCanary), baseline: pair(isBaseline) };
  const label = split.label;
  const parts = await latencyParts(source, signal, t - absentAfter * step, t, step, absentAfter, {
    canary: (s) => isCanary(s.labels[label] ?? ''),
    baseline: (s) => isBaseline(s.labels[label] ?? ''),
  });
  if (parts) input.buckets = { canary: parts.canary ?? null, baseline: parts.baseline ?? null };
  return input;
}

const UNKNOWN: ArmCount = { value: NaN, live: 0 };
function unknownArms(): { canary: ArmPair; baseline: ArmPair } {
  return { canary: { num: UNKNOWN, den: UNKNOWN }, baseline: { num: UNKNOWN, den: UNKNOWN } };
}

/** The tick ending at t for one signal judged against history: all cohorts together. */
export async function totalTick(
  source: MetricSource,
  signal: SignalConfig,
  t: number,
  step: number,
  absentAfter: number,
): Promise<TickInput> {
  let g: Awaited<ReturnType<typeof armPairs>>;
  try {
    g = await armPairs(source, signal, t, step, absentAfter);
  } catch (e) {
    if (e instanceof HistogramBoundError)
      return { mode: 'history', total: { num: UNKNOWN, den: UNKNOWN }, error: e.message };
    throw e;
  }
  const input: TickInput = {
    mode: 'history',
    total: { num: lastCount(g.num, absentAfter), den: g.den ? lastCount(g.den, absentAfter) : null },
  };
  const parts = await latencyParts(source, signal, t - absentAfter * step, t, step, absentAfter, { total: () => true });
  if (parts) input.buckets = { canary: parts.total ?? null, baseline: null };
  return input;
}

/**
 * Per-tick totals over a long range, for forecasts: values[i] counts the tick ending at from + i * step.
 * The first `absentAfter` points are unknown (no look-back), so the range starts that much earlier.
 */
export async function totalHistory(
  source: MetricSource,
  sel: SeriesSelector,
  from: number,
  to: number,
  step: number,
  absentAfter: number,
): Promise<Float64Array> {
  const grids = await gridOf(source, sel, from - absentAfter * step, to, step);
  const points = Math.round((to - from) / step) + 1 + absentAfter;
  return cohortCounts(grids, absentAfter, points).values.subarray(absentAfter);
}

/**
 * The declared split for the tick ending at t: its time-weighted weight, and the lowest and highest weight
 * over it and the `lag` ticks before (traffic may follow a stage change a tick or two late).
 */
export function stageWeights(deploy: Deploy, t: number, step: number, lag: number): StageWeights {
  const weight = weightOver(deploy, t, step);
  let weightLow = weight;
  let weightHigh = weight;
  // Before the first stage there was no canary to lag behind: its start-up is the grace period's business.
  const first = Math.min(deploy.startedAt, ...deploy.stages.map((s) => s.at));
  for (let k = 1; k <= lag && t - k * step > first; k++) {
    const wk = weightOver(deploy, t - k * step, step);
    weightLow = Math.min(weightLow, wk);
    weightHigh = Math.max(weightHigh, wk);
  }
  return { weight, weightLow, weightHigh };
}

/** Time-weighted canary weight over the tick (t - step, t]. */
export function weightOver(deploy: Deploy, t: number, step: number): number {
  if (deploy.strategy === 'all-at-once') return 1;
  let w = 0;
  let acc = 0;
  let cursor = t - step;
  for (const s of deploy.stages) {
    if (s.at <= cursor) {
      w = s.weight;
      continue;
    }
    if (s.at >= t) break;
    acc += w * (s.at - cursor);
    cursor = s.at;
    w = s.weight;
  }
  acc += w * (t - cursor);
  return acc / step;
}
