// Which transaction a call belongs to. Store calls made inside `transaction(fn)` join it without a handle
// being passed down (the audit sink and the decision listeners write through the same store object):
// AsyncLocalStorage carries the open transaction along fn's awaits, and only while it is open.
import { AsyncLocalStorage } from 'node:async_hooks';

/** One open outermost transaction of one store. */
export interface TxFrame<C = unknown> {
  owner: object;
  open: boolean;
  /** savepoints handed out so far (names stay unique within the transaction) */
  savepoints: number;
  /** the engine's connection for it (PostgreSQL: the pooled client) */
  conn: C;
}

const als = new AsyncLocalStorage<TxFrame>();

/** The transaction of `owner` the caller runs in, if one is open. */
export function currentTx<C>(owner: object): TxFrame<C> | undefined {
  const f = als.getStore();
  return f && f.owner === owner && f.open ? (f as TxFrame<C>) : undefined;
}

export function runInTx<T>(frame: TxFrame, fn: () => Promise<T>): Promise<T> {
  return als.run(frame, fn);
}

/**
 * Runs fn outside any transaction: background work started inside one (waking a delivery worker) must
 * neither join it nor wait for it.
 */
export function detached<T>(fn: () => T): T {
  return als.exit(fn);
}

/** A FIFO lock: SQLite has one connection, so an open transaction excludes every other statement. */
export class Mutex {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  get locked(): boolean {
    return this.held;
  }

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}
