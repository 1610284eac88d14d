// A replica partitioned from its database by a black hole (test/support/tcp-proxy.ts `stall`: connections
// stay open, nothing gets through, queries hang), not a reset: its tick hangs in the lease round and
// judges nothing; its heartbeat lapses and the other replica takes its watches within three ticks. When the
// path comes back while its tick is still waiting, the held statements arrive late: the lease round finds
// its heartbeat gone (declared dead), so it judges and records nothing from its stale copies, and the
// watches it gets back later are rebuilt from the store, byte for byte the state their last holder had.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeWatch } from '../src/watch/persist.js';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { startPostgres, type Postgres } from './support/postgres.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
let server: Postgres;
let proxy: TcpProxy;
const navs: TestNavigator[] = [];
beforeAll(async () => {
  server = await startPostgres();
  proxy = await tcpProxy(server.port);
});
afterAll(async () => {
  for (const t of navs) await t.nav.close().catch(() => {});
  await proxy?.close();
  await server?.stop();
});

const IDS = ['p-1', 'p-2', 'p-3', 'p-4'];

describe('a replica behind a black hole', () => {
  it('stops judging, loses its watches to the other replica, and never records from its stale copies', async () => {
    const url = await server.database();
    const make = async (u: string) => {
      const t = await testNavigator({ storeUrl: u, start: START });
      navs.push(t);
      feedCanary(t.metrics, {
        service: 'checkout',
        from: START - 900,
        to: START + 900,
        baseline: 'v1',
        canary: 'v2',
        perTick: 300,
        weight: 0.1,
        canaryFactor: (x) => 1 + 0.1 * Math.sin(x / 31),
      });
      return t;
    };
    const a = await make(url);
    const c = await make(url.replace(`:${server.port}/`, `:${proxy.port}/`));
    for (const id of IDS) {
      const at = new Date(START * 1000).toISOString();
      const r = await a.nav.app.inject({
        method: 'POST',
        url: '/v1/deploys',
        headers: a.auth('ci-token'),
        payload: {
          id,
          service: 'checkout',
          version: 'v2',
          baselineVersion: 'v1',
          startedAt: at,
          stages: [{ at, weight: 0.1 }],
        },
      });
      expect(r.statusCode).toBe(201);
    }
    const held = (n: TestNavigator) => n.nav.service.watcher.watches().map((w) => w.deploy.id);
    const at = (n: TestNavigator, t: number) => {
      n.clock.now = t;
      return n.nav.service.tick(t);
    };
    let t = START;
    for (let i = 0; i < 3; i++) {
      t += 15;
      await at(a, t);
      await at(c, t);
    }
    expect([held(a).length, held(c).length]).toEqual([2, 2]);
    const cHad = new Map(c.nav.service.watcher.watches().map((w) => [w.deploy.id, w.lastTick]));

    // The black hole: c's next tick hangs in its lease round.
    proxy.stall();
    t += 15;
    let settled: 'pending' | 'resolved' | 'rejected' = 'pending';
    const stuck = at(c, t).then(
      () => (settled = 'resolved'),
      () => (settled = 'rejected'),
    );
    const stallAt = t;
    let ticks = 0;
    while (held(a).length < IDS.length) {
      expect(++ticks).toBeLessThanOrEqual(3);
      await at(a, (t += 15));
    }
    await at(a, (t += 15));
    expect(settled).toBe('pending'); // still waiting on the black hole, judging nothing

    // The path comes back while c's tick still waits: its held statements arrive with the old time.
    proxy.heal();
    await stuck;
    // Nothing judged from the stale copies: whatever c had is closed, and no watch moved past the stall.
    for (const w of c.nav.service.watcher.watches()) expect(w.lastTick ?? 0).toBeLessThanOrEqual(stallAt - 15);
    for (const [id, last] of cHad) {
      const w = c.nav.service.watcher.get(id);
      if (w) expect(w.lastTick).toBe(last);
    }
    // The store still has a's states: a's ticks are the only ones recorded (c's view replays them).
    for (const id of IDS) {
      const v = await c.nav.service.view(id);
      expect(v.lastTick).toBe(new Date(t * 1000).toISOString());
    }

    // Back in the rotation: the split returns, and what c takes is rebuilt from the store, not its memory:
    // the state a had when it handed the watch over.
    const last = new Map<string, string>();
    let rounds = 0;
    for (;;) {
      expect(++rounds).toBeLessThanOrEqual(4);
      t += 15;
      c.clock.now = t;
      await c.nav.service.syncLeases();
      if (held(c).length === 2) break;
      for (const w of a.nav.service.watcher.watches()) last.set(w.deploy.id, serializeWatch(w));
      await at(a, t);
    }
    for (const id of held(c)) {
      const w = c.nav.service.watcher.get(id)!;
      expect(w.lastTick).toBeGreaterThan(stallAt);
      expect(serializeWatch(w)).toBe(last.get(id));
    }
  }, 120_000);
});
