// The PromQL the Prometheus source asks (prometheus.ts): label matchers as anchored regexes, the live
// observation summed at the server, the targets serving a selector and their `up`. Pure strings, shared
// by the client and the batching plan (prometheus-batch.ts).
import type { SeriesSelector } from './types.js';

export function matcherList(sel: SeriesSelector): string {
  return Object.entries(sel.matchers)
    .map(([k, v]) => `${k}=~${JSON.stringify(v)}`)
    .join(',');
}

/**
 * PromQL for a selector: label matchers as anchored regexes (=~), exactly like the embedded store. The
 * window is one millisecond short of the step: Prometheus 2.x range selectors include their left edge, so a
 * full-step window would return the previous tick's sample for a missed scrape instead of nothing.
 */
export function selectorQuery(sel: SeriesSelector, step: number): string {
  return `last_over_time(${sel.metric}{${matcherList(sel)}}[${Math.round(step * 1000) - 1}ms])`;
}

/** The label that tells the two halves of an aggregated observation apart (see observeQuery). */
export const PART_LABEL = 'navigator_part';

/**
 * The labels a live observation is summed by at the server: the cohort labels the watch splits on
 * (`sel.by`), the target (`job`, `instance`: blindness, `up == 0` and counter resets are per target, so
 * sums never cross targets) and, for histogram buckets, `le`.
 */
export function aggregationLabels(sel: SeriesSelector): string[] {
  const by = new Set([...(sel.by ?? []), 'job', 'instance']);
  if (sel.metric.endsWith('_bucket')) by.add('le');
  return [...by];
}

/**
 * PromQL for a live observation: on the tick grid from..to, per target and cohort, the sum of the series'
 * last samples in each tick, and how many series made that sum. A subquery of
 * `last_over_time(...[step - 1ms])` gives exactly the grid `gridFromSamples` builds from raw samples (a tick
 * with no sample of a target has no point: a gap, never a zero), and its points are aligned to multiples of
 * the step, as tick ends are. Summing inside one target is safe for the increment rules: a target's series
 * are scraped together (one timestamp) and reset together (a process restart); the series count catches
 * the one case a sum would get wrong, a series that vanishes while its target lives (its drop would look
 * like a reset: see gridsFromObserved). What is not aggregated, and why:
 * - sums across targets (`sum by (version)` alone): one pod's restart or failed scrape would hide in the
 *   others' increments, and `up` would no longer say which cohort is blind;
 * - `grid` (backtests, the history of all-at-once deploys and `watch: always`): backtests read recordings,
 *   not this source, and the history's per-series gaps and births are counted per series;
 * - `up` and the targets serving a selector: already one series per target.
 * `extra`: a label added to the sums' labels (a batch's, prometheus-batch.ts: it tells its selectors apart).
 */
export function observeQuery(
  sel: SeriesSelector,
  from: number,
  to: number,
  step: number,
  extra: string | null = null,
): string {
  const stepMs = Math.round(step * 1000);
  // One step more than from..to: Prometheus evaluates a subquery at the multiples of its step from
  // to - range on (range edge included), VictoriaMetrics at to - range + k * step (edge maybe excluded);
  // either way every grid point from..to is there, and the one before it is dropped (gridsFromObserved).
  const rangeMs = Math.round((to - from) * 1000) + stepMs;
  const inner = `last_over_time(${sel.metric}{${matcherList(sel)}}[${stepMs - 1}ms])`;
  const by = withLabel(aggregationLabels(sel), extra).join(', ');
  return (
    `(sum by (${by}) (${inner}) or ` +
    `label_replace(count by (${by}) (${inner}), "${PART_LABEL}", "count", "", ""))[${rangeMs}ms:${stepMs}ms]`
  );
}

/** An anchored regex that matches exactly these strings. */
export function literalAlternation(values: readonly string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}

function withLabel(labels: readonly string[], extra: string | null): string[] {
  return extra === null || labels.includes(extra) ? [...labels] : [...labels, extra];
}

/** The labels of the targets query's answer (`extra` aside). */
export const TARGET_LABELS: readonly string[] = ['job', 'instance'];

/**
 * PromQL for the targets serving a selector: one series per target with a sample of it in the `lookback`
 * seconds (a target that died an hour ago still counts: its `up == 0` still makes the selector blind).
 */
export function targetsQuery(sel: SeriesSelector, lookback: number, extra: string | null = null): string {
  const by = withLabel(TARGET_LABELS, extra).join(', ');
  return `count by (${by}) (last_over_time(${sel.metric}{${matcherList(sel)}}[${lookback}s]))`;
}

/** PromQL for the raw `up` samples of these instances over the last `windowMs`. */
export function upQuery(instances: readonly string[], windowMs: number): string {
  return `up{instance=~${JSON.stringify(literalAlternation(instances))}}[${windowMs}ms]`;
}
