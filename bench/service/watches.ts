// bench/service (watches): 10,000 concurrent canary watches with two signals each (orders, a count; errors,
// a ratio), 100 services, judged per 15 s tick through the live service code (the deploy service, the watch
// loop with its per-tick query batching, the SQLite store that persists every watch each tick). Reports the
// CPU seconds per tick as a share of one core over the 15 s interval, resident memory, and a reference
// measured in the same run (sorting 1M numbers) so runs on noisy machines compare as ratios.
//   node --max-old-space-size=256 --import tsx bench/service/watches.ts [--watches 10000] [--ticks 6]
// (the heap cap is the one the Dockerfile and README recommend for `navigator serve`: without it V8 lets
// garbage pile up to its default limit before collecting, and resident memory follows)
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildNavigator } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { MemoryStore } from '../../src/sources/memory-store.js';
import { mulberry32, poisson } from '../../test/support/random.js';

const args = process.argv.slice(2);
const flag = (n: string, d: number) => (args.includes(n) ? Number(args[args.indexOf(n) + 1]) : d);
const WATCHES = flag('--watches', 10_000);
const TICKS = flag('--ticks', 6);
const SERVICES = 100;
const PER = Math.ceil(WATCHES / SERVICES);
const STEP = 15;

const services = Array.from({ length: SERVICES }, (_, i) => `svc${i}`);
const config = parseConfig(
  `evaluation: { interval: 15s }
store: { path: "${join(mkdtempSync(join(tmpdir(), 'navigator-bench-')), 'navigator.db')}" }
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
const nav = await buildNavigator({ config, source, now: () => now });
const counters = new Map<string, number>();
const rng = mulberry32(42);
function scrape(t: number): void {
  for (const s of services) {
    for (let v = 0; v <= PER; v++) {
      const version = `v${v}`;
      const share = v === 0 ? 1 : 0.1 / PER;
      for (const [metric, code, rate] of [
        ['orders_total', null, 30],
        ['http_requests_total', '200', 300],
        ['http_requests_total', '500', 1.5],
      ] as const) {
        const labels: Record<string, string> = { service: s, version, ...(code ? { code } : {}) };
        const key = `${metric}${JSON.stringify(labels)}`;
        const value = (counters.get(key) ?? 0) + poisson(rng, rate * STEP * share);
        counters.set(key, value);
        source.append(metric, labels, t, value);
      }
    }
  }
}
for (let k = 3; k > 0; k--) scrape(now - k * STEP);
const regStart = process.hrtime.bigint();
let id = 0;
for (const s of services) {
  for (let v = 1; v <= PER && id < WATCHES; v++, id++) {
    await nav.service.register(
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
  }
}
const registerSeconds = Number(process.hrtime.bigint() - regStart) / 1e9;

function reference(): number {
  const xs = Float64Array.from({ length: 1_000_000 }, () => Math.random());
  const t = process.hrtime.bigint();
  xs.sort();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const cpu: number[] = [];
const wall: number[] = [];
const refs: number[] = [];
for (let k = 0; k < TICKS; k++) {
  now += STEP;
  scrape(now);
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  await nav.service.tick(now);
  const c = process.cpuUsage(c0);
  wall.push(Number(process.hrtime.bigint() - w0) / 1e9);
  cpu.push((c.user + c.system) / 1e6);
  refs.push(reference());
}
const open = nav.service.watcher.watches().length;
(globalThis as { gc?: () => void }).gc?.();
const mem = process.memoryUsage();
const rss = mem.rss / 2 ** 20;
console.error(
  `heapUsed ${Math.round(mem.heapUsed / 2 ** 20)} MB, heapTotal ${Math.round(mem.heapTotal / 2 ** 20)} MB, external ${Math.round(mem.external / 2 ** 20)} MB, arrayBuffers ${Math.round(mem.arrayBuffers / 2 ** 20)} MB`,
);
await nav.close();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const steady = cpu.slice(1); // the first tick also warms up the JIT
const result = {
  command: `node --max-old-space-size=256 --import tsx bench/service/watches.ts --watches ${WATCHES} --ticks ${TICKS}`,
  watches: WATCHES,
  signalsPerWatch: 2,
  services: SERVICES,
  seriesInSource: source.seriesCount(),
  stillWatching: open,
  registerSeconds: +registerSeconds.toFixed(2),
  tickCpuSeconds: cpu.map((x) => +x.toFixed(3)),
  tickWallSeconds: wall.map((x) => +x.toFixed(3)),
  medianTickCpuSeconds: +median(steady).toFixed(3),
  shareOfOneCore: +(median(steady) / STEP).toFixed(4),
  target: 'under 25% of one core and 500 MB',
  rssMB: Math.round(rss),
  referenceSortSeconds: +median(refs).toFixed(3),
  tickOverReference: +(median(steady) / median(refs)).toFixed(1),
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/service-watches.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `${WATCHES} watches x 2 signals: median tick ${result.medianTickCpuSeconds} CPU s = ${(result.shareOfOneCore * 100).toFixed(1)}% of one core per 15 s tick; RSS ${result.rssMB} MB; ${open} still watching; reference sort ${result.referenceSortSeconds} s (tick = ${result.tickOverReference}x reference)`,
);
