// The gate across replicas on a real PostgreSQL: each replica's gate view is kept current by the store's
// change feed (migration 43's trigger, LISTEN/NOTIFY; store/postgres.ts subscribeDeploys), not by re-reading
// every polled deploy each second. What is announced is exactly what committed and changed a gate's answer;
// a killed feed connection is noticed and comes back; and a replica's gate sees another replica's halt
// without its clock moving (so not by the 1 s expiry it falls back to when the feed is down).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { deployRow } from '../src/store/contract.js';
import { PostgresStore } from '../src/store/postgres.js';
import { testNavigator, type TestNavigator } from './support/navigator.js';
import { startPostgres, type Postgres } from './support/postgres.js';
import { waitUntil } from './support/processes.js';

let server: Postgres;
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await server?.stop();
});

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the deploys change feed (PostgreSQL)', () => {
  it('announces committed changes of status or reason, nothing else, and comes back after its connection is killed', async () => {
    const url = await server.database();
    const a = await PostgresStore.open(url);
    const b = await PostgresStore.open(url);
    closers.push(
      () => a.close(),
      () => b.close(),
    );
    const seen: string[] = [];
    const live: boolean[] = [];
    a.subscribeDeploys(
      (id) => seen.push(id),
      (l) => live.push(l),
    );
    await waitUntil('the feed live', async () => live.at(-1) === true, 10_000);

    await b.insertDeploy(deployRow('d1'));
    await b.updateDeploy('d1', { hold: '{"why":"plan"}' }, START + 1); // not the gate's answer
    await b.updateDeploy('d1', { status: 'watching', reason: 'watching' }, START + 2); // nothing changed
    await expect(
      b.transaction(async () => {
        await b.updateDeploy('d1', { status: 'halted', reason: 'rolled back below' }, START + 3);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    await b.updateDeploy('d1', { status: 'halted', reason: 'orders fell' }, START + 4);
    await waitUntil('two changes announced', async () => seen.length >= 2, 10_000);
    await sleep(300); // anything else would have arrived by now
    expect(seen).toEqual(['d1', 'd1']); // the insert and the halt

    // The feed's connection is killed (a failover, an operator): noticed, and listening again.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    closers.push(() => admin.end());
    const killed = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'navigator-deploy-feed'",
    );
    expect(killed.rowCount).toBe(1);
    await waitUntil('the feed down and live again', async () => live.includes(false) && live.at(-1) === true, 15_000);
    await b.updateDeploy('d1', { status: 'ended', reason: 'ended by the pipeline' }, START + 5);
    await waitUntil('the third change', async () => seen.length === 3, 10_000);
    expect(seen[2]).toBe('d1');
  });

  it("a replica's gate sees another replica's halt at once, with its clock standing still", async () => {
    const url = await server.database();
    const navs: TestNavigator[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await testNavigator({ storeUrl: url, start: START });
      navs.push(t);
      closers.push(() => t.nav.close());
    }
    const [a, b] = navs as [TestNavigator, TestNavigator];
    const r = await a.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: a.auth('ci-token'),
      payload: {
        id: 'g-1',
        service: 'checkout',
        version: 'v2',
        baselineVersion: 'v1',
        startedAt: new Date(START * 1000).toISOString(),
        stages: [{ at: new Date(START * 1000).toISOString(), weight: 0.1 }],
      },
    });
    expect(r.statusCode).toBe(201);
    const gate = async (t: TestNavigator) =>
      (await t.nav.app.inject({ url: '/v1/deploys/g-1/gate', headers: t.auth('ci-token') })).statusCode;
    await waitUntil('b answers wait', async () => (await gate(b)) === 423, 10_000);
    await sleep(1500); // b's feed connected by now (connecting takes milliseconds)
    expect(await gate(b)).toBe(423);
    await a.nav.service.override('g-1', { name: 'root', role: 'admin' }, 'halt', 'orders fell by hand');
    // Without the feed, b would answer 423 from memory until its clock moved a second: it never moves here.
    await waitUntil('b answers halt', async () => (await gate(b)) === 409, 5_000);
    expect(await gate(b)).toBe(409);
  });
});
