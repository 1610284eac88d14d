// bench/service (replicas): N canary watches (two signals each: orders, a count; errors, a ratio; 100
// services) over three `navigator serve` replicas as separate processes, on one throwaway PostgreSQL
// (test/support/postgres.ts, with pg_stat_statements) and a real Prometheus scraping synthetic targets
// (bench/service/targets.mjs), at a 15 s tick on the wall clock. Per run, measured from outside:
// - each replica's share of one core: its process CPU time (/proc/PID/stat utime + stime) over a window of
//   ticks, divided by the window's wall time; the watches it holds (navigator_watches_held);
// - the database's load per tick: transactions (pg_stat_database xact_commit + xact_rollback), statements
//   (pg_stat_statements calls) and the CPU time of all its processes (/proc, the postmaster's children);
// - the gate's p50/p99 at 2,000 requests/s spread round-robin over the three replicas from one separate
//   process (bench/service/load.mjs, open loop), with the N watches ticking, and the same-run
//   reference: the same load while only 100 watches tick (before the others are registered).
// The machine is shared (2 cores): the load average before and after is recorded; medians over --runs.
//   npm run build && node --import tsx bench/service/replicas.ts [--watches 10000] [--runs 3] [--ticks 4]
//   [--gate-seconds 30] [--rate 2000]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/cli/demo.js';
import { startPostgres } from '../../test/support/postgres.js';

const args = process.argv.slice(2);
const flag = (n: string, d: number) => (args.includes(n) ? Number(args[args.indexOf(n) + 1]) : d);
const WATCHES = flag('--watches', 10_000);
const RUNS = flag('--runs', 3);
const TICKS = flag('--ticks', 4);
const GATE_SECONDS = flag('--gate-seconds', 30);
const RATE = flag('--rate', 2000);
const REFERENCE_WATCHES = 100;
const REPLICAS = 3;
const SERVICES = 100;
const STEP = 15;
const SCRAPE = 5;
const CLK_TCK = 100;
const PER = Math.ceil(WATCHES / SERVICES);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : NaN;
};
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
async function until(what: string, fn: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
const children: ChildProcess[] = [];
function start(bin: string, argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const p = spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  p.stdout?.resume();
  let err = '';
  p.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  p.on('exit', (code, sig) => {
    if (code !== 0 && sig === null) console.error(`${argv[0] ?? bin} exited ${code}: ${err}`);
  });
  return p;
}
const stop = (p: ChildProcess) =>
  new Promise<void>((res) => {
    if (p.exitCode !== null || p.signalCode !== null) return res();
    p.once('exit', () => res());
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
  });
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const cpuOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
};
/** CPU seconds of the postmaster and every process it forked (backends, walwriter, checkpointer...). */
function dbCpu(postmaster: number): number {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(d) === postmaster || Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch {
      /* gone */
    }
  }
  return total;
}
async function metric(base: string, re: RegExp): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => re.test(l))
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const SIGNALS = (s: string) => `
    watchFor: 6h
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: ${s} } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: ${s}, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: ${s} } }`;

const server = await startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements' } });
const postmaster = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
const targets = start(process.execPath, ['bench/service/targets.mjs', String(SERVICES), String(PER)]);
const ports = await new Promise<number[]>((res) => {
  let out = '';
  targets.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) res((JSON.parse(out) as { ports: number[] }).ports);
  });
});
const promDir = mkdtempSync(join(tmpdir(), 'navigator-replicas-prom-'));
const promPort = await freePort();
writeFileSync(
  join(promDir, 'prometheus.yml'),
  `global: { scrape_interval: ${SCRAPE}s, evaluation_interval: ${SCRAPE}s }
scrape_configs:
  - job_name: shop
    static_configs: [ { targets: [ ${ports.map((p) => `"127.0.0.1:${p}"`).join(', ')} ] } ]
`,
);
const prom = start('prometheus', [
  `--config.file=${join(promDir, 'prometheus.yml')}`,
  `--storage.tsdb.path=${join(promDir, 'data')}`,
  `--web.listen-address=127.0.0.1:${promPort}`,
]);
const promUrl = `http://127.0.0.1:${promPort}`;
await until('Prometheus', async () => (await fetch(`${promUrl}/-/ready`)).ok);
await sleep(3 * SCRAPE * 1000);

async function gateLoad(bases: string[], ids: number, dir: string, name: string) {
  const out = await new Promise<string>((res) => {
    const p = start(process.execPath, [
      'bench/service/load.mjs',
      bases.join(','),
      '/v1/deploys/d-{i}/gate',
      String(RATE),
      String(GATE_SECONDS),
      String(ids),
      join(dir, `${name}.json`),
    ]);
    let o = '';
    p.stdout?.removeAllListeners('data');
    p.stdout?.on('data', (d: Buffer) => (o += d.toString()));
    p.once('exit', () => res(o));
  });
  return JSON.parse(out) as {
    requests: number;
    errors: number;
    achievedRate: number;
    p50ms: number;
    p99ms: number;
    perServer: { requests: number; p50ms: number; p99ms: number }[];
  };
}

async function runOne(run: number) {
  const url = await server.database(`bench_replicas_${run}`);
  const db = new pg.Client({ connectionString: url });
  db.on('error', () => {}); // the server stopping under it at the end
  await db.connect();
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const dir = mkdtempSync(join(tmpdir(), 'navigator-replicas-'));
  const cfg = join(dir, 'navigator.yaml');
  writeFileSync(
    cfg,
    `server: { listen: "\${NAVIGATOR_LISTEN}" }
metrics: { source: prometheus, prometheus: { url: "${promUrl}", timeout: 10s } }
store: { url: "${url}", pool: 10 }
audit: { key: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
evaluation: { interval: ${STEP}s }
services:
${Array.from({ length: SERVICES }, (_, i) => `  svc${i}:${SIGNALS(`svc${i}`)}`).join('\n')}
`,
  );
  const replicas: { proc: ChildProcess; base: string }[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    const proc = start(process.execPath, ['--max-old-space-size=512', 'bin/navigator.js', 'serve', '--config', cfg], {
      NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
      NAVIGATOR_REPLICA_ID: `bench-${run}-${i}`,
    });
    replicas.push({ proc, base: `http://127.0.0.1:${port}` });
  }
  // A failed run must not leave its replicas ticking under the next one.
  try {
    return await measure(run, db, dir, replicas);
  } finally {
    for (const r of replicas) await stop(r.proc);
    await db.end().catch(() => {});
  }
}

async function measure(run: number, db: pg.Client, dir: string, replicas: { proc: ChildProcess; base: string }[]) {
  for (const r of replicas) await until('a replica', async () => (await fetch(`${r.base}/readyz`)).ok);
  const bases = replicas.map((r) => r.base);
  const at = new Date().toISOString();
  let next = 0;
  const register = async (upTo: number) =>
    Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        while (next < upTo) {
          const i = next++;
          const s = i % SERVICES;
          const v = Math.floor(i / SERVICES) + 1;
          const r = await fetch(`${bases[worker % REPLICAS]}/v1/deploys`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              id: `d-${i}`,
              service: `svc${s}`,
              version: `v${v}`,
              baselineVersion: 'v0',
              strategy: 'canary',
              startedAt: at,
              stages: [{ at, weight: 0.1 / PER }],
            }),
          });
          if (r.status !== 201) throw new Error(`register d-${i}: ${r.status} ${await r.text()}`);
        }
      }),
    );
  const held = async () => {
    const n = [];
    for (const b of bases) n.push(await metric(b, /^navigator_watches_held\{/));
    return n;
  };
  const ticks = async () => metric(bases[0] as string, /^navigator_tick_duration_seconds_count/);
  const waitTicks = async (k: number) => {
    const t0 = await ticks();
    await until(`${k} ticks`, async () => (await ticks()) >= t0 + k, (k + 4) * STEP * 1000 * 4);
  };

  // The reference: the gate under the same load while only 100 watches tick.
  await register(REFERENCE_WATCHES);
  await until(
    'the reference watches held',
    async () => (await held()).reduce((a, b) => a + b, 0) === REFERENCE_WATCHES,
  );
  await waitTicks(1);
  const reference = await gateLoad(bases, REFERENCE_WATCHES, dir, 'reference');

  const say = (m: string) => console.error(`run ${run}: ${m} (load ${loadavg().join(' ')})`);
  say(`reference: gate p99 ${reference.p99ms} ms at ${Math.round(reference.achievedRate)}/s`);
  const r0 = Date.now();
  await register(WATCHES);
  say(`registered ${WATCHES} in ${((Date.now() - r0) / 1000).toFixed(0)} s`);
  const registerSeconds = (Date.now() - r0) / 1000;
  await until('every watch held', async () => (await held()).reduce((a, b) => a + b, 0) === WATCHES, 20 * STEP * 1000);
  await waitTicks(2); // every watch judged and checkpointed after its takeover; the JIT warm
  const split = await held();
  say(`held ${split.join('/')}`);

  // The ticks alone: each replica's CPU, the database's work.
  const stat = async () =>
    (
      await db.query<{ xact: string; calls: string }>(
        `SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()) AS xact,
                (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                  WHERE d.datname = current_database()) AS calls`,
      )
    ).rows[0]!;
  const ticks0 = await ticks();
  const cpu0 = replicas.map((r) => cpuOf(r.proc.pid as number));
  const db0 = { cpu: dbCpu(postmaster), ...(await stat()) };
  const w0 = Date.now() / 1000;
  await sleep(TICKS * STEP * 1000);
  const wall = Date.now() / 1000 - w0;
  const cpu1 = replicas.map((r) => cpuOf(r.proc.pid as number));
  await sleep(600); // pg_stat_database flushes at most every 500 ms
  const db1 = { cpu: dbCpu(postmaster), ...(await stat()) };
  const judged = (await ticks()) - ticks0;
  const perTick = wall / STEP;

  // The gate with every watch ticking.
  const loaded = await gateLoad(bases, WATCHES, dir, 'loaded');
  const tickSeconds =
    (await metric(bases[0] as string, /^navigator_tick_duration_seconds_sum/)) /
    Math.max(1, await metric(bases[0] as string, /^navigator_tick_duration_seconds_count/));
  return {
    run,
    registerSeconds: +registerSeconds.toFixed(1),
    held: split,
    windowSeconds: +wall.toFixed(1),
    ticksOfReplica0: judged,
    meanTickSecondsOfReplica0: +tickSeconds.toFixed(3),
    cpuShare: cpu1.map((c, i) => +((c - (cpu0[i] as number)) / wall).toFixed(4)),
    database: {
      transactionsPerTick: Math.round((Number(db1.xact) - Number(db0.xact)) / perTick),
      statementsPerTick: Math.round((Number(db1.calls) - Number(db0.calls)) / perTick),
      cpuShare: +((db1.cpu - db0.cpu) / wall).toFixed(4),
    },
    gate: {
      loaded: { ...loaded, achievedRate: Math.round(loaded.achievedRate) },
      reference: { ...reference, achievedRate: Math.round(reference.achievedRate) },
    },
  };
}

const load = { before: loadavg(), after: [] as number[] };
const runs: Awaited<ReturnType<typeof runOne>>[] = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const res = await runOne(r).catch((e: unknown) => {
      console.error(`run ${r} failed: ${(e as Error).stack ?? String(e)}`);
      return null;
    });
    if (!res) continue;
    runs.push(res);
    console.log(JSON.stringify(res));
  }
} finally {
  load.after = loadavg();
  await stop(prom);
  await stop(targets);
  await server.stop();
}
const f = (g: (r: (typeof runs)[number]) => number) => +median(runs.map(g)).toFixed(4);
const result = {
  command: `npm run build && node --import tsx bench/service/replicas.ts --watches ${WATCHES} --runs ${RUNS} --ticks ${TICKS} --gate-seconds ${GATE_SECONDS} --rate ${RATE}`,
  watches: WATCHES,
  replicas: REPLICAS,
  tickSeconds: STEP,
  machine: { cores: 2, loadAverage: load, note: 'shared with other jobs; CPU is each process’s own CPU time' },
  median: {
    cpuSharePerReplica: [0, 1, 2].map((i) => f((r) => r.cpuShare[i] ?? NaN)),
    cpuShareMaxReplica: f((r) => Math.max(...r.cpuShare)),
    databaseTransactionsPerTick: f((r) => r.database.transactionsPerTick),
    databaseStatementsPerTick: f((r) => r.database.statementsPerTick),
    databaseCpuShare: f((r) => r.database.cpuShare),
    gateP50ms: f((r) => r.gate.loaded.p50ms),
    gateP99ms: f((r) => r.gate.loaded.p99ms),
    gateAchievedRate: f((r) => r.gate.loaded.achievedRate),
    referenceGateP99ms: f((r) => r.gate.reference.p99ms),
    referenceGateAchievedRate: f((r) => r.gate.reference.achievedRate),
  },
  targets: { gate: 'p99 under 10 ms at 2,000 requests/s across replicas' },
  runs,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/service-replicas.json', `${JSON.stringify(result, null, 2)}\n`);
const m = result.median;
console.log(
  `${WATCHES} watches over ${REPLICAS} replicas at ${STEP} s (median of ${runs.length}): ` +
    `CPU ${m.cpuSharePerReplica.map((c) => `${(c * 100).toFixed(1)}%`).join(' / ')} of a core; database ` +
    `${m.databaseTransactionsPerTick} transactions and ${m.databaseStatementsPerTick} statements per tick, ` +
    `${(m.databaseCpuShare * 100).toFixed(1)}% of a core; gate at ${RATE}/s p50 ${m.gateP50ms} ms, p99 ${m.gateP99ms} ms ` +
    `(reference with ${REFERENCE_WATCHES} watches: p99 ${m.referenceGateP99ms} ms); load ${load.before.join(' ')} -> ${load.after.join(' ')}`,
);
process.exit(0);
