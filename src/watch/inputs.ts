// The watch loop's I/O: turns a signal declaration and a deploy into per-tick cohort counts from a source.
import type { Deploy } from '../model/deploy.js';
import type { SelectorConfig, SignalConfig } from '../config/schema.js';
import { cohortCounts, selectCohort } from '../signals/increments.js';
import { observeCohort, type CohortObservation } from '../signals/observe.js';
import { observeOf, type MetricSource, type Observed, type SeriesGrid, type SeriesSelector } from '../sources/types.js';
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
export async function gridOf(source: MetricSource, sel: SeriesSelector, from: number, to: number, step: number) {
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

const UNKNOWN: ArmCount = { value: NaN, live: 0 };

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
 * Per-tick counts of the deploy's baseline cohort (the old version) over a long range, like totalHistory:
 * what the dispersion floor is measured on before a canary deploy.
 */
export async function baselineHistory(
  source: MetricSource,
  sel: SeriesSelector,
  split: CohortSplit,
  from: number,
  to: number,
  step: number,
  absentAfter: number,
): Promise<Float64Array> {
  const grids = await gridOf(source, sel, from - absentAfter * step, to, step);
  const pick = (v: string) => (split.baselineVersion === null ? v !== split.version : v === split.baselineVersion);
  const points = Math.round((to - from) / step) + 1 + absentAfter;
  return cohortCounts(selectCohort(grids, split.label, pick), absentAfter, points).values.subarray(absentAfter);
}

/**
 * The old version's per-tick counts split into two placebo arms by instance (every other instance, in
 * label order, to arm A): what a count signal without `traffic` measures its dispersion floor on
 * (dispersion.ts measurePlaceboFloor). An instance is the series' `instance` label (every scraped series
 * has one), else `pod`, else the series itself. Null with fewer than two instances: no placebo split.
 */
export async function baselinePlaceboArms(
  source: MetricSource,
  sel: SeriesSelector,
  split: CohortSplit,
  from: number,
  to: number,
  step: number,
  absentAfter: number,
): Promise<{ a: Float64Array; b: Float64Array; arms: [number, number] } | null> {
  const grids = await gridOf(source, sel, from - absentAfter * step, to, step);
  const pick = (v: string) => (split.baselineVersion === null ? v !== split.version : v === split.baselineVersion);
  const cohort = selectCohort(grids, split.label, pick);
  const key = (g: SeriesGrid) => g.labels.instance ?? g.labels.pod ?? JSON.stringify(Object.entries(g.labels).sort());
  const instances = [...new Set(cohort.map(key))].sort();
  if (instances.length < 2) return null;
  const inA = new Set(instances.filter((_, i) => i % 2 === 0));
  const points = Math.round((to - from) / step) + 1 + absentAfter;
  const arm = (want: boolean) =>
    cohortCounts(
      cohort.filter((g) => inA.has(key(g)) === want),
      absentAfter,
      points,
    ).values.subarray(absentAfter);
  return { a: arm(true), b: arm(false), arms: [inA.size, instances.length - inA.size] };
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

// ---- The observation model (design §8): what a tick of a signal saw, from the source's own health. ----

/** A signal's tick as seen: the counts since the anchor, or why they are not known. */
export type SignalObservation<C> =
  | { kind: 'seen'; counts: C; buckets?: TickInput['buckets'] }
  /** unknown for now: carried until the counter is seen again; `restart`: count from this tick on */
  | { kind: 'gap'; restart: boolean; reason: string }
  | { kind: 'blind'; reason: string }
  /** the signal cannot be judged as configured (a histogram without the slowerThan bound) */
  | { kind: 'error'; error: string };

export type CanaryCounts = {
  canary: ArmPair;
  baseline: ArmPair;
  /** each cohort's requests from the `traffic` counter over the same ticks, when it is declared */
  exposure?: { canary: ArmCount; baseline: ArmCount };
};
export type TotalCounts = { total: ArmPair };

async function observedArms(
  source: MetricSource,
  signal: SignalConfig,
  anchor: number,
  t: number,
  step: number,
  absentAfter: number,
  by: readonly string[],
): Promise<{ num: Observed; den: Observed | null; a: number; last: number }> {
  const { num, den } = selectorsOf(signal);
  const from = Math.min(anchor, t - absentAfter * step);
  // `by`: the cohort labels the judge splits on; a source may sum series by them (and by target) itself.
  const [n, d] = await Promise.all([
    observeSel(source, { ...num, by }, from, t, step),
    den ? observeSel(source, { ...den, by }, from, t, step) : null,
  ]);
  return { num: n, den: d, a: Math.round((anchor - from) / step), last: Math.round((t - from) / step) };
}

/**
 * `observeOf`, except that a histogram's slow-request counter is derived from its buckets and count; each
 * derived series keeps the health of its `_count` series, and the selector is blind where either is.
 */
async function observeSel(source: MetricSource, sel: SeriesSelector, from: number, to: number, step: number) {
  if (!isSlowSelector(sel)) return observeOf(source, sel, from, to, step);
  const count = { metric: `${sel.histogram.base}_count`, matchers: sel.matchers, ...(sel.by ? { by: sel.by } : {}) };
  const [b, c] = await Promise.all([observeOf(source, sel, from, to, step), observeOf(source, count, from, to, step)]);
  const series = slowGrids(sel, b.series, c.series);
  const upOf = new Map(c.series.map((x) => [JSON.stringify(Object.entries(x.labels).sort()), x.up]));
  for (const x of series) {
    const up = upOf.get(JSON.stringify(Object.entries(x.labels).sort()));
    if (up) x.up = up;
  }
  const blind = c.blind.map((r, i) => r ?? b.blind[i] ?? null);
  return { series, blind, health: b.health && c.health };
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
  traffic: TrafficDeclaration | null = null,
): Promise<SignalObservation<CanaryCounts>> {
  let o: Awaited<ReturnType<typeof observedArms>>;
  let tr: Observed | null;
  try {
    [o, tr] = await Promise.all([
      observedArms(source, signal, anchor, t, step, absentAfter, [split.label]),
      traffic
        ? observeSel(
            source,
            { ...traffic.selector, by: [split.label] },
            Math.min(anchor, t - absentAfter * step),
            t,
            step,
          )
        : null,
    ]);
  } catch (e) {
    if (e instanceof HistogramBoundError) return { kind: 'error', error: e.message };
    throw e;
  }
  const isCanary = (v: string) => v === split.version;
  const isBaseline = (v: string) =>
    split.baselineVersion === null ? v !== split.version : v === split.baselineVersion;
  const cohort = (obs: Observed, pick: (v: string) => boolean) =>
    observeCohort(selectCohort(obs.series, split.label, pick), obs.blind, obs.health, o.a, o.last, absentAfter);
  // A traffic counter whose series do not tell the versions apart cannot measure a split: a mistake in the
  // config, said at the first tick (the watch stays blind), never a tick judged or passed.
  if (traffic && tr && tr.series.length > 0 && !tr.series.some((x) => x.labels[split.label] !== undefined))
    throw new Error(
      `signal ${traffic.signal}: traffic metric ${traffic.selector.metric} has no series with the cohort label "${split.label}": it cannot measure the canary's share`,
    );
  const cn = cohort(o.num, isCanary);
  const bn = cohort(o.num, isBaseline);
  const cd = o.den ? cohort(o.den, isCanary) : null;
  const bd = o.den ? cohort(o.den, isBaseline) : null;
  // The exposure is seen, gapped or blind like the counts: a share we cannot see is never judged against.
  const ct = tr ? cohort(tr, isCanary) : null;
  const bt = tr ? cohort(tr, isBaseline) : null;
  const seen = combine([cn, bn, ...(cd && bd ? [cd, bd] : []), ...(ct && bt ? [ct, bt] : [])], () => ({
    canary: { num: armCount(cn), den: cd ? armCount(cd) : null },
    baseline: { num: armCount(bn), den: bd ? armCount(bd) : null },
    ...(ct && bt ? { exposure: { canary: armCount(ct), baseline: armCount(bt) } } : {}),
  }));
  if (seen.kind !== 'seen') return seen;
  // A traffic counter with no series seen in either cohort (absent, or matchers that select none): the
  // share cannot be measured, so the signal is blind (never judged, never passed), saying what is missing.
  if (traffic && ct && bt && ct.live + bt.live === 0)
    return {
      kind: 'blind',
      reason: `signal ${traffic.signal}: traffic metric ${traffic.selector.metric} has no series for versions ${split.version} or ${split.baselineVersion ?? 'the baseline'}: the canary's share cannot be measured`,
    };
  // Latency quantiles (evidence only): the buckets of the tick itself.
  const label = split.label;
  const parts = await latencyParts(source, signal, t - absentAfter * step, t, step, absentAfter, {
    canary: (s) => isCanary(s.labels[label] ?? ''),
    baseline: (s) => isBaseline(s.labels[label] ?? ''),
  });
  if (parts) seen.buckets = { canary: parts.canary ?? null, baseline: parts.baseline ?? null };
  return seen;
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
  let o: Awaited<ReturnType<typeof observedArms>>;
  try {
    o = await observedArms(source, signal, anchor, t, step, absentAfter, []);
  } catch (e) {
    if (e instanceof HistogramBoundError) return { kind: 'error', error: e.message };
    throw e;
  }
  const n = observeCohort(o.num.series, o.num.blind, o.num.health, o.a, o.last, absentAfter);
  const d = o.den ? observeCohort(o.den.series, o.den.blind, o.den.health, o.a, o.last, absentAfter) : null;
  // Across all cohorts a new series (a new pod) beside counted ones is normal; only all-new restarts.
  const seen = combine([n, ...(d ? [d] : [])], () => ({ total: { num: armCount(n), den: d ? armCount(d) : null } }));
  if (seen.kind !== 'seen') return seen;
  const parts = await latencyParts(source, signal, t - absentAfter * step, t, step, absentAfter, { total: () => true });
  if (parts) seen.buckets = { canary: parts.total ?? null, baseline: null };
  return seen;
}
