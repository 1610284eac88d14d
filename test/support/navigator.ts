// An in-process Navigator for API tests: a real SQLite file, a MemoryStore as the metric source that the
// test fills, and a clock the test moves.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildNavigator, type Navigator } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/sources/memory-store.js';

export const BASE_CONFIG = (extra = '') => `
evaluation: { interval: 15s }
auth:
  tokens:
    - { name: ci, role: pipeline, token: ci-token }
    - { name: alice, role: approver, token: alice-token }
    - { name: bob, role: approver, token: bob-token }
    - { name: dev-a, role: approver, token: dev-a-token }
    - { name: root, role: admin, token: admin-token }
server: { listen: "127.0.0.1:0" }
services:
  checkout:
    watchFor: 5m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
  payments:
    tier: critical
    watchFor: 5m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: payments } }
${extra}
`;

export interface TestNavigator {
  nav: Navigator;
  metrics: MemoryStore;
  clock: { now: number };
  storePath: string;
  auth: (token: string) => { authorization: string };
}

export async function testNavigator(
  o: {
    config?: string;
    storePath?: string;
    /** postgres://... : a replica on a shared store instead of a SQLite file */
    storeUrl?: string;
    start?: number;
    fetch?: typeof fetch;
    log?: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  } = {},
): Promise<TestNavigator> {
  const storePath = o.storePath ?? join(mkdtempSync(join(tmpdir(), 'navigator-api-')), 'navigator.db');
  const store = o.storeUrl ? `url: "${o.storeUrl}"` : `path: "${storePath}"`;
  const config = parseConfig(`${o.config ?? BASE_CONFIG()}\nstore: { ${store} }\n`, 'test.yaml', {});
  const metrics = new MemoryStore();
  const clock = { now: o.start ?? Date.parse('2025-11-27T10:00:00Z') / 1000 };
  const nav = await buildNavigator({
    config,
    source: metrics,
    now: () => clock.now,
    ...(o.fetch ? { fetch: o.fetch } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  return { nav, metrics, clock, storePath, auth: (token) => ({ authorization: `Bearer ${token}` }) };
}

/** Fills counters for a canary: per-tick events for baseline and canary at 15 s samples. */
export function feedCanary(
  m: MemoryStore,
  o: {
    service: string;
    from: number;
    to: number;
    baseline: string;
    canary: string;
    perTick: number;
    weight: number;
    canaryFactor: (t: number) => number;
  },
): void {
  let b = 0;
  let c = 0;
  for (let t = o.from; t <= o.to; t += 15) {
    b += Math.round(o.perTick * (1 - o.weight));
    c += Math.round(o.perTick * o.weight * o.canaryFactor(t));
    m.append('orders_total', { service: o.service, version: o.baseline }, t, b);
    m.append('orders_total', { service: o.service, version: o.canary }, t, c);
  }
}
