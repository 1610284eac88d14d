// One cohort's observation for one tick (design §8 "seeing is data"), from the series a source returned
// and what it knows of its targets' health. The tick is the last grid point L; its events are counted from
// the anchor point A (the end of the last tick whose counts were known), so a gap's events arrive once,
// with the first tick that sees the counter again. Per series, at L:
// - its source was blind there (a target serving the selector failed, or was not scraped at all), or its
//   own target failed (up == 0): blind;
// - its target was scraped (up == 1): seen when it has a sample, gone (stopped: nothing more to count) when not;
// - no scrape of its target landed in the tick (up unknown there: a scrape interval longer than the tick, or a
//   scrape in flight): a gap;
// - the source has no health for it (a recording file, a Prometheus without `up` for it): a sample is seen;
//   no sample but one within the last `absentAfter` points is a gap; none for longer, the series stopped.
// A seen series contributes the sum of its increments between consecutive samples from A to L (a counter
// reset counts the new value, like PromQL's `increase`); a series that first appears after A is new (a new
// pod): like `increase`, its first value is not counted. A cohort with no series that counted anything and
// none new is absent: zero events observed while its targets were scraped (or, without health, for longer
// than `absentAfter` ticks).
import type { SeriesGrid } from '../sources/types.js';

export type CohortKind = 'seen' | 'gap' | 'blind';

export interface CohortObservation {
  kind: CohortKind;
  /** events in (A, L] (0 unless seen) */
  value: number;
  /** series that counted increments (0 on a seen cohort: absent, unless some are new) */
  live: number;
  /** series that first appeared in (A, L]: their first value is not counted */
  born: number;
  /** why it is blind or a gap */
  reason: string | null;
}

function increment(prev: number, cur: number): number {
  return cur >= prev ? cur - prev : cur;
}

/**
 * Observes a cohort's series at point `last`, counting from point `anchor` (anchor < last).
 * `blind[i]` is the source's own blindness at point i (see Observed).
 */
export function observeCohort(
  series: readonly SeriesGrid[],
  blind: readonly (string | null)[],
  health: boolean,
  anchor: number,
  last: number,
  absentAfter: number,
): CohortObservation {
  const out: CohortObservation = { kind: 'seen', value: 0, live: 0, born: 0, reason: null };
  const sourceBlind = blind[last] ?? null;
  if (sourceBlind !== null) return { ...out, kind: 'blind', reason: sourceBlind };
  let gap: string | null = null;
  for (const s of series) {
    const v = s.values;
    const cur = v[last] as number;
    if (health && s.up) {
      const u = s.up[last] as number;
      if (u === 0) return { ...out, kind: 'blind', reason: `the target of ${describe(s.labels)} is down` };
      if (Number.isNaN(u)) {
        gap ??= `no scrape of ${describe(s.labels)} landed in this tick yet`;
        continue;
      }
    } else if (!Number.isFinite(cur)) {
      let recent = false;
      for (let j = Math.max(0, last - absentAfter + 1); j < last; j++)
        if (Number.isFinite(v[j] as number)) recent = true;
      if (recent) {
        gap ??= `${describe(s.labels)} missed a sample`;
        continue;
      }
    }
    // Seen, or gone: count the increments between consecutive samples in [anchor, last].
    let prev = NaN;
    let counted = false;
    let sum = 0;
    for (let i = anchor; i <= last; i++) {
      const x = v[i] as number;
      if (!Number.isFinite(x)) continue;
      if (Number.isFinite(prev)) {
        sum += increment(prev, x);
        counted = true;
      }
      prev = x;
    }
    if (counted) {
      out.value += sum;
      out.live++;
    } else if (Number.isFinite(cur) && !Number.isFinite(v[anchor] as number)) out.born++;
  }
  if (gap !== null) return { ...out, kind: 'gap', value: 0, live: 0, reason: gap };
  return out;
}

function describe(labels: Record<string, string>): string {
  const parts = Object.entries(labels)
    .filter(([k]) => k !== 'job')
    .map(([k, v]) => `${k}="${v}"`);
  return `{${parts.join(',')}}`;
}
