// Watch state written in proportion to change (watch/tick-log.ts): per watch, the records of its ticks not yet
// in the store, and when its whole state is due again. After each tick the deploy service persists, for
// every open watch, either its new records (about a hundred bytes a tick) or, every CHECKPOINT_TICKS of its
// ticks (staggered across watches so the cost is spread), its whole state instead; then the records every
// open watch's checkpoint has superseded are dropped. A restart reads the checkpoints and replays the
// records after them (DeployService.restore).
//
// Restart guarantee: a watch's records and checkpoints are written in one transaction each, in order, and a
// record leaves memory only once its transaction committed (a failed write keeps it for the next tick), so
// a watch's persisted records always continue its checkpoint without a hole. A SIGKILL at any moment leaves
// every watch at its last committed tick; the ticks after it are judged again from the metric source, as
// before. Should a record ever not fit (a config changed under a stopped process), the watch resumes from
// its checkpoint and re-judges from the source: never from a wrong state.
import type { Store } from '../store/types.js';
import type { DeployWatch } from '../watch/deploy-watch.js';
import { serializeWatch } from '../watch/persist.js';
import { CHECKPOINT_TICKS, encodeRecord, type WatchRecord } from '../watch/tick-log.js';

interface Entry {
  /** records not yet committed, numbered in order */
  records: { n: number; at: number; text: string }[];
  next: number;
  /** records committed since the last checkpoint (the stagger starts it part-way) */
  since: number;
  /** the store's highest seq when this watch's last checkpoint committed: its records up to it are superseded */
  checkpointSeq: number;
  /** the state changed in a way no record carries: the next write is a checkpoint */
  full: boolean;
}

/** Watches per transaction: a tick of 10,000 watches is written in ten, with the event loop free between. */
const CHUNK = 1000;

/** A stable share of the checkpoint interval for a deploy id, so checkpoints spread over the ticks. */
function stagger(id: string, every: number): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return (h >>> 0) % every;
}

export class WatchLog {
  private readonly entries = new Map<string, Entry>();
  /** the highest seq the store reported */
  private lastSeq = 0;

  constructor(private readonly every = CHECKPOINT_TICKS) {}

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { records: [], next: 0, since: stagger(id, this.every), checkpointSeq: this.lastSeq, full: false };
      this.entries.set(id, e);
    }
    return e;
  }

  /** A tick changed the watch (watcher event `changed`). */
  changed(id: string, record: WatchRecord | null): void {
    const e = this.entry(id);
    if (record === null) e.full = true;
    else e.records.push({ n: e.next++, at: 't' in record ? record.t : record.at, text: encodeRecord(record) });
  }

  /** How many records exist so far: a whole state serialized now contains them. */
  mark(id: string): number {
    return this.entry(id).next;
  }

  /**
   * A whole state serialized at `mark` committed outside the log (registration, a stage, a decision): the
   * records it contains need not be written. Their rows already written stay until the periodic checkpoint.
   */
  saved(id: string, mark: number): void {
    const e = this.entry(id);
    e.records = e.records.filter((r) => r.n >= mark);
  }

  /** A restored watch: `replayed` records in the store after its checkpoint. */
  restored(id: string, replayed: number): void {
    const e = this.entry(id);
    e.since = Math.max(e.since, replayed);
    e.checkpointSeq = 0;
  }

  forget(id: string): void {
    this.entries.delete(id);
  }

  /** Forgets the watches no longer open (decided, ended). */
  prune(isOpen: (id: string) => boolean): void {
    for (const id of this.entries.keys()) if (!isOpen(id)) this.entries.delete(id);
  }

  /**
   * Writes what changed in these open watches: records, or the whole state when a checkpoint is due; then
   * drops the records superseded for every open watch. `exists(id)` says whether a watch's deploy row
   * exists (a phantom fails its checkpoint's foreign key: it is dropped, `dropped(id)`).
   */
  async persist(
    store: Store,
    open: readonly DeployWatch[],
    now: number,
    o: {
      /** the writing replica on a shared store: its writes are fenced by its heartbeat */
      holder?: string;
      isOpen(id: string): boolean;
      exists(id: string): Promise<boolean>;
      dropped(id: string): void;
      isFault(e: unknown): boolean;
    },
  ): Promise<void> {
    for (let i = 0; i < open.length; i += CHUNK) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      // A watch closed meanwhile (an override while the tick ran) is not written.
      const chunk = open.slice(i, i + CHUNK).filter((w) => o.isOpen(w.deploy.id));
      const last = i + CHUNK >= open.length;
      try {
        await this.write(store, chunk, now, last ? open : null, o.holder);
      } catch (err) {
        if (o.isFault(err)) throw err;
        const phantoms: string[] = [];
        for (const w of chunk) if (!(await o.exists(w.deploy.id))) phantoms.push(w.deploy.id);
        if (phantoms.length === 0) throw err;
        for (const id of phantoms) {
          this.forget(id);
          o.dropped(id);
        }
        await this.write(
          store,
          chunk.filter((w) => !phantoms.includes(w.deploy.id)),
          now,
          last ? open.filter((w) => !phantoms.includes(w.deploy.id)) : null,
          o.holder,
        );
      }
    }
  }

  private async write(
    store: Store,
    chunk: readonly DeployWatch[],
    now: number,
    all: readonly DeployWatch[] | null,
    holder: string | undefined,
  ): Promise<void> {
    const ticks: { deployId: string; at: number; record: string }[] = [];
    const checkpoints: { deployId: string; state: string }[] = [];
    const planned: { e: Entry; upTo: number; checkpoint: boolean; count: number }[] = [];
    for (const w of chunk) {
      const e = this.entry(w.deploy.id);
      const checkpoint = e.full || e.since + e.records.length >= this.every;
      if (!checkpoint && e.records.length === 0) continue;
      if (checkpoint) checkpoints.push({ deployId: w.deploy.id, state: serializeWatch(w) });
      else for (const r of e.records) ticks.push({ deployId: w.deploy.id, at: r.at, record: r.text });
      planned.push({ e, upTo: e.next, checkpoint, count: e.records.length });
    }
    let dropThrough: number | null = null;
    if (all) {
      dropThrough = Infinity;
      for (const w of all) dropThrough = Math.min(dropThrough, this.entry(w.deploy.id).checkpointSeq);
      if (!Number.isFinite(dropThrough) || dropThrough <= 0) dropThrough = null;
    }
    if (planned.length === 0 && dropThrough === null) return;
    const seq = await store.saveWatchTicks({
      ticks,
      checkpoints,
      dropThrough,
      now,
      ...(all ? { dropFor: all.map((w) => w.deploy.id) } : {}),
      ...(holder !== undefined ? { holder } : {}),
    });
    this.lastSeq = Math.max(this.lastSeq, seq);
    for (const p of planned) {
      p.e.records = p.e.records.filter((r) => r.n >= p.upTo);
      if (p.checkpoint) {
        p.e.since = 0;
        p.e.full = false;
        p.e.checkpointSeq = seq;
      } else p.e.since += p.count;
    }
  }
}
