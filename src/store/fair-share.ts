// How many of the open watches one replica should hold: an even split, the remainder going one each to
// the first replicas by id, so that 4 watches over 3 replicas are 2/1/1 (a ceiling for everyone made it
// 2/2/0: the first two filled up and the third found nothing left).
export function fairShare(open: number, live: readonly string[], holder: string): number {
  const n = Math.max(1, live.length);
  const rank = live.indexOf(holder);
  const base = Math.floor(open / n);
  // Not in the list (a heartbeat not yet visible): the larger share, so nothing is left unheld.
  return base + (rank < 0 || rank < open % n ? 1 : 0);
}
