// bench/service (replicas): several Navigator replicas on one real PostgreSQL (a throwaway cluster, as the
// tests start it).
//  1. Watches: N concurrent canary watches (two signals each, 100 services) over three replicas in this
//     process, sharing one metric source; per 15 s tick each replica's CPU seconds (its share of one core),
//     the watches it holds, and the statements it sent to the database. The replicas tick one after the
//     other, so each one's CPU is its own.
//  2. Gate: three `navigator serve` processes on the database with 1,000 open watches, GET .../gate at
//     2,000 requests/s spread evenly over the three (three open-loop generators, bench/service/load.mjs),
//     p50/p99 over all requests.
//   npm run build && node --import tsx bench/service/replicas.ts [--watches 10000] [--ticks 6] [--gate-seconds 10]
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildNavigator, type Navigator } from '../../src/app.js';
import { demoConfig, freePort } from '../../src/cli/demo.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/sources/memory-store.js';
import type { PostgresStore } from '../../src/store/postgres.js';
import { startPostgres } from '../../test/support/postgres.js';
import { mulberry32, poisson } from '../../test/support/random.js';

const args = process.argv.slice(2);
const flag = (n: string, d: number) => (args.includes(n) ? Number(args[args.indexOf(n) + 1]) : d);
const WATCHES = flag('--watches', 10_000);
const TICKS = flag('--ticks', 6);
const GATE_SECONDS = flag('--gate-seconds', 10);
const REPLICAS = 3;
const SERVICES = 100;
const PER = Math.ceil(WATCHES / SERVICES);
const STEP = 15;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const pg = await startPostgres();
try {
  // 1. Watches over three in-process replicas.
  const url = await pg.database('bench_watches');
  const services = Array.from({ length: SERVICES }, (_, i) => `svc${i}`);
  const config = parseConfig(
    `evaluation: { interval: 15s }
store: { url: "${url}", pool: 10 }
services:
${services
  .map(
    (s) => `  ${s}:
    watchFor: 2h
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
    process.env.NAVIGATOR_REPLICA_ID = `bench-${i}`;
    navs.push(await buildNavigator({ config, source, now: () => now }));
  }
  const counters = new Map<string, number>();
  const rng = mulberry32(42);
  const scrape = (t: number) => {
    for (const s of services)
      for (let v = 0; v <= PER; v++) {
        const labels0 = { service: s, version: `v${v}` };
        const share = v === 0 ? 1 : 0.1 / PER;
        for (const [metric, code, rate] of [
          ['orders_total', null, 30],
          ['http_requests_total', '200', 300],
          ['http_requests_total', '500', 1.5],
        ] as const) {
          const labels: Record<string, string> = { ...labels0, ...(code ? { code } : {}) };
          const key = `${metric}${JSON.stringify(labels)}`;
          const value = (counters.get(key) ?? 0) + poisson(rng, rate * STEP * share);
          counters.set(key, value);
          source.append(metric, labels, t, value);
        }
      }
  };
  for (let k = 3; k > 0; k--) scrape(now - k * STEP);
  const reg0 = process.hrtime.bigint();
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
  const registerSeconds = Number(process.hrtime.bigint() - reg0) / 1e9;
  const queries = (n: Navigator) => (n.store as PostgresStore).queries;
  const perTick: { replica: number; held: number; cpu: number; wall: number; queries: number }[][] = [];
  for (let k = 0; k < TICKS + 2; k++) {
    now += STEP;
    scrape(now);
    const row = [];
    for (const [i, n] of navs.entries()) {
      const q0 = queries(n);
      const c0 = process.cpuUsage();
      const w0 = process.hrtime.bigint();
      await n.service.tick(now);
      const c = process.cpuUsage(c0);
      row.push({
        replica: i,
        held: n.service.watcher.watches().length,
        cpu: (c.user + c.system) / 1e6,
        wall: Number(process.hrtime.bigint() - w0) / 1e9,
        queries: queries(n) - q0,
      });
    }
    perTick.push(row);
  }
  for (const n of navs) await n.close();
  // The first two ticks hand the watches out (one replica registered them all); the rest is steady state.
  const steady = perTick.slice(2);
  const replicas = navs.map((_, i) => {
    const mine = steady.map((r) => r[i] as (typeof r)[number]);
    const cpu = median(mine.map((m) => m.cpu));
    return {
      replica: i,
      watchesHeld: median(mine.map((m) => m.held)),
      medianTickCpuSeconds: +cpu.toFixed(3),
      shareOfOneCore: +(cpu / STEP).toFixed(4),
      medianTickWallSeconds: +median(mine.map((m) => m.wall)).toFixed(3),
      medianQueriesPerTick: median(mine.map((m) => m.queries)),
    };
  });

  // 2. The gate at 2,000 requests/s spread over three `navigator serve` replicas.
  const gateUrl = await pg.database('bench_gate');
  const dir = mkdtempSync(join(tmpdir(), 'navigator-replicas-'));
  const cfg = join(dir, 'navigator.yaml');
  writeFileSync(
    cfg,
    `${demoConfig('15s', '30m')}\n`.replace(/store:\n(\s+path:.*\n)/, `store:\n  url: "${gateUrl}"\n`),
  );
  if (!readFileSync(cfg, 'utf8').includes(gateUrl)) throw new Error('could not point the demo config at PostgreSQL');
  const bases: string[] = [];
  const procs = [];
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    procs.push(
      spawn(process.execPath, ['bin/navigator.js', 'serve', '--config', cfg], {
        env: {
          ...process.env,
          NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
          NAVIGATOR_REPLICA_ID: `gate-${i}`,
          STOREFRONT_METRICS: 'http://127.0.0.1:9/metrics',
        },
        stdio: 'ignore',
      }),
    );
    bases.push(`http://127.0.0.1:${port}`);
  }
  for (const base of bases)
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`${base}/readyz`)).ok) break;
      } catch {
        /* starting */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  for (let i = 0; i < 1000; i++)
    await fetch(`${bases[0]}/v1/deploys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: `g-${i}`,
        service: 'checkout',
        version: `v${i + 2}`,
        baselineVersion: 'v1',
        stages: [{ at: new Date().toISOString(), weight: 0.1 }],
      }),
    });
  await new Promise((r) => setTimeout(r, 2000));
  const run = promisify(execFile);
  const rate = Math.round(2000 / REPLICAS);
  const outs = await Promise.all(
    bases.map((base, i) =>
      run(process.execPath, [
        'bench/service/load.mjs',
        `${base}/v1/deploys/g-{i}/gate`,
        String(rate),
        String(GATE_SECONDS),
        '1000',
        join(dir, `samples-${i}.json`),
      ]),
    ),
  );
  for (const p of procs) p.kill('SIGTERM');
  const per = outs.map(
    (o) => JSON.parse(o.stdout) as { p50ms: number; p99ms: number; errors: number; achievedRate: number },
  );
  const all = bases
    .flatMap(
      (_, i) => (JSON.parse(readFileSync(join(dir, `samples-${i}.json`), 'utf8')) as { latencies: number[] }).latencies,
    )
    .sort((a, b) => a - b);
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? NaN;

  const result = {
    command: `npm run build && node --import tsx bench/service/replicas.ts --watches ${WATCHES} --ticks ${TICKS} --gate-seconds ${GATE_SECONDS}`,
    watches: WATCHES,
    replicas: REPLICAS,
    registerSeconds: +registerSeconds.toFixed(1),
    perReplica: replicas,
    totalQueriesPerTick: replicas.reduce((s, r) => s + r.medianQueriesPerTick, 0),
    ticks: perTick,
    gate: {
      rate: rate * REPLICAS,
      seconds: GATE_SECONDS,
      requests: all.length,
      p50ms: +q(0.5).toFixed(2),
      p99ms: +q(0.99).toFixed(2),
      perReplica: per,
      target: 'p99 under 10 ms at 2,000 requests/s across replicas',
    },
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/service-replicas.json', `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `${WATCHES} watches over ${REPLICAS} replicas: ${replicas
      .map(
        (r) =>
          `#${r.replica} holds ${r.watchesHeld}, ${(r.shareOfOneCore * 100).toFixed(1)}% of a core, ${r.medianQueriesPerTick} queries/tick`,
      )
      .join(
        '; ',
      )}. Gate at ${rate * REPLICAS} req/s over ${REPLICAS} replicas: p50 ${result.gate.p50ms} ms, p99 ${result.gate.p99ms} ms (${all.length} requests)`,
  );
} finally {
  await pg.stop();
}
