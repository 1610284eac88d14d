// The watch loop's I/O: turns a signal declaration and a deploy into per-tick cohort counts from a source.
import type { Deploy } from '../model/deploy.js';
import type { SignalConfig } from '../config/schema.js';
import { cohortCounts, selectCohort } from '../signals/increments.js';
import { observeCohort, type CohortObservation } from '../signals/observe.js';
import { observeOf, type MetricSource, type Observed, type SeriesGrid, type SeriesSelector } from '../sources/types.js';
import type { ArmCount, ArmPair, TickInput } from './signal-judge.js';

export function selectorsOf(signal: SignalConfig): { num: SeriesSelector; den: SeriesSelector | null } {
  if (signal.kind === 'count') return { num: { metric: signal.metric, matchers: signal.matchers }, den: null };
  return { num: signal.numerator, den: signal.denominator };
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
  const [n, d] = await Promise.all([source.grid(num, from, t, step), den ? source.grid(den, from, t, step) : null]);
  return { num: n, den: d };
}

/** The tick ending at t for one signal of a canary deploy: canary and baseline cohorts. */
export async function canaryTick(
  source: MetricSource,
  signal: SignalConfig,
  split: CohortSplit,
  weight: number,
  t: number,
  step: number,
  absentAfter: number,
): Promise<TickInput> {
  const g = await armPairs(source, signal, t, step, absentAfter);
  const isCanary = (v: string) => v === split.version;
  const isBaseline = (v: string) =>
    split.baselineVersion === null ? v !== split.version : v === split.baselineVersion;
  const pair = (pick: (v: string) => boolean): ArmPair => ({
    num: lastCount(selectCohort(g.num, split.label, pick), absentAfter),
    den: g.den ? lastCount(selectCohort(g.den, split.label, pick), absentAfter) : null,
  });
  return { mode: 'canary', weight, canary: pair(isCanary), baseline: pair(isBaseline) };
}

/** The tick ending at t for one signal judged against history: all cohorts together. */
export async function totalTick(
  source: MetricSource,
  signal: SignalConfig,
  t: number,
  step: number,
  absentAfter: number,
): Promise<TickInput> {
  const g = await armPairs(source, signal, t, step, absentAfter);
  return {
    mode: 'history',
    total: { num: lastCount(g.num, absentAfter), den: g.den ? lastCount(g.den, absentAfter) : null },
  };
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
  const grids = await source.grid(sel, from - absentAfter * step, to, step);
  const points = Math.round((to - from) / step) + 1 + absentAfter;
  return cohortCounts(grids, absentAfter, points).values.subarray(absentAfter);
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

// ---- The observation model (design §8): what a tick of a signal saw, from the source's own health. ----

/** A signal's tick as seen: the counts since the anchor, or why they are not known. */
export type SignalObservation<C> =
  | { kind: 'seen'; counts: C }
  /** unknown for now: carried until the counter is seen again; `restart`: count from this tick on */
  | { kind: 'gap'; restart: boolean; reason: string }
  | { kind: 'blind'; reason: string };

export type CanaryCounts = { canary: ArmPair; baseline: ArmPair };
export type TotalCounts = { total: ArmPair };

async function observedArms(
  source: MetricSource,
  signal: SignalConfig,
  anchor: number,
  t: number,
  step: number,
  absentAfter: number,
): Promise<{ num: Observed; den: Observed | null; a: number; last: number }> {
  const { num, den } = selectorsOf(signal);
  const from = Math.min(anchor, t - absentAfter * step);
  const [n, d] = await Promise.all([
    observeOf(source, num, from, t, step),
    den ? observeOf(source, den, from, t, step) : null,
  ]);
  return { num: n, den: d, a: Math.round((anchor - from) / step), last: Math.round((t - from) / step) };
}

/** Combines cohort observations: blind beats gap beats seen; a cohort only of new series restarts the count. */
function combine<C>(cohorts: CohortObservation[], counts: () => C): SignalObservation<C> {
  const blind = cohorts.find((c) => c.kind === 'blind');
  if (blind) return { kind: 'blind', reason: blind.reason ?? 'blind' };
  const gap = cohorts.find((c) => c.kind === 'gap');
  if (gap) return { kind: 'gap', restart: false, reason: gap.reason ?? 'gap' };
  if (cohorts.some((c) => c.live === 0 && c.born > 0))
    return { kind: 'gap', restart: true, reason: 'new series started this tick: counting from their first sample' };
  return { kind: 'seen', counts: counts() };
}

const armCount = (c: CohortObservation): ArmCount => ({ value: c.value, live: c.live });

/** The tick ending at t of a canary deploy's signal, counted from `anchor` (a tick end before t). */
export async function observeCanary(
  source: MetricSource,
  signal: SignalConfig,
  split: CohortSplit,
  anchor: number,
  t: number,
  step: number,
  absentAfter: number,
): Promise<SignalObservation<CanaryCounts>> {
  const o = await observedArms(source, signal, anchor, t, step, absentAfter);
  const isCanary = (v: string) => v === split.version;
  const isBaseline = (v: string) =>
    split.baselineVersion === null ? v !== split.version : v === split.baselineVersion;
  const cohort = (obs: Observed, pick: (v: string) => boolean) =>
    observeCohort(selectCohort(obs.series, split.label, pick), obs.blind, obs.health, o.a, o.last, absentAfter);
  const cn = cohort(o.num, isCanary);
  const bn = cohort(o.num, isBaseline);
  const cd = o.den ? cohort(o.den, isCanary) : null;
  const bd = o.den ? cohort(o.den, isBaseline) : null;
  return combine([cn, bn, ...(cd && bd ? [cd, bd] : [])], () => ({
    canary: { num: armCount(cn), den: cd ? armCount(cd) : null },
    baseline: { num: armCount(bn), den: bd ? armCount(bd) : null },
  }));
}

/** The tick ending at t of a signal judged against history (all cohorts together), counted from `anchor`. */
export async function observeTotal(
  source: MetricSource,
  signal: SignalConfig,
  anchor: number,
  t: number,
  step: number,
  absentAfter: number,
): Promise<SignalObservation<TotalCounts>> {
  const o = await observedArms(source, signal, anchor, t, step, absentAfter);
  const n = observeCohort(o.num.series, o.num.blind, o.num.health, o.a, o.last, absentAfter);
  const d = o.den ? observeCohort(o.den.series, o.den.blind, o.den.health, o.a, o.last, absentAfter) : null;
  // Across all cohorts a new series (a new pod) beside counted ones is normal; only all-new restarts.
  return combine([n, ...(d ? [d] : [])], () => ({ total: { num: armCount(n), den: d ? armCount(d) : null } }));
}
