// What a tick changed in a watch, as a compact record: the tick's observations (the judge's only input that
// is not in the watch or its deploy), so the store appends a hundred bytes per watch-tick instead of
// rewriting the whole state (kilobytes: every test's evidence over its effect grid). The judge is
// deterministic: a checkpoint (the whole state, written every CHECKPOINT_TICKS of a watch's ticks) plus the
// records after it, replayed through the same code (Watcher.replay), is the state the live process had.
// Records are plain JSON text in plain rows (store: saveWatchTicks / watchTicks), for SQLite and PostgreSQL.
import type { BucketCounts } from '../signals/histogram.js';
import type { CanaryCounts, SignalObservation, TotalCounts } from './inputs.js';
import type { ArmCount, ArmPair } from './signal-judge.js';

export type Observation = SignalObservation<CanaryCounts> | SignalObservation<TotalCounts>;

/** A tick judged at t from these observations (one per signal, in the watch's signal order). */
export interface TickRecord {
  t: number;
  o: Observation[];
}
/** The source failed at `at` while the watch's last judged tick was `l`: it is blind, nothing else changed. */
export interface FailureRecord {
  at: number;
  l: number | null;
  e: string;
}
export type WatchRecord = TickRecord | FailureRecord;

/** Ticks of a watch between two checkpoints of its whole state. */
export const CHECKPOINT_TICKS = 64;

type Num = number | null;
type Arm = [Num, number];
type Enc =
  | ['e', string]
  | ['b', string]
  | ['g', 0 | 1, string]
  | ['c', Arm, Arm | 0, Arm, Arm | 0, [Arm, Arm] | 0, Buckets | 0]
  | ['t', Arm, Arm | 0, Buckets | 0];
type Bk = [(number | string)[], Num[]] | null;
type Buckets = [Bk, Bk];

// JSON has no NaN or Infinity: they travel as null (a count is either known or NaN).
const num = (x: number): Num => (Number.isFinite(x) ? x : null);
const unnum = (x: Num): number => (x === null ? NaN : x);
const arm = (a: ArmCount): Arm => [num(a.value), a.live];
const unarm = (a: Arm): ArmCount => ({ value: unnum(a[0]), live: a[1] });
// Bucket bounds end with +Inf: written as "inf".
const bk = (b: BucketCounts | null): Bk =>
  b ? [b.bounds.map((x) => (x === Infinity ? 'inf' : x)), b.counts.map(num)] : null;
const unbk = (b: Bk): BucketCounts | null =>
  b ? { bounds: b[0].map((x) => (x === 'inf' ? Infinity : Number(x))), counts: b[1].map(unnum) } : null;
const pair = (p: ArmPair): [Arm, Arm | 0] => [arm(p.num), p.den ? arm(p.den) : 0];
const unpair = (n: Arm, d: Arm | 0): ArmPair => ({ num: unarm(n), den: d === 0 ? null : unarm(d) });

function encodeObservation(o: Observation): Enc {
  switch (o.kind) {
    case 'error':
      return ['e', o.error];
    case 'blind':
      return ['b', o.reason];
    case 'gap':
      return ['g', o.restart ? 1 : 0, o.reason];
    default: {
      const b: Buckets | 0 = o.buckets ? [bk(o.buckets.canary), bk(o.buckets.baseline)] : 0;
      if ('total' in o.counts) return ['t', ...pair(o.counts.total), b];
      const c = o.counts;
      const ex: [Arm, Arm] | 0 = c.exposure ? [arm(c.exposure.canary), arm(c.exposure.baseline)] : 0;
      return ['c', ...pair(c.canary), ...pair(c.baseline), ex, b];
    }
  }
}

function decodeObservation(e: Enc): Observation {
  switch (e[0]) {
    case 'e':
      return { kind: 'error', error: e[1] };
    case 'b':
      return { kind: 'blind', reason: e[1] };
    case 'g':
      return { kind: 'gap', restart: e[1] === 1, reason: e[2] };
    case 't': {
      const o: Observation = { kind: 'seen', counts: { total: unpair(e[1], e[2]) } };
      if (e[3] !== 0) o.buckets = { canary: unbk(e[3][0]), baseline: unbk(e[3][1]) };
      return o;
    }
    case 'c': {
      const counts: CanaryCounts = { canary: unpair(e[1], e[2]), baseline: unpair(e[3], e[4]) };
      if (e[5] !== 0) counts.exposure = { canary: unarm(e[5][0]), baseline: unarm(e[5][1]) };
      const o: Observation = { kind: 'seen', counts };
      if (e[6] !== 0) o.buckets = { canary: unbk(e[6][0]), baseline: unbk(e[6][1]) };
      return o;
    }
  }
}

export function encodeRecord(r: WatchRecord): string {
  if ('e' in r) return JSON.stringify({ at: r.at, l: r.l, e: r.e });
  return JSON.stringify({ t: r.t, o: r.o.map(encodeObservation) });
}

export function decodeRecord(text: string): WatchRecord {
  const r = JSON.parse(text) as { t?: number; o?: Enc[]; at?: number; l?: number | null; e?: string };
  if (typeof r.e === 'string' && typeof r.at === 'number') return { at: r.at, l: r.l ?? null, e: r.e };
  if (typeof r.t !== 'number' || !Array.isArray(r.o)) throw new Error(`not a watch tick record: ${text.slice(0, 80)}`);
  return { t: r.t, o: r.o.map(decodeObservation) };
}
