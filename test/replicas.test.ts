// Several replicas on one real PostgreSQL, in one process with a clock the test moves (the cross-process
// chaos test is test/replicas-chaos.test.ts): each open watch judged by exactly one replica per tick, a
// fair share each, a dead replica's watches resumed by the others from their persisted state within three
// ticks, the collapse halted once, and a replica cut off from the database judging nothing (its leases
// lapse and the others take over) until it is back, when it gives up what it lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../src/audit/verify.js';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { startPostgres, type Postgres } from './support/postgres.js';
import { tcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
const COLLAPSE = START + 150;
let pg: Postgres;
let proxy: TcpProxy;
const navs: TestNavigator[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  proxy = await tcpProxy(pg.port);
});
afterAll(async () => {
  for (const t of navs) await t.nav.close().catch(() => {});
  await proxy?.close();
  await pg?.stop();
});

const deploys = ['g-1', 'g-2', 'g-3', 'g-4', 'g-5', 'bad'];

describe('replicas on one PostgreSQL', () => {
  it('share the watches, hand over a dead one, halt once, and a partitioned one stops judging', async () => {
    const url = await pg.database();
    const viaProxy = url.replace(`:${pg.port}/`, `:${proxy.port}/`);
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
        canaryFactor: () => 1,
      });
      feedCanary(t.metrics, {
        service: 'payments',
        from: START - 900,
        to: START + 900,
        baseline: 'v1',
        canary: 'v2',
        perTick: 300,
        weight: 0.1,
        canaryFactor: (x) => (x > COLLAPSE ? 0.01 : 1),
      });
      return t;
    };
    const [a, b, c] = [await make(url), await make(url), await make(viaProxy)];
    for (const id of deploys) {
      const r = await a.nav.app.inject({
        method: 'POST',
        url: '/v1/deploys',
        headers: a.auth('ci-token'),
        payload: {
          id,
          service: id === 'bad' ? 'payments' : 'checkout',
          version: 'v2',
          baselineVersion: 'v1',
          startedAt: new Date(START * 1000).toISOString(),
          stages: [{ at: new Date(START * 1000).toISOString(), weight: 0.1 }],
        },
      });
      expect(r.statusCode).toBe(201);
    }
    // Every replica answers the gate from the shared state.
    expect((await c.nav.app.inject({ url: '/v1/deploys/bad/gate', headers: c.auth('ci-token') })).statusCode).toBe(423);

    const judged = new Map<string, string[]>(); // `${deploy}@${tick}` -> replicas that judged it
    const tick = async (live: TestNavigator[], t: number) => {
      for (const n of live) {
        n.clock.now = t;
        const before = new Map(n.nav.service.watcher.watches().map((w) => [w.deploy.id, w.lastTick]));
        try {
          await n.nav.service.tick(t);
        } catch {
          continue; // cut off from the database: nothing recorded
        }
        for (const w of n.nav.service.watcher.watches())
          if (w.lastTick !== before.get(w.deploy.id) && w.lastTick !== null) {
            const k = `${w.deploy.id}@${w.lastTick}`;
            judged.set(k, [...(judged.get(k) ?? []), n === a ? 'a' : n === b ? 'b' : 'c']);
          }
      }
    };
    const held = (n: TestNavigator) => n.nav.service.watcher.watches().map((w) => w.deploy.id);

    let t = START;
    for (let i = 0; i < 3; i++) await tick([a, b, c], (t += 15));
    expect([held(a).length, held(b).length, held(c).length]).toEqual([2, 2, 2]);
    expect(new Set([...held(a), ...held(b), ...held(c)]).size).toBe(6);

    // b dies (never closed, never ticks again): its watches move within three ticks.
    const orphans = held(b);
    for (let i = 0; i < 3; i++) await tick([a, c], (t += 15));
    expect([...held(a), ...held(c)].sort()).toEqual([...deploys].sort());
    expect(orphans.every((id) => held(a).includes(id) || held(c).includes(id))).toBe(true);

    // c is cut off from the database: it judges nothing; a takes its watches once c's leases lapse.
    proxy.cut();
    const cutAt = t;
    for (let i = 0; i < 4; i++) await tick([a, c], (t += 15));
    expect(t).toBeLessThanOrEqual(COLLAPSE); // nothing decided yet: all six are open, all now a's
    expect(held(a).sort()).toEqual([...deploys].sort());
    const cJudgedWhileCut = [...judged.entries()].filter(
      ([k, who]) => who.includes('c') && Number(k.split('@')[1]) > cutAt,
    );
    expect(cJudgedWhileCut).toEqual([]);
    const ready = await c.nav.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().store.writable).toBe(false);

    // Back: c sees it lost its watches and drops them; a keeps judging; the collapse is halted once.
    proxy.heal();
    for (let i = 0; i < 8; i++) await tick([a, c], (t += 15));
    const status = await c.nav.service.view('bad');
    expect(status.status).toBe('halted');
    expect((await b.nav.app.inject({ url: '/v1/deploys/bad/gate', headers: b.auth('ci-token') })).statusCode).toBe(409);
    const audit = await a.nav.store.audit(0, 10_000);
    expect(audit.filter((e) => e.action === 'halt' && e.deploy_id === 'bad')).toHaveLength(1);
    expect(verifyAuditChain(audit).ok).toBe(true);
    // No watch was judged twice in a tick, by two replicas.
    const twice = [...judged.entries()].filter(([, who]) => new Set(who).size > 1);
    expect(twice).toEqual([]);
    expect(held(a).length + held(c).length).toBe(5); // the halted one is nobody's
    const m = await (await a.nav.app.inject({ url: '/metrics' })).body;
    expect(m).toMatch(/navigator_watches_held\{replica="[^"]+"\} \d/);
  });
});
