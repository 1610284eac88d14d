// Ticks read in a worker thread (src/watch/worker-observer.ts) against a real Prometheus scraping a real
// storefront: the watches' states, decisions and evidence are byte-for-byte those of the same ticks read on
// the calling thread, and a worker that dies mid-tick leaves its watches blind (never judged on nothing,
// never passed), says so in the log, and the next tick reads with a new worker.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildNavigator, type Navigator } from '../src/app.js';
import { parseConfig } from '../src/config/load.js';
import { blindness } from '../src/watch/deploy-watch.js';
import { serializeWatch } from '../src/watch/persist.js';
import { WorkerObserver } from '../src/watch/worker-observer.js';
import { Processes, freePort, waitUntil } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';

const procs = new Processes();
const navs: Navigator[] = [];
afterAll(async () => {
  for (const n of navs) await n.close();
  await procs.stopAll();
});

const STEP = 2;
const ADMIN = { name: 'ci', role: 'admin' as const };

async function setUp() {
  const shop = await freePort();
  procs.storefront(shop);
  await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
  // v2 collapses (orders -99%), v3 is as good as v1
  await fetch(`http://127.0.0.1:${shop}/control`, {
    method: 'POST',
    body: JSON.stringify({ weights: { v1: 0.6, v2: 0.2, v3: 0.2 }, behaviour: { v2: { orders: 0.01 } } }),
  });
  const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] });
  return prom.url;
}

function config(url: string) {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-worker-'));
  return parseConfig(
    `metrics: { source: prometheus, prometheus: { url: "${url}", timeout: 5s } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: ${STEP}s }
services:
  checkout:
    watchFor: 10m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: {} }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { code: "5.." } }
        denominator: { metric: http_requests_total, matchers: {} }
`,
    join(dir, 'navigator.yaml'),
  );
}

async function navigatorAt(url: string, now: number, observeInWorker: boolean) {
  const nav = await buildNavigator({ config: config(url), now: () => now, observeInWorker });
  navs.push(nav);
  const decisions: string[] = [];
  nav.service.onDecision((d, e) => {
    decisions.push(
      JSON.stringify({ id: d.id, status: e.status, reason: e.reason, watch: e.watch && serializeWatch(e.watch) }),
    );
  });
  for (const [id, version] of [
    ['bad', 'v2'],
    ['good', 'v3'],
  ] as const)
    await nav.service.register(
      {
        id,
        service: 'checkout',
        version,
        baselineVersion: 'v1',
        strategy: 'canary',
        startedAt: new Date((now - 24) * 1000).toISOString(),
        stages: [{ at: new Date((now - 24) * 1000).toISOString(), weight: 0.2 }],
      },
      ADMIN,
    );
  return { nav, decisions };
}

describe('reading ticks in a worker thread', () => {
  let url = '';

  it('judges exactly as on the calling thread: the same states, decisions and evidence', async () => {
    url = await setUp();
    await new Promise((r) => setTimeout(r, 30_000)); // 30 s of scrapes: the deploys start 24 s back
    const now = Math.floor(Date.now() / 1000 / STEP) * STEP - 2;
    const inWorker = await navigatorAt(url, now, true);
    const onThread = await navigatorAt(url, now, false);
    expect(inWorker.nav.service.watcher.observer).toBeInstanceOf(WorkerObserver);
    expect(onThread.nav.service.watcher.observer).not.toBeInstanceOf(WorkerObserver);
    const first = inWorker.nav.service.watcher.get('good')!.firstTick;
    let compared = 0;
    for (let t = first; t <= now - 2; t += STEP) {
      await inWorker.nav.service.tick(t);
      await onThread.nav.service.tick(t);
      for (const id of ['bad', 'good']) {
        const a = inWorker.nav.service.watcher.get(id);
        const b = onThread.nav.service.watcher.get(id);
        expect(a === undefined).toBe(b === undefined);
        if (a && b) {
          expect(serializeWatch(a)).toBe(serializeWatch(b));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(5);
    // the collapse is halted, the good canary still watched and seeing, the same way in both
    expect(inWorker.decisions).toHaveLength(1);
    expect(inWorker.decisions[0]).toContain('"status":"halted"');
    expect(inWorker.decisions).toEqual(onThread.decisions);
    const good = inWorker.nav.service.watcher.get('good')!;
    expect(good.lastTick).toBe(now - 2 - ((now - 2 - first) % STEP));
    expect(blindness(good).blind).toBe(false);
  }, 120_000);

  it('a worker that dies mid-tick leaves its watches blind, says so, and the next tick reads with a new worker', async () => {
    const now = Math.floor(Date.now() / 1000 / STEP) * STEP - 2;
    const errors: string[] = [];
    const nav = await buildNavigator({
      config: config(url),
      now: () => now,
      log: { info() {}, warn() {}, error: (_o, msg) => errors.push(msg) },
    });
    navs.push(nav);
    await nav.service.register(
      {
        id: 'w-1',
        service: 'checkout',
        version: 'v3',
        baselineVersion: 'v1',
        strategy: 'canary',
        startedAt: new Date((now - 10) * 1000).toISOString(),
        stages: [{ at: new Date((now - 10) * 1000).toISOString(), weight: 0.2 }],
      },
      ADMIN,
    );
    const watcher = nav.service.watcher;
    const observer = watcher.observer as WorkerObserver;
    const w = watcher.get('w-1')!;
    const t1 = w.firstTick;
    await watcher.tick(t1);
    expect(w.lastTick).toBe(t1);
    expect(observer.started).toBe(1);

    // killed while it reads the next tick
    const ticking = watcher.tick(t1 + STEP);
    for (let i = 0; observer.inFlight === 0; i++) {
      if (i > 100_000) throw new Error('the tick never asked the worker');
      await new Promise((r) => setImmediate(r));
    }
    await observer.kill();
    await ticking;
    expect(w.status).toBe('watching');
    expect(w.lastTick).toBe(t1); // nothing judged on what was not read
    expect(w.sourceError).toMatch(/observation worker stopped/);
    expect(blindness(w).blind).toBe(true);
    expect(errors.some((m) => /observation worker stopped/.test(m))).toBe(true);

    await watcher.tick(t1 + STEP);
    expect(observer.started).toBe(2);
    expect(w.lastTick).toBe(t1 + STEP);
    expect(w.sourceError).toBeNull();
    expect(blindness(w).blind).toBe(false);
  }, 60_000);
});
