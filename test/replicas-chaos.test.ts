// Chaos across real processes: three `navigator serve` replicas on one real PostgreSQL, the demo
// storefront, and a receiver process for the halt hook and the pages. One replica is SIGKILLed in the
// middle of a canary's watch (its watches resumed by another within three ticks), and the one draining
// the hook lane is SIGKILLed in the middle of a delivery (the hook is carried out by another, under the
// same idempotency key). The collapse is still halted, every deploy once, every effect delivered once per
// key, and no watch was recorded twice for one tick. The 20-kill loop is bench/replicas/chaos.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Processes, freePort, waitUntil } from './support/processes.js';
import { startPostgres, type Postgres } from './support/postgres.js';
import { RemoteReceiver } from './support/remote-receiver.js';

const procs = new Processes();
let server: Postgres | undefined;
afterAll(async () => {
  await procs.stopAll();
  await server?.stop();
});

const DEPLOYS = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'];

describe('three replicas, SIGKILL during a watch and during a delivery', () => {
  it('halts the collapse once, delivers each effect once per key, loses no watch, judges none twice', async () => {
    server = await startPostgres();
    const url = await server.database();
    const db = new pg.Client({ connectionString: url });
    const dir = mkdtempSync(join(tmpdir(), 'navigator-chaos-'));
    const shop = await freePort();
    const rx = await RemoteReceiver.start(procs);
    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    const control = (body: unknown) =>
      fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });
    await control({ weights: { v1: 0.9, v2: 0.1 } });
    const config = join(dir, 'navigator.yaml');
    writeFileSync(
      config,
      `server: { listen: "\${NAVIGATOR_LISTEN}" }
metrics: { source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ] } }
store: { url: "${url}", pool: 4 }
audit: { key: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
evaluation: { interval: 1s }
paging:
  delivery: { timeout: 1s }
  routes:
    oncall: { webhook: { url: "${rx.url}/pages" } }
services:
  checkout:
    page: [ oncall ]
    watchFor: 120s
    rollback: never
    hooks:
      halt: { url: "${rx.url}/halt" }
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
    );
    const replicas = new Map<string, { proc: ChildProcess; base: string }>();
    const start = async (id: string) => {
      const port = await freePort();
      const proc = procs.navigator(['serve', '--config', config], {
        NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
        NAVIGATOR_REPLICA_ID: id,
        NAVIGATOR_LOG_LEVEL: 'debug',
      });
      const base = `http://127.0.0.1:${port}`;
      await waitUntil(`replica ${id}`, async () => proc.exitCode === null && (await fetch(`${base}/readyz`)).ok);
      replicas.set(id, { proc, base });
      return base;
    };
    const kill = async (id: string) => {
      const r = replicas.get(id);
      if (!r) throw new Error(`no replica ${id}`);
      r.proc.kill('SIGKILL');
      await new Promise((res) => r.proc.once('exit', res));
      replicas.delete(id);
    };
    const base1 = await start('r1');
    await start('r2');
    await start('r3');
    await db.connect();
    const holderOf = async (id: string) =>
      (await db.query<{ holder: string }>('SELECT holder FROM watch_leases WHERE deploy_id = $1', [id])).rows[0]
        ?.holder;
    await new Promise((r) => setTimeout(r, 2000)); // the canary's series exist before the deploys start
    for (const id of DEPLOYS) {
      const res = await fetch(`${base1}/v1/deploys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, service: 'checkout', version: 'v2', baselineVersion: 'v1', strategy: 'canary' }),
      });
      expect(res.status).toBe(201);
    }
    // Spread over the three replicas (a fair share each).
    const spread = await waitUntil(
      'the watches spread over three replicas',
      async () => {
        const rows = (
          await db.query<{ holder: string; n: number }>(
            'SELECT holder, count(*)::int AS n FROM watch_leases GROUP BY holder',
          )
        ).rows;
        return rows.length === 3 && rows.every((r) => r.n === 2) ? rows : undefined;
      },
      20_000,
    );
    expect(spread.reduce((s, r) => s + r.n, 0)).toBe(DEPLOYS.length);

    // 1. SIGKILL the holder of c-1 in the middle of its watch: another replica resumes it within 3 ticks.
    const victim = (await holderOf('c-1')) ?? '';
    const ticksBefore = await waitUntil('c-1 judged a few ticks', async () => {
      const d = (await (await fetch(`${base1}/v1/deploys/c-1`)).json()) as { ticks: number };
      return d.ticks >= 3 ? d.ticks : undefined;
    });
    const killedAt = Date.now();
    await kill(victim);
    await waitUntil(
      'c-1 taken over',
      async () => {
        const h = await holderOf('c-1');
        return h !== undefined && h !== victim;
      },
      10_000,
    );
    const takeover = (Date.now() - killedAt) / 1000;
    expect(takeover).toBeLessThanOrEqual(3 + 1); // a lease of 1.5 s ticks, taken at the next tick (+ scheduling)
    const live = [...replicas.values()][0]?.base ?? '';
    const resumed = (await (await fetch(`${live}/v1/deploys/c-1`)).json()) as { ticks: number; status: string };
    expect(resumed.status).toBe('watching');
    expect(resumed.ticks).toBeGreaterThanOrEqual(ticksBefore); // resumed from its persisted state, not restarted

    // 2. The hook receiver is slow; v2 collapses; the replica draining the hooks lane dies mid-delivery.
    await start('r4');
    await rx.delay(1500);
    await control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });
    const firstHalt = await waitUntil('a halt hook in flight', async () => (await rx.requests('/halt'))[0], 60_000);
    expect(firstHalt).toBeDefined();
    const laneHolder = (
      await db.query<{ holder: string }>("SELECT holder FROM lane_leases WHERE lane = 'hooks:checkout'")
    ).rows[0]?.holder;
    if (laneHolder && replicas.has(laneHolder)) await kill(laneHolder);
    await rx.delay(0);

    // Every deploy halted, every effect delivered under its one key.
    const anyBase = () => [...replicas.values()][0]?.base ?? '';
    await waitUntil(
      'every deploy halted',
      async () => {
        for (const id of DEPLOYS) {
          const d = (await (await fetch(`${anyBase()}/v1/deploys/${id}`)).json()) as { status: string };
          if (d.status !== 'halted') return false;
        }
        return true;
      },
      60_000,
    );
    await waitUntil(
      'every effect delivered',
      async () =>
        (await db.query("SELECT 1 FROM outbox WHERE status = 'pending'")).rowCount === 0 &&
        (await rx.requests('/halt')).filter((r) => r.answered !== null).length >= DEPLOYS.length,
      60_000,
    );
    const halts = await rx.requests('/halt');
    const pages = await rx.requests('/pages');
    const keysOf = (rs: typeof halts) => rs.map((r) => String(r.headers['idempotency-key']));
    // One halt hook and one page per deploy, by distinct keys; a repeat carries the same key (the receiver drops it).
    expect(new Set(keysOf(halts)).size).toBe(DEPLOYS.length);
    expect(new Set(keysOf(pages)).size).toBe(DEPLOYS.length);
    const outbox = (await db.query<{ key: string; status: string }>('SELECT key, status FROM outbox')).rows;
    expect(outbox.filter((r) => r.key.startsWith('halt:')).map((r) => r.status)).toEqual(DEPLOYS.map(() => 'done'));
    expect(halts.length - DEPLOYS.length).toBeLessThanOrEqual(1); // at most the one in flight at the kill
    // The audit chain: one chain, each halt once.
    const audit = (
      await db.query<{ action: string; deploy_id: string }>('SELECT action, deploy_id FROM audit ORDER BY seq')
    ).rows;
    for (const id of DEPLOYS) expect(audit.filter((a) => a.action === 'halt' && a.deploy_id === id)).toHaveLength(1);
    const chain = (await (await fetch(`${anyBase()}/v1/audit?limit=1`)).json()) as { chain: { ok: boolean } };
    expect(chain.chain.ok).toBe(true);

    // No (deploy, tick) recorded by two replicas.
    const recorded = new Map<string, Set<string>>();
    for (const log of procs.logs.values())
      for (const line of log.split('\n')) {
        if (!line.includes('"tick recorded"')) continue;
        const e = JSON.parse(line) as { replica: string; tick: number; watches: string[] };
        for (const w of e.watches) {
          const k = `${w}@${e.tick}`;
          recorded.set(k, (recorded.get(k) ?? new Set()).add(e.replica));
        }
      }
    expect(recorded.size).toBeGreaterThan(20);
    expect([...recorded.entries()].filter(([, who]) => who.size > 1)).toEqual([]);
    process.stdout.write(
      `${JSON.stringify({ takeoverSeconds: takeover, halts: halts.length, pages: pages.length })}\n`,
    );
    await db.end();
  }, 180_000);
});
