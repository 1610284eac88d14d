// bench/service (live): a real Prometheus scraping synthetic targets (bench/service/targets.mjs: 100 services,
// one target each, a baseline and one canary version per watch) and `navigator serve` as separate processes;
// 1,000, 3,000 and 10,000 canary watches (two signals: orders, a count; errors, a ratio) at 15 s and 5 s ticks.
// Per configuration, over a window of a few ticks measured from outside the server:
// - CPU share of one core and RSS of the server (/proc/PID/stat, /proc/PID/status);
// - bytes written per watch-tick (/proc/PID/io: write_bytes, what reached the block layer, and wchar, every
//   byte passed to write(2): SQLite's WAL and database file);
// - Prometheus queries per tick (navigator_source_queries_total) beside Flagger's and Argo's 2 per canary per
//   interval (one query per metric per canary, two metrics here);
// - the gate's p50/p99 from a second process (bench/service/load.mjs, open loop, 2,000 requests/s over the
//   deploys' gates), over all requests, those sent while a tick ran, and those sent between ticks (the
//   reference measured in the same run, on the same loaded machine).
// Medians over the ticks of the window (and over --runs runs). Prints a table and writes
// bench/results/service-live.json.
//   npm run build && npx tsx bench/service/live.ts [--watches 1000,3000,10000] [--intervals 15,5] [--ticks 3]
//   [--rate 2000] [--runs 1] [--scrape 5] [--out bench/results/service-live.json]
// A third window per run is the reference: every deploy ended, the same gate load with no watch ticking.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/demo.js';

const args = process.argv.slice(2);
const opt = (n: string, d: string) => (args.includes(n) ? (args[args.indexOf(n) + 1] as string) : d);
const WATCHES = opt('--watches', '1000,3000,10000').split(',').map(Number);
const INTERVALS = opt('--intervals', '15,5').split(',').map(Number);
const TICKS = Number(opt('--ticks', '3'));
const RATE = Number(opt('--rate', '2000'));
const RUNS = Number(opt('--runs', '1'));
const SCRAPE = Number(opt('--scrape', '5'));
const OUT = opt('--out', 'bench/results/service-live.json');
/** --no-worker: the ticks read Prometheus on the thread that serves HTTP (NAVIGATOR_OBSERVE_WORKER=0) */
const NO_WORKER = args.includes('--no-worker');
const SERVICES = 100;
/** --profile DIR: the server writes a V8 CPU profile there when it stops */
const PROFILE = args.includes('--profile') ? opt('--profile', '') : '';
const CLK_TCK = 100; // getconf CLK_TCK on Linux

const children: ChildProcess[] = [];
function start(bin: string, argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const p = spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  let err = '';
  p.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  p.on('exit', (code, sig) => {
    if (code !== 0 && sig === null && !stopping) console.error(`${bin} exited ${code}: ${err}`);
  });
  return p;
}
let stopping = false;
function stop(p: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (p.exitCode !== null || p.signalCode !== null) return res();
    p.once('exit', () => res());
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
  });
}
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function proc(pid: number) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime + stime
  const io = Object.fromEntries(
    readFileSync(`/proc/${pid}/io`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(': ') as [string, string])
      .map(([k, v]) => [k, Number(v)]),
  ) as Record<string, number>;
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  // the main thread alone (its task id is the pid): the one that serves HTTP and judges
  const main = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const m = main.slice(main.lastIndexOf(')') + 2).split(' ');
  const mainCpu = (Number(m[11]) + Number(m[12])) / CLK_TCK;
  return { cpu, mainCpu, writeBytes: io.write_bytes ?? 0, wchar: io.wchar ?? 0, rss };
}

async function scrapeMetrics(base: string) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const sum = (re: RegExp) =>
    text
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return {
    queries: sum(/^navigator_source_queries_total\{/),
    queryErrors: sum(/^navigator_source_queries_total\{outcome="(error|retry|partial)"/),
    tickSum: sum(/^navigator_tick_duration_seconds_sum/),
    tickCount: sum(/^navigator_tick_duration_seconds_count/),
    skipped: sum(/^navigator_ticks_skipped_total/),
  };
}

const SIGNALS = (s: string) => `
    watchFor: 2h
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: ${s} } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: ${s}, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: ${s} } }`;

const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? (v[Math.floor((v.length - 1) / 2)] as number) : NaN;
};
const quantile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number) : NaN;
};

async function runOne(watches: number, interval: number, prometheus: string) {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-live-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(dir, 'navigator.yaml'),
    `server: { listen: "127.0.0.1:${port}" }
metrics: { source: prometheus, prometheus: { url: "${prometheus}", timeout: 10s } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: ${interval}s }
services:
${Array.from({ length: SERVICES }, (_, i) => `  svc${i}:${SIGNALS(`svc${i}`)}`).join('\n')}
`,
  );
  const nav = start(
    process.execPath,
    [
      '--max-old-space-size=256',
      ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : []),
      'bin/navigator.js',
      'serve',
      '--config',
      join(dir, 'navigator.yaml'),
    ],
    NO_WORKER ? { NAVIGATOR_OBSERVE_WORKER: '0' } : {},
  );
  nav.stdout?.resume();
  await until('navigator', async () => (await fetch(`${base}/readyz`)).ok);
  const per = Math.ceil(watches / SERVICES);
  const at = new Date().toISOString();
  const ids: string[] = [];
  for (let s = 0, n = 0; s < SERVICES; s++) for (let v = 1; v <= per && n < watches; v++, n++) ids.push(`${s}:${v}`);
  let next = 0;
  const registerStarted = Date.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const i = next++;
        const [s, v] = (ids[i] as string).split(':');
        const r = await fetch(`${base}/v1/deploys`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            id: `d-${i}`,
            service: `svc${s}`,
            version: `v${v}`,
            baselineVersion: 'v0',
            strategy: 'canary',
            startedAt: at,
            stages: [{ at, weight: 0.1 / per }],
          }),
        });
        if (r.status !== 201) throw new Error(`register d-${i}: ${r.status} ${await r.text()}`);
      }
    }),
  );
  const registerSeconds = (Date.now() - registerStarted) / 1000;
  // Two ticks after the registrations: the JIT is warm and every watch has a state.
  const m0 = await scrapeMetrics(base);
  // A server that cannot keep up is stopped here, not left running beside the next configuration.
  await until('two ticks', async () => (await scrapeMetrics(base)).tickCount >= m0.tickCount + 2, 300_000).catch(
    async (e: unknown) => {
      await stop(nav);
      throw e;
    },
  );
  // Start the window just after a tick began (ticks run at k * interval + settle on the wall clock).
  const settle = Math.min(10, interval / 2);
  const nowS = Date.now() / 1000;
  const nextStart = Math.ceil((nowS - settle) / interval) * interval + settle;
  await sleep(Math.max(0, (nextStart - nowS - 0.5) * 1000));
  const pid = nav.pid as number;
  const seconds = TICKS * interval;
  // Window 1, the ticks alone: CPU, memory, bytes written, queries (the gate load would add its own CPU).
  const p0 = proc(pid);
  const q0 = await scrapeMetrics(base);
  const w0 = Date.now() / 1000;
  let rssMax = p0.rss;
  const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, proc(pid).rss)), 500);
  await sleep(seconds * 1000);
  const q1 = await scrapeMetrics(base);
  const p1 = proc(pid);
  const wall = Date.now() / 1000 - w0;
  const ticks = q1.tickCount - q0.tickCount;
  const tickSeconds = ticks > 0 ? (q1.tickSum - q0.tickSum) / ticks : NaN;
  // Window 2, the same ticks with the gate under load from a second process.
  const gateLoad = async (name: string) => {
    const samples = join(dir, `${name}.json`);
    const load = start(process.execPath, [
      'bench/service/load.mjs',
      base,
      '/v1/deploys/d-{i}/gate',
      String(RATE),
      String(seconds),
      String(watches),
      samples,
    ]);
    let loadOut = '';
    load.stdout?.on('data', (d: Buffer) => (loadOut += d.toString()));
    await new Promise((r) => load.once('exit', r));
    const gate = JSON.parse(loadOut) as { requests: number; errors: number; achievedRate: number; p99ms: number };
    const s = JSON.parse(readFileSync(samples, 'utf8')) as { sentAt: number[]; latencies: number[] };
    return { gate, s };
  };
  const { gate, s } = await gateLoad('samples');
  clearInterval(rssTimer);
  const during: number[] = [];
  const between: number[] = [];
  s.sentAt.forEach((ms, i) => {
    const t = ms / 1000;
    const phase = (((t - settle) % interval) + interval) % interval;
    (phase <= tickSeconds ? during : between).push(s.latencies[i] as number);
  });
  // Window 3, the reference on the same machine at the same moment: every deploy ended (no watch left to
  // tick), the same gates at the same rate from the same second process. What the gate costs on this
  // loaded machine by itself; the ratio to it is what ticking adds.
  next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const i = next++;
        const r = await fetch(`${base}/v1/deploys/d-${i}/end`, { method: 'POST' });
        if (r.status !== 200) throw new Error(`end d-${i}: ${r.status} ${await r.text()}`);
      }
    }),
  );
  await sleep((interval + 1) * 1000); // a tick with no open watch
  const ref = await gateLoad('reference');
  await stop(nav);
  const watchTicks = watches * ticks;
  return {
    watches,
    interval,
    registerSeconds: +registerSeconds.toFixed(1),
    windowSeconds: +wall.toFixed(1),
    ticks,
    skippedTicks: q1.skipped - q0.skipped,
    tickSeconds: +tickSeconds.toFixed(3),
    cpuShare: +((p1.cpu - p0.cpu) / wall).toFixed(4),
    mainThreadCpuShare: +((p1.mainCpu - p0.mainCpu) / wall).toFixed(4),
    rssMB: Math.round(p1.rss),
    rssMaxMB: Math.round(rssMax),
    writeBytesPerWatchTick: watchTicks ? Math.round((p1.writeBytes - p0.writeBytes) / watchTicks) : NaN,
    wcharPerWatchTick: watchTicks ? Math.round((p1.wchar - p0.wchar) / watchTicks) : NaN,
    queriesPerTick: ticks ? +((q1.queries - q0.queries) / ticks).toFixed(1) : NaN,
    queryFailures: q1.queryErrors - q0.queryErrors,
    flaggerArgoQueriesPerInterval: 2 * watches,
    gate: {
      requests: gate.requests,
      errors: gate.errors,
      achievedRate: Math.round(gate.achievedRate),
      p50ms: +quantile(s.latencies, 0.5).toFixed(2),
      p99ms: +quantile(s.latencies, 0.99).toFixed(2),
      duringTicks: {
        requests: during.length,
        p50ms: +quantile(during, 0.5).toFixed(2),
        p99ms: +quantile(during, 0.99).toFixed(2),
      },
      betweenTicks: {
        requests: between.length,
        p50ms: +quantile(between, 0.5).toFixed(2),
        p99ms: +quantile(between, 0.99).toFixed(2),
      },
      noWatches: {
        requests: ref.s.latencies.length,
        achievedRate: Math.round(ref.gate.achievedRate),
        p50ms: +quantile(ref.s.latencies, 0.5).toFixed(2),
        p99ms: +quantile(ref.s.latencies, 0.99).toFixed(2),
      },
    },
  };
}

async function withPrometheus<T>(versions: number, fn: (url: string) => Promise<T>): Promise<T> {
  const targets = start(process.execPath, ['bench/service/targets.mjs', String(SERVICES), String(versions)]);
  const ports = await new Promise<number[]>((res) => {
    let out = '';
    targets.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) res((JSON.parse(out) as { ports: number[] }).ports);
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'navigator-live-prom-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: ${SCRAPE}s, evaluation_interval: ${SCRAPE}s }
scrape_configs:
  - job_name: shop
    static_configs: [ { targets: [ ${ports.map((p) => `"127.0.0.1:${p}"`).join(', ')} ] } ]
`,
  );
  const prom = start('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await until('Prometheus', async () => (await fetch(`${url}/-/ready`)).ok);
  await sleep(3 * SCRAPE * 1000); // a few scrapes of every target
  try {
    return await fn(url);
  } finally {
    await stop(prom);
    await stop(targets);
  }
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const results: Awaited<ReturnType<typeof runOne>>[][] = [];
const failures: { watches: number; interval: number; error: string }[] = [];
const load = { before: loadavg(), after: [] as number[] };
for (const watches of WATCHES) {
  await withPrometheus(Math.ceil(watches / SERVICES), async (url) => {
    for (const interval of INTERVALS) {
      const runs = [];
      for (let r = 0; r < RUNS; r++) {
        try {
          const res = await runOne(watches, interval, url);
          runs.push(res);
          console.log(JSON.stringify(res));
        } catch (e) {
          // A server that cannot keep up (ticks longer than the interval pile up) is a result too.
          console.log(JSON.stringify({ watches, interval, error: (e as Error).message }));
          failures.push({ watches, interval, error: (e as Error).message });
        }
      }
      if (runs.length) results.push(runs);
    }
  });
}
load.after = loadavg();
stopping = true;

const summary = results.map((runs) => {
  const f = (g: (r: (typeof runs)[number]) => number) => +median(runs.map(g)).toFixed(4);
  const r0 = runs[0] as (typeof runs)[number];
  return {
    watches: r0.watches,
    interval: r0.interval,
    runs: runs.length,
    cpuShare: f((r) => r.cpuShare),
    mainThreadCpuShare: f((r) => r.mainThreadCpuShare),
    rssMB: f((r) => r.rssMaxMB),
    writeBytesPerWatchTick: f((r) => r.writeBytesPerWatchTick),
    wcharPerWatchTick: f((r) => r.wcharPerWatchTick),
    queriesPerTick: f((r) => r.queriesPerTick),
    flaggerArgoQueriesPerInterval: r0.flaggerArgoQueriesPerInterval,
    tickSeconds: f((r) => r.tickSeconds),
    gateP50ms: f((r) => r.gate.p50ms),
    gateP99ms: f((r) => r.gate.p99ms),
    gateP99DuringTicksMs: f((r) => r.gate.duringTicks.p99ms),
    gateP99BetweenTicksMs: f((r) => r.gate.betweenTicks.p99ms),
    gateP99NoWatchesMs: f((r) => r.gate.noWatches.p99ms),
    gateP99RatioToNoWatches: f((r) => r.gate.p99ms / r.gate.noWatches.p99ms),
    gateAchievedRate: f((r) => r.gate.achievedRate),
  };
});
const out = {
  command: `npx tsx bench/service/live.ts --watches ${WATCHES.join(',')} --intervals ${INTERVALS.join(',')} --ticks ${TICKS} --rate ${RATE} --runs ${RUNS} --scrape ${SCRAPE} --out ${OUT}${NO_WORKER ? ' --no-worker' : ''}`,
  services: SERVICES,
  signalsPerWatch: 2,
  scrapeIntervalSeconds: SCRAPE,
  ticksPerWindow: TICKS,
  gateRate: RATE,
  machine: { cores: 2, loadavgBefore: load.before, loadavgAfter: load.after },
  targets: {
    bytesPerWatchTick: 512,
    gateP99ms: 10,
    cpuShare10kAt15s: 0.15,
    rssMB10kAt15s: 400,
  },
  summary,
  failures,
  runs: results,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
console.log(
  'watches interval  cpu%   RSS MB  wbytes/wt  wchar/wt  queries/tick (Flagger/Argo)  tick s  gate p50/p99 (during/between) ms, p99 with no watches',
);
for (const s of summary)
  console.log(
    `${String(s.watches).padStart(7)} ${String(s.interval).padStart(6)}s ${(s.cpuShare * 100).toFixed(1).padStart(6)} ${String(s.rssMB).padStart(7)} ${String(s.writeBytesPerWatchTick).padStart(10)} ${String(s.wcharPerWatchTick).padStart(9)} ${String(s.queriesPerTick).padStart(8)} (${s.flaggerArgoQueriesPerInterval})  ${String(s.tickSeconds).padStart(12)}  ${s.gateP50ms}/${s.gateP99ms} (${s.gateP99DuringTicksMs}/${s.gateP99BetweenTicksMs}), ${s.gateP99NoWatchesMs}`,
  );
console.log(`load average before ${load.before.join(' ')}, after ${load.after.join(' ')}`);
