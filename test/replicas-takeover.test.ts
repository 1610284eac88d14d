// A watch taken over resumes exactly: two replicas on one real PostgreSQL write each watch-tick as a record
// (watch/tick-log.ts), not the whole state; the holder stops (its heartbeat lapses), the other takes the
// watch from its checkpoint and the records after it, and its state is byte for byte the one the holder had,
// and, ticks later, the one of a replica that was never interrupted (same metrics, its own database).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeWatch } from '../src/watch/persist.js';
import { BASE_CONFIG, feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { startPostgres, type Postgres } from './support/postgres.js';

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
let server: Postgres;
const navs: TestNavigator[] = [];
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  for (const t of navs) await t.nav.close().catch(() => {});
  await server?.stop();
});

const CONFIG = BASE_CONFIG().replace(/watchFor: 5m/g, 'watchFor: 20m');
const IDS = ['x', 'y', 'z'];

async function replica(url: string): Promise<TestNavigator> {
  const t = await testNavigator({ storeUrl: url, start: START, config: CONFIG });
  navs.push(t);
  // Uneven, deterministic counts, so the judge's state differs from tick to tick.
  feedCanary(t.metrics, {
    service: 'checkout',
    from: START - 900,
    to: START + 1800,
    baseline: 'v1',
    canary: 'v2',
    perTick: 400,
    weight: 0.1,
    canaryFactor: (x) => 1 + 0.15 * Math.sin(x / 47),
  });
  return t;
}

async function register(t: TestNavigator, id: string): Promise<void> {
  const at = new Date(START * 1000).toISOString();
  const r = await t.nav.app.inject({
    method: 'POST',
    url: '/v1/deploys',
    headers: t.auth('ci-token'),
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

describe('a watch taken over by another replica', () => {
  it('resumes from its checkpoint and tick records to the byte, and writes records, not whole states', async () => {
    const url = await server.database();
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const [a, b] = [await replica(url), await replica(url)];
    const ref = await replica(await server.database()); // uninterrupted, alone on its own database
    for (const id of IDS) {
      await register(a, id);
      await register(ref, id);
    }
    const tick = async (n: TestNavigator, t: number) => {
      n.clock.now = t;
      await n.nav.service.tick(t);
    };
    let t = START;
    for (let i = 0; i < 2; i++) {
      t += 15;
      for (const n of [a, b, ref]) await tick(n, t);
    }
    const holder = a.nav.service.watcher.get('x') ? a : b;
    const other = holder === a ? b : a;
    expect(other.nav.service.watcher.get('x')).toBeUndefined();

    // Steady ticks: one record per held watch and tick; the whole states are not rewritten.
    const stateAt = async () =>
      (await db.query<{ deploy_id: string; updated_at: number }>('SELECT deploy_id, updated_at FROM watches')).rows;
    const count = async () => Number((await db.query('SELECT count(*) AS n FROM watch_ticks')).rows[0].n);
    const before = { states: await stateAt(), records: await count() };
    const steady = 5;
    for (let i = 0; i < steady; i++) {
      t += 15;
      for (const n of [a, b, ref]) await tick(n, t);
    }
    expect((await count()) - before.records).toBe(IDS.length * steady);
    expect((await stateAt()).sort((p, q) => p.deploy_id.localeCompare(q.deploy_id))).toEqual(
      before.states.sort((p, q) => p.deploy_id.localeCompare(q.deploy_id)),
    );
    // The other replica answers for the watch it does not judge with the holder's evidence, tick for tick.
    const seen = await other.nav.service.view('x');
    const own = await holder.nav.service.view('x');
    expect([seen.ticks, seen.lastTick, seen.verdicts]).toEqual([own.ticks, own.lastTick, own.verdicts]);
    expect(seen.ticks).toBeGreaterThanOrEqual(steady);
    const last = serializeWatch(holder.nav.service.watcher.get('x')!);
    const lastTick = holder.nav.service.watcher.get('x')!.lastTick;

    // The holder stops (as if killed: it never ticks again). Its heartbeat lapses after two ticks; the
    // other replica's lease round takes its watches and rebuilds them from the store alone.
    let rounds = 0;
    while (!other.nav.service.watcher.get('x')) {
      expect(++rounds).toBeLessThanOrEqual(3);
      t += 15;
      other.clock.now = t;
      await other.nav.service.syncLeases();
      await tick(ref, t);
    }
    const resumed = other.nav.service.watcher.get('x');
    expect(resumed?.lastTick).toBe(lastTick);
    expect(serializeWatch(resumed!)).toBe(last);

    // It catches up the missed ticks from the source and goes on: the same bytes as the uninterrupted run.
    for (let i = 0; i < 4; i++) {
      t += 15;
      await tick(other, t);
      await tick(ref, t);
    }
    for (const id of IDS) {
      const mine = other.nav.service.watcher.get(id);
      const theirs = ref.nav.service.watcher.get(id);
      expect(mine?.lastTick).toBe(t);
      expect(serializeWatch(mine!)).toBe(serializeWatch(theirs!));
    }
    await db.end();
  }, 120_000);
});
