// Which of a tick's live observations one Prometheus query can answer together (prometheus.ts `observe`).
// A tick asks the same few metrics for every service: `orders_total{service="a"}`, `{service="b"}`, ... At
// 100 services that was 700 queries a tick, and their HTTP and JSON, not the judge, were most of a tick's
// CPU (bench/service/live.ts). Selectors of one metric whose matchers are the same except ONE label are
// asked as one query with that label matching the alternation of their values, and the label added to
// the query's `by` so each series of the answer says which selector it belongs to.
//
// Only literal values are batched (no regex metacharacter): as an anchored regex a literal matches exactly
// itself, so a series' label value names its selector. A regex value (`checkout|cart`, `svc-.*`) would have
// to be matched here in JavaScript's dialect against Prometheus' RE2 results: it is asked alone, as before.
import { aggregationLabels, literalAlternation } from './prometheus-query.js';
import type { SeriesSelector } from './types.js';

/** Longest alternation in one batched query, characters: the POST body and Prometheus' regex stay small. */
export const MAX_ALTERNATION = 2000;

/** One query of a tick's plan: a selector alone (`label` null) or several that differ in `label` only. */
export interface Batch {
  label: string | null;
  /** the members' metric, shared matchers and `by` (a member's own selector when alone) */
  template: SeriesSelector;
  /** the members' values of `label`, distinct; one value when alone */
  values: string[];
  /** per value: the indices (into the planned selectors) of the selectors with that value */
  members: number[][];
}

/** As an anchored regex, a value without metacharacters matches exactly itself. */
const isLiteral = (v: string) => literalAlternation([v]) === v;

/** The selector a batch asks: the shared matchers, `label` matching any of the values. */
export function batchSelector(b: Batch): SeriesSelector {
  if (b.label === null) return b.template;
  return { ...b.template, matchers: { ...b.template.matchers, [b.label]: literalAlternation(b.values) } };
}

/** Selectors that could share a query: the same metric, matcher labels and result labels. */
function shapeKey(s: SeriesSelector): string {
  return JSON.stringify([s.metric, [...aggregationLabels(s)].sort(), Object.keys(s.matchers).sort()]);
}

/** Everything of a selector but `label`'s value: members of one batch share it. */
function restKey(s: SeriesSelector, label: string): string {
  return JSON.stringify(
    Object.entries(s.matchers)
      .filter(([k]) => k !== label)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

/** Per group of `label`-batchable selectors (same rest), value -> indices. */
function groupsBy(sels: readonly SeriesSelector[], idx: readonly number[], label: string) {
  const groups = new Map<string, Map<string, number[]>>();
  for (const i of idx) {
    const s = sels[i] as SeriesSelector;
    const v = s.matchers[label] as string;
    if (!isLiteral(v)) continue;
    const key = restKey(s, label);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = new Map()));
    const m = g.get(v);
    if (m) m.push(i);
    else g.set(v, [i]);
  }
  return groups;
}

/** Queries saved by batching on `label`: per group of n distinct values, n - 1. */
function saved(groups: Map<string, Map<string, number[]>>): number {
  let n = 0;
  for (const g of groups.values()) n += Math.max(0, g.size - 1);
  return n;
}

/**
 * Values in runs whose alternation (`a|b|c`) stays under `maxChars` (a value longer than that runs alone):
 * a batched observation's values and a tick's `up` instances both keep their query this small.
 */
export function runsByLength(values: Iterable<string>, maxChars = MAX_ALTERNATION): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let chars = 0;
  for (const v of values) {
    if (cur.length > 0 && chars + v.length + 1 > maxChars) {
      out.push(cur);
      cur = [];
      chars = 0;
    }
    cur.push(v);
    chars += v.length + 1;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Splits one group into batches whose alternation stays under `maxChars`. */
function chunks(
  sels: readonly SeriesSelector[],
  label: string,
  group: Map<string, number[]>,
  maxChars: number,
): Batch[] {
  return runsByLength(group.keys(), maxChars).map((values) => {
    const members = values.map((v) => group.get(v) as number[]);
    return { label, template: sels[members[0]?.[0] as number] as SeriesSelector, values, members };
  });
}

/**
 * The queries that answer these selectors (one tick's, same from/to/step): per shape, the label whose
 * values differ is the one that saves the most queries; what is left (a value that is a regex, a selector
 * with no partner) is asked alone. Identical selectors share a member slot.
 */
export function planBatches(sels: readonly SeriesSelector[], maxChars = MAX_ALTERNATION): Batch[] {
  const shapes = new Map<string, number[]>();
  sels.forEach((s, i) => {
    const k = shapeKey(s);
    const list = shapes.get(k);
    if (list) list.push(i);
    else shapes.set(k, [i]);
  });
  const out: Batch[] = [];
  const alone = (i: number) => {
    const s = sels[i] as SeriesSelector;
    out.push({ label: null, template: s, values: [''], members: [[i]] });
  };
  for (const idx of shapes.values()) {
    let rest = idx;
    const labels = Object.keys((sels[idx[0] as number] as SeriesSelector).matchers).filter((l) => l !== '__name__');
    while (rest.length > 1) {
      let best: { label: string; groups: Map<string, Map<string, number[]>>; saved: number } | null = null;
      for (const label of labels) {
        const groups = groupsBy(sels, rest, label);
        const n = saved(groups);
        if (n > 0 && (!best || n > best.saved)) best = { label, groups, saved: n };
      }
      if (!best) break;
      const batched = new Set<number>();
      for (const g of best.groups.values()) {
        if (g.size < 2) continue;
        out.push(...chunks(sels, best.label, g, maxChars));
        for (const members of g.values()) for (const i of members) batched.add(i);
      }
      rest = rest.filter((i) => !batched.has(i));
    }
    // what is left: identical selectors still share one query (the memo asks it once)
    for (const i of rest) alone(i);
  }
  return out;
}

/**
 * A batched answer split back per value: each series goes to the value of its `label` (absent: ""), and
 * `label` is dropped from it where the selector's own query would not have carried it (`strip`).
 */
export function splitAnswer<T extends { metric: Record<string, string> }>(
  rows: readonly T[],
  b: Batch,
  strip: boolean,
): T[][] {
  const parts = b.values.map(() => [] as T[]);
  if (b.label === null) return [rows as T[]];
  const label = b.label;
  const index = new Map(b.values.map((v, k) => [v, k]));
  for (const r of rows) {
    const k = index.get(r.metric[label] ?? '');
    if (k === undefined) continue; // cannot happen for an alternation of literals: Prometheus matched it
    if (!strip) {
      (parts[k] as T[]).push(r);
      continue;
    }
    const metric: Record<string, string> = {};
    for (const name in r.metric) if (name !== label) metric[name] = r.metric[name] as string;
    (parts[k] as T[]).push({ ...r, metric });
  }
  return parts;
}
