// Reads ticks in a worker thread (observe-worker.ts) so the event loop that serves the gate only judges
// (see observer.ts for why the split is there). A worker that dies (an exception, out of memory, killed)
// fails the requests it had: their watches are blind for that tick (a SourceError: never judged, never
// passed), the death is logged as an error, and the next tick starts a new worker.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { QueryOutcome } from '../sources/prometheus.js';
import { SourceError } from '../sources/types.js';
import type { WorkerReply, WorkerRequest } from './observe-worker.js';
import type { Observer, ObserverTick, PrepareAnswer, TickAnswer, TickRequest } from './observer.js';

export interface WorkerObserverOptions {
  config: Config;
  onQuery?: (outcome: QueryOutcome, seconds: number) => void;
  log?: { error(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** the worker's heap limit, MB (a runaway worker dies and is restarted instead of growing) */
  heapMB?: number;
  /** the worker thread's nice value on Linux (default 5: below the thread serving HTTP; 0: the same) */
  nice?: number;
}

/** Request batches in the worker at once (the answers in flight are what a tick holds in memory). */
const WORKER_AHEAD = 8;

interface Pending {
  resolve(a: unknown[]): void;
  reject(e: Error): void;
}

/** The worker module next to this one: compiled JavaScript, or TypeScript under tsx and vitest. */
function workerScript(): { js: URL } | { ts: URL } {
  const js = new URL('./observe-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { js };
  return { ts: new URL('./observe-worker.ts', import.meta.url) };
}

export class WorkerObserver implements Observer {
  readonly batch = 100;
  /**
   * The watcher hands over a whole tick at once; the worker gets WORKER_AHEAD batches at a time (the
   * memory of the answers in flight stays that of a few batches), after one warm-up message that reads
   * every service's selectors together (see `warm` below).
   */
  readonly ahead = Number.POSITIVE_INFINITY;
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private ticks = 0;
  private closed = false;
  /** workers started (1 + restarts), for tests and logs */
  started = 0;

  constructor(private readonly o: WorkerObserverOptions) {}

  /** requests the worker has not answered yet */
  get inFlight(): number {
    return this.pending.size;
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const script = workerScript();
    const options = {
      workerData: { config: this.o.config, nice: this.o.nice ?? 5 },
      resourceLimits: { maxOldGenerationSizeMb: this.o.heapMB ?? 192 },
    };
    // A worker cannot load TypeScript by itself: under tsx or vitest it registers tsx first.
    const w =
      'js' in script
        ? new Worker(script.js, options)
        : new Worker(
            `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(script.ts.href)}); })`,
            { ...options, eval: true },
          );
    this.started++;
    w.unref();
    w.on('message', (r: WorkerReply) => {
      for (const [outcome, seconds] of r.queries) this.o.onQuery?.(outcome, seconds);
      const p = this.pending.get(r.seq);
      if (!p) return;
      this.pending.delete(r.seq);
      p.resolve(r.answers);
    });
    const died = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      const err = new SourceError(
        `the observation worker stopped (${why}): this tick's watches are blind; a new worker reads the next tick`,
        'worker',
      );
      if (!this.closed) this.o.log?.error({ err: err.message, pending: this.pending.size }, err.message);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', (e) => died(e.message));
    w.on('exit', (code) => died(`exit code ${code}`));
    this.worker = w;
    return w;
  }

  private ask(m: { op: 'observe' | 'prepare'; tick: number; reqs: unknown[] }): Promise<unknown[]> {
    if (this.closed) return Promise.reject(new SourceError('the observation worker is stopped', 'worker'));
    const w = this.spawn();
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      w.ref(); // a request in flight keeps the process up; an idle worker does not
      w.postMessage({ ...m, seq });
    }).finally(() => {
      if (this.pending.size === 0) this.worker?.unref();
    }) as Promise<unknown[]>;
  }

  begin(): ObserverTick {
    const tick = ++this.ticks;
    const queue: { reqs: TickRequest[]; done(p: Promise<unknown[]>): void }[] = [];
    let active = 0;
    let warming = false;
    const pump = () => {
      while (active < WORKER_AHEAD && queue.length) {
        const next = queue.shift() as (typeof queue)[number];
        active++;
        const p = this.ask({ op: 'observe', tick, reqs: next.reqs });
        next.done(p);
        void p.then(
          () => (active--, pump()),
          () => (active--, pump()),
        );
      }
    };
    return {
      observe: (reqs) =>
        new Promise<unknown[]>((resolve, reject) => {
          queue.push({ reqs, done: (p) => void p.then(resolve, reject) });
          // The batches the watcher hands over in one go (a whole tick) are warmed up together, once.
          if (!warming) {
            warming = true;
            queueMicrotask(() => {
              warming = false;
              this.warm(
                tick,
                queue.flatMap((q) => q.reqs),
              );
              pump();
            });
          }
        }) as Promise<TickAnswer[]>,
      prepare: async (reqs) => (await this.ask({ op: 'prepare', tick, reqs })) as PrepareAnswer[],
      end: () => this.worker?.postMessage({ op: 'end', tick } satisfies WorkerRequest),
    };
  }

  /**
   * Reads one request per distinct read (service, tick end, signals and their anchors: the watches of a
   * service differ only in the versions they pick from the same answers) before the requests themselves, in
   * one message: the worker asks their selectors in the same few milliseconds, so its Prometheus client
   * batches them across services (prometheus-batch.ts: one query per metric instead of one per service),
   * and the requests that follow, a few batches at a time, find the answers in the tick's cache. The
   * warm-up's own answers are dropped (a failure is the tick's cache's, seen again by each request).
   */
  private warm(tick: number, reqs: TickRequest[]): void {
    if (this.closed || reqs.length === 0) return;
    const seen = new Map<string, TickRequest>();
    for (const r of reqs) {
      const key = JSON.stringify([r.service, r.t, r.signals]);
      if (!seen.has(key)) seen.set(key, r);
    }
    this.spawn().postMessage({ op: 'warm', tick, reqs: [...seen.values()] } satisfies WorkerRequest);
  }

  /** Stops the worker now, as a crash would (tests of the crash path; also `close`). */
  async kill(): Promise<void> {
    const w = this.worker;
    if (w) await w.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.kill();
  }
}
