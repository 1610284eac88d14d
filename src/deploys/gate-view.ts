// The gate's in-memory view: each deploy's status and reason, so `GET /v1/deploys/{id}/gate` (polled by every
// pipeline, thousands of times a second in total) answers from memory instead of reading the store, whose
// deploy row carries the judge's whole state. The view is kept current by decisions: every write of a deploy
// row through the store this service holds forgets that deploy's entry, at the write and again when the
// enclosing transaction ends (committed or not, so a reader that refilled the entry meanwhile from the
// old row is not believed); the next gate reads the row once more. Entries also expire after `ttl`
// seconds, which bounds how stale a view can be when another replica (several `navigator serve` on one
// PostgreSQL store) decided the deploy. With the store's change feed live (PostgreSQL's LISTEN/NOTIFY,
// store/postgres.ts subscribeDeploys) every other replica's change forgets the entry too, so entries are
// believed until forgotten, as in one process; a read during which any change was announced answers its gate
// but is not kept (it may predate the change), and each time the feed goes up or down everything is forgotten.
import type { DeployRow, Store } from '../store/types.js';

export interface GateEntry {
  status: string;
  reason: string;
  /** when it was read (epoch seconds, the view's clock) */
  at: number;
}

const MAX_ENTRIES = 100_000;

export class GateView {
  private readonly entries = new Map<string, GateEntry>();
  /** reads of the same deploy in flight, shared (a thousand gates of one deploy read its row once) */
  private readonly reading = new Map<string, Promise<GateEntry>>();
  /** the change feed is up: entries need no expiry */
  private live = false;
  /** forgets so far: a read that saw this number change may predate a change */
  private changes = 0;

  constructor(
    private readonly now: () => number,
    private readonly ttl = 1,
  ) {}

  /** The entry for id if fresh; else undefined (the caller reads the row and calls `remember`). */
  get(id: string): GateEntry | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    const t = this.now();
    if ((!this.live && t - e.at > this.ttl) || t < e.at) {
      this.entries.delete(id);
      return undefined;
    }
    return e;
  }

  remember(row: Pick<DeployRow, 'id' | 'status' | 'reason'>): GateEntry {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const e: GateEntry = { status: row.status, reason: row.reason, at: this.now() };
    this.entries.set(row.id, e);
    return e;
  }

  /** The entry, from memory or read once by `read` however many gates ask at the same time. */
  async entry(id: string, read: () => Promise<Pick<DeployRow, 'status' | 'reason'>>): Promise<GateEntry> {
    const e = this.get(id);
    if (e) return e;
    let p = this.reading.get(id);
    if (!p) {
      const before = this.changes;
      const q: Promise<GateEntry> = read()
        .then((row) => {
          // A change was announced while reading: this answer may predate it, so it is not kept.
          if (this.changes !== before) return { status: row.status, reason: row.reason, at: this.now() };
          return this.remember({ id, status: row.status, reason: row.reason });
        })
        .finally(() => {
          if (this.reading.get(id) === q) this.reading.delete(id);
        });
      this.reading.set(id, (p = q));
    }
    return p;
  }

  forget(id: string): void {
    this.changes++;
    this.entries.delete(id);
    // a read in flight may have started before this change: the next gate starts its own
    this.reading.delete(id);
  }

  /** The store's change feed went up or down: what was cached may have missed changes either way. */
  feed(live: boolean): void {
    this.changes++;
    this.entries.clear();
    this.reading.clear();
    this.live = live;
  }

  /**
   * The store as the deploy service uses it: the same object, except that writes of deploy rows
   * (insertDeploy, updateDeploy) forget the deploy's entry, at once and when the outermost transaction
   * around them ends.
   */
  watching<S extends Store>(store: S): S {
    // Ids written while a transaction runs. Transactions of an asynchronous store overlap (requests run
    // concurrently), so this is one set for all of them, forgotten again as each ends and cleared once none
    // runs: forgetting an entry too many is only a read of the row.
    const written = new Set<string>();
    let depth = 0;
    const forget = (id: string) => {
      this.forget(id);
      if (depth > 0) written.add(id);
    };
    const finish = () => {
      depth--;
      for (const id of written) this.forget(id);
      if (depth === 0 || written.size > 10_000) written.clear();
    };
    const bound = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        let f = bound.get(prop);
        if (f) return f;
        const fn = value as (...a: unknown[]) => unknown;
        if (prop === 'insertDeploy')
          f = (row: { id: string }, ...rest: unknown[]) => {
            forget(row.id);
            return fn.call(target, row, ...rest);
          };
        else if (prop === 'updateDeploy')
          f = (id: string, ...rest: unknown[]) => {
            forget(id);
            return fn.call(target, id, ...rest);
          };
        else if (prop === 'transaction')
          f = (body: unknown) => {
            depth++;
            let result: unknown;
            try {
              result = fn.call(target, body);
            } catch (e) {
              finish();
              throw e;
            }
            // An asynchronous store's transaction ends when its promise settles.
            if (result instanceof Promise) return result.finally(finish);
            finish();
            return result;
          };
        else f = fn.bind(target);
        bound.set(prop, f);
        return f;
      },
    });
  }
}
