// What each signal of a watch has seen (design §8 "seeing is data"), tick by tick, and the pass rule that
// depends on it. Plain JSON state inside the persisted watch, so a restart resumes it.
//
// Each tick of a signal is one of:
// - seen: its counts are known (for the ticks since the anchor: a gap's events arrive once, here);
// - absent: seen, and the new version's series are gone while their targets were scraped: zero events;
// - gap: unknown for now (no sample in the tick yet), carried until the counter is seen again; a gap longer
//   than MAX_GAP_SECONDS becomes blind;
// - blind: the source failed (a scrape failed or answered 503, Prometheus did not answer, said the target
//   is down, or answered partially), or Navigator was not running and the source cannot recover the tick.
//
// The pass rule: a deploy passes only when every signal
// - saw its final ticks: the run of ticks covered by observations ending at the last tick spans at least
//   FINAL_WINDOW_SECONDS (and two ticks), and
// - saw most of the watch: ticks covered by observations add up to at least SEEN_SHARE of `watchFor`,
// besides having had enough data to catch a collapse. Otherwise the deploy stays `watching` (blind while it
// is blind, paged after `paging.blindAfter`).

/** A gap longer than this is blind: it covers the slowest scrape interval supported (2 min) with jitter. */
export const MAX_GAP_SECONDS = 150;
/** The final stretch of the watch that every signal must have seen before a pass. */
export const FINAL_WINDOW_SECONDS = 30;
/** The share of `watchFor` every signal must have seen before a pass. */
export const SEEN_SHARE = 0.8;

export type ObservationKind = 'seen' | 'absent' | 'gap' | 'blind';

export interface SeeingState {
  /** end of the last tick whose counter values were known: the next observation counts from here */
  anchor: number | null;
  /** gap ticks since the anchor, and the sum of their canary weights */
  pending: number;
  pendingWeight: number;
  /** ticks covered by counted observations (seen or absent), ticks blind, ticks that were gaps */
  seenTicks: number;
  blindTicks: number;
  gapTicks: number;
  /** consecutive ticks covered by observations, ending at the last counted tick (pending gaps not yet in) */
  run: number;
  last: ObservationKind | null;
  /** start of the current blind stretch (null: not blind) and why */
  blindSince: number | null;
  reason: string | null;
}

export function newSeeing(): SeeingState {
  return {
    anchor: null,
    pending: 0,
    pendingWeight: 0,
    seenTicks: 0,
    blindTicks: 0,
    gapTicks: 0,
    run: 0,
    last: null,
    blindSince: null,
    reason: null,
  };
}

/** A blind tick at t: pending gap ticks are lost with it; counting restarts from the next tick seen. */
export function markBlind(st: SeeingState, t: number, step: number, reason: string): void {
  if (st.blindSince === null) st.blindSince = t - (st.pending + 1) * step;
  st.blindTicks += 1 + st.pending;
  st.gapTicks -= st.pending;
  st.pending = 0;
  st.pendingWeight = 0;
  st.anchor = null;
  st.run = 0;
  st.last = 'blind';
  st.reason = reason;
}

/** A gap tick: carried. Returns false when the gap has become too long (the caller marks it blind). */
export function markGap(
  st: SeeingState,
  t: number,
  step: number,
  weight: number,
  restart: boolean,
  reason: string,
): boolean {
  // The run is kept: a gap's ticks join it when the counter is seen again (unseen() wants no gap pending).
  st.last = 'gap';
  st.reason = reason;
  if (restart) {
    // Counting starts from this tick's samples: nothing to carry, and this tick is not covered.
    st.run = 0;
    st.anchor = t;
    st.pending = 0;
    st.pendingWeight = 0;
    st.blindSince = null;
    return true;
  }
  if ((st.pending + 1) * step > Math.max(MAX_GAP_SECONDS, 2 * step)) return false;
  st.pending++;
  st.pendingWeight += weight;
  st.gapTicks++;
  return true;
}

/** A counted tick: returns the span it covers and the canary weight averaged over it. */
export function markSeen(
  st: SeeingState,
  t: number,
  weight: number,
  absent: boolean,
): { span: number; weight: number } {
  const span = st.pending + 1;
  const w = (st.pendingWeight + weight) / span;
  st.seenTicks += span;
  st.run += span;
  st.pending = 0;
  st.pendingWeight = 0;
  st.anchor = t;
  st.last = absent ? 'absent' : 'seen';
  st.blindSince = null;
  st.reason = null;
  return { span, weight: w };
}

/** Why a signal may not pass yet for lack of seeing (null: it saw enough). */
export function unseen(st: SeeingState, step: number, watchSeconds: number): string | null {
  const final = Math.max(2 * step, FINAL_WINDOW_SECONDS);
  const need = Math.ceil((SEEN_SHARE * watchSeconds) / step);
  if (st.pending > 0) return 'its last tick is a gap (no sample yet)';
  if (st.run * step < final) return `its last ${final}s are not all seen yet`;
  if (st.seenTicks < need) return `saw ${st.seenTicks} of the ${need} ticks it needs`;
  return null;
}
