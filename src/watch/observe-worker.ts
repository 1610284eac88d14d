// The worker thread that reads ticks from Prometheus (worker-observer.ts starts it): the Prometheus client,
// gzip and JSON, the tick grids and each watch's cohorts, off the event loop that serves HTTP. It answers
// requests of plain data with the same functions the calling thread would run (observer.ts), over its own
// client built from the config, one query cache per tick. It keeps no watch state: killing it loses the
// tick it was reading, nothing else.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { prometheusFromConfig } from '../sources/prometheus-config.js';
import type { QueryOutcome } from '../sources/prometheus.js';
import { TickCache } from '../sources/tick-cache.js';
import { evaluationSettings } from './deploy-watch.js';
import { failureOf, observeTick, prepareWatch, type PrepareRequest, type TickRequest } from './observer.js';

export type WorkerRequest =
  | { op: 'observe'; seq: number; tick: number; reqs: TickRequest[] }
  | { op: 'prepare'; seq: number; tick: number; reqs: PrepareRequest[] }
  /** read these into the tick's cache, answering nothing (worker-observer.ts `warm`) */
  | { op: 'warm'; tick: number; reqs: TickRequest[] }
  | { op: 'end'; tick: number };

export interface WorkerReply {
  seq: number;
  answers: unknown[];
  /** the HTTP attempts since the last reply: [outcome, seconds] (the main thread keeps the metrics) */
  queries: [QueryOutcome, number][];
}

const port = parentPort;
if (!port) throw new Error('observe-worker.ts runs in a worker thread (worker-observer.ts starts it)');
const { config, nice } = workerData as { config: Config; nice: number };

// Reading yields the CPU to the thread that answers the gate: on Linux this thread (its own task id, from
// /proc/thread-self) runs at a lower priority, so on a busy machine a tick's burst of reading is what
// waits, not the pipelines' gate calls. Elsewhere, or when it is not allowed, nothing changes.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (nice > 0 && Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
} catch {
  /* not Linux: the same priority as the main thread */
}
const settings = evaluationSettings(config);
let queries: [QueryOutcome, number][] = [];
const source = prometheusFromConfig(config.metrics.prometheus, {
  onQuery: (outcome, seconds) => queries.push([outcome, seconds]),
});
/** one query cache per tick, dropped when the watcher says the tick is over (at most a few are open) */
const caches = new Map<number, TickCache>();
function cacheOf(tick: number): TickCache {
  let c = caches.get(tick);
  if (!c) {
    caches.set(tick, (c = new TickCache(source)));
    for (const old of caches.keys()) if (caches.size > 4 && old !== tick) caches.delete(old);
  }
  return c;
}

function reply(seq: number, answers: unknown[]): void {
  const r: WorkerReply = { seq, answers, queries };
  queries = [];
  port?.postMessage(r);
}

port.on('message', (m: WorkerRequest) => {
  if (m.op === 'end') {
    caches.delete(m.tick);
    return;
  }
  const cache = cacheOf(m.tick);
  if (m.op === 'warm') {
    for (const r of m.reqs) observeTick(cache, config, settings, r).catch(() => {});
    return;
  }
  if (m.op === 'observe')
    void Promise.all(
      m.reqs.map((r) => observeTick(cache, config, settings, r).then((observations) => ({ observations }), failureOf)),
    ).then((a) => reply(m.seq, a));
  else
    void Promise.all(m.reqs.map((r) => prepareWatch(cache, config, settings, r).catch(failureOf))).then((a) =>
      reply(m.seq, a),
    );
});
