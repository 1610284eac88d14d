// bench/replicas (WAL): what three replicas on one real PostgreSQL write per watch-tick, now that they
// append tick records (watch/tick-log.ts) instead of whole states. N canary watches (two signals each, 100
// services) over three in-process replicas sharing one metric source, ticked with a simulated clock (15 s
// steps, compressed time). After the handover ticks and every watch's first checkpoint, over a window of
// ticks: WAL bytes (pg_current_wal_lsn() before and after), table growth (pg_total_relation_size of
// watch_ticks and watches, and watch_ticks' rows), and transactions and statements per tick
// (pg_stat_database xact_commit; the replicas' own statement counters). Everything the database writes is
// in the WAL figure: tick records, the staggered checkpoints (a watch's whole state every 64 of its ticks),
// the prefix drops, the lease rounds (one heartbeat row per replica) and the decisions.
// With --fpw on the window starts at a CHECKPOINT, so the full-page images of the pages first changed after
// it are in the figure (the default checkpoint_timeout, 5 min, is 20 ticks).
//   node --import tsx bench/replicas/wal.ts [--watches 3000] [--window 32] [--fpw on|off]
import { mkdirSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { buildNavigator, type Navigator } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/sources/memory-store.js';
import type { PostgresStore } from '../../src/store/postgres.js';
import { CHECKPOINT_TICKS } from '../../src/watch/tick-log.js';
import { startPostgres } from '../../test/support/postgres.js';
import { mulberry32, poisson } from '../../test/support/random.js';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => (args.includes(n) ? (args[args.indexOf(n) + 1] as string) : d);
const WATCHES = Number(opt('--watches', '3000'));
const WINDOW = Number(opt('--window', '32'));
const FPW = opt('--fpw', 'off');
const REPLICAS = 3;
const SERVICES = 100;
const PER = Math.ceil(WATCHES / SERVICES);
const STEP = 15;

const server = await startPostgres({ settings: { full_page_writes: FPW } });
try {
  const url = await server.database('bench_wal');
  const services = Array.from({ length: SERVICES }, (_, i) => `svc${i}`);
  const config = parseConfig(
    `evaluation: { interval: 15s }
store: { url: "${url}", pool: 4 }
services:
${services
  .map(
    (s) => `  ${s}:
    watchFor: 6h
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: ${s} } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: ${s}, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: ${s} } }`,
  )
  .join('\n')}
`,
    'bench.yaml',
    {},
  );
  const source = new MemoryStore();
  let now = Math.floor(Date.parse('2025-11-27T10:00:00Z') / 1000 / STEP) * STEP;
  const navs: Navigator[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    process.env.NAVIGATOR_REPLICA_ID = `wal-${i}`;
    navs.push(await buildNavigator({ config, source, now: () => now }));
  }
  const counters = new Map<string, number>();
  const rng = mulberry32(7);
  const scrape = (t: number) => {
    for (const s of services)
      for (let v = 0; v <= PER; v++) {
        const share = v === 0 ? 1 : 0.1 / PER;
        for (const [metric, code, rate] of [
          ['orders_total', null, 30],
          ['http_requests_total', '200', 300],
          ['http_requests_total', '500', 1.5],
        ] as const) {
          const labels: Record<string, string> = { service: s, version: `v${v}`, ...(code ? { code } : {}) };
          const key = `${metric}${JSON.stringify(labels)}`;
          const value = (counters.get(key) ?? 0) + poisson(rng, rate * STEP * share);
          counters.set(key, value);
          source.append(metric, labels, t, value);
        }
      }
  };
  for (let k = 3; k > 0; k--) scrape(now - k * STEP);
  const first = navs[0] as Navigator;
  let id = 0;
  for (const s of services)
    for (let v = 1; v <= PER && id < WATCHES; v++, id++)
      await first.service.register(
        {
          id: `d-${id}`,
          service: s,
          version: `v${v}`,
          baselineVersion: 'v0',
          strategy: 'canary',
          startedAt: new Date(now * 1000).toISOString(),
          stages: [{ at: new Date(now * 1000).toISOString(), weight: 0.1 / PER }],
        },
        { name: 'bench', role: 'admin' },
      );
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const tick = async () => {
    now += STEP;
    scrape(now);
    for (const n of navs) await n.service.tick(now);
  };
  // Handover (one replica registered them all) and every watch's first checkpoint after its takeover.
  for (let k = 0; k < 4; k++) await tick();
  const held = navs.map((n) => n.service.watcher.watches().length);
  const snap = async () => {
    const [r] = (
      await db.query<{ lsn: string; ticks: string; watches: string; rows: string; xact: string }>(
        `SELECT pg_current_wal_lsn()::text AS lsn,
                pg_total_relation_size('watch_ticks') AS ticks, pg_total_relation_size('watches') AS watches,
                (SELECT count(*) FROM watch_ticks) AS rows,
                (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS xact`,
      )
    ).rows;
    return r!;
  };
  await db.query('SELECT pg_stat_force_next_flush()').catch(() => {});
  // With full-page writes on, the window starts at a checkpoint: every page's first change after it is
  // written whole, as in each checkpoint_timeout (5 min, 20 ticks) of a real server.
  if (FPW === 'on') await db.query('CHECKPOINT');
  const s0 = await snap();
  const q0 = navs.reduce((a, n) => a + (n.store as PostgresStore).queries, 0);
  const perTick: number[] = [];
  for (let k = 0; k < WINDOW; k++) {
    const l0 = (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    await tick();
    const d = (await db.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d', [l0])).rows[0]!;
    perTick.push(Number(d.d));
  }
  await db.query('SELECT pg_stat_force_next_flush()').catch(() => {});
  await new Promise((r) => setTimeout(r, 600)); // pg_stat_database is flushed at most every 500 ms
  const s1 = await snap();
  const q1 = navs.reduce((a, n) => a + (n.store as PostgresStore).queries, 0);
  // What the old way wrote per watch-tick at least: one whole state (before any row or WAL overhead).
  const sizes = (
    await db.query<{ state: string; record: string }>(
      `SELECT (SELECT avg(octet_length(state)) FROM watches) AS state,
              (SELECT avg(octet_length(record)) FROM watch_ticks) AS record`,
    )
  ).rows[0]!;
  const wal = Number(
    (await db.query<{ d: string }>('SELECT pg_wal_lsn_diff($1, $2) AS d', [s1.lsn, s0.lsn])).rows[0]!.d,
  );
  const watchTicks = WATCHES * WINDOW;
  const sorted = [...perTick].sort((a, b) => a - b);
  const result = {
    command: `node --import tsx bench/replicas/wal.ts --watches ${WATCHES} --window ${WINDOW} --fpw ${FPW}`,
    watches: WATCHES,
    replicas: REPLICAS,
    held,
    windowTicks: WINDOW,
    checkpointEveryTicks: CHECKPOINT_TICKS,
    fullPageWrites: FPW,
    walBytes: wal,
    walBytesPerWatchTick: Math.round(wal / watchTicks),
    medianTickWalBytesPerWatch: Math.round((sorted[Math.floor(sorted.length / 2)] ?? NaN) / WATCHES),
    watchTicksTableGrowthBytesPerWatchTick: Math.round((Number(s1.ticks) - Number(s0.ticks)) / watchTicks),
    watchesTableGrowthBytes: Number(s1.watches) - Number(s0.watches),
    watchTicksRows: { before: Number(s0.rows), after: Number(s1.rows) },
    meanRecordBytes: Math.round(Number(sizes.record)),
    meanWholeStateBytes: Math.round(Number(sizes.state)),
    transactionsPerTick: +((Number(s1.xact) - Number(s0.xact)) / WINDOW).toFixed(1),
    statementsPerTick: +((q1 - q0) / WINDOW).toFixed(1),
  };
  await db.end();
  for (const n of navs) await n.close();
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/replicas-wal-fpw-${FPW}.json`, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `${WATCHES} watches over ${REPLICAS} replicas (${held.join('/')}), ${WINDOW} ticks, full_page_writes=${FPW}: ` +
      `WAL ${result.walBytesPerWatchTick} B per watch-tick (median tick ${result.medianTickWalBytesPerWatch}), ` +
      `watch_ticks +${result.watchTicksTableGrowthBytesPerWatchTick} B per watch-tick, ` +
      `records of ${result.meanRecordBytes} B against whole states of ${result.meanWholeStateBytes} B, ` +
      `${result.transactionsPerTick} transactions and ${result.statementsPerTick} statements per tick`,
  );
} finally {
  await server.stop();
}
process.exit(0); // the replicas' pools and timers are closed; nothing else is worth waiting for
