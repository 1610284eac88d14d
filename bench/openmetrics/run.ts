// bench/openmetrics: how fast a backtest recording is read (contracts §3: weeks of 15 s data, tens of MB).
// Generates ~25 MB of OpenMetrics (8 days at a 15 s step, counters with resets and scrape gaps, labelled
// like the contract's example) in the temp dir, then reads it into a fresh MemoryStore several times in a
// child process, so the peak RSS is the reader's and not the generator's. Records the median time, MB/s,
// the child's peak RSS and its RSS before the first read (Node and tsx alone).
//   npx tsx bench/openmetrics/run.ts [--runs 5] [--mb 25]
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryStore } from '../../src/sources/memory-store.js';
import { readOpenMetricsFile } from '../../src/sources/openmetrics.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const DAYS = 8;
const STEP = 15;
const from = Date.parse('2025-11-19T00:00:00Z') / 1000;
const steps = (DAYS * 86400) / STEP + 1;

// A tiny deterministic PRNG (mulberry32): the file is the same on every run and machine.
let seed = 7;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const SERVICES = ['checkout', 'cart', 'search', 'payments', 'accounts', 'shipping'];
const VERSIONS = ['v1', 'v2'];

/** Writes series family by family (promtool wants each family contiguous after its TYPE line). */
function generate(path: string, targetBytes: number): { bytes: number; samples: number; series: number } {
  const fd = openSync(path, 'w');
  let bytes = 0;
  let samples = 0;
  let series = 0;
  const emit = (text: string) => {
    writeSync(fd, text);
    bytes += Buffer.byteLength(text);
  };
  const writeSeries = (metric: string, labels: string) => {
    const out: string[] = [];
    let total = Math.floor(rand() * 1e5);
    for (let i = 0; i < steps; i++) {
      if (rand() < 0.001) continue; // a missed scrape
      if (rand() < 0.0001) total = 0; // a restarted process resets its counter
      total += Math.floor(rand() * 400);
      out.push(`${metric}{${labels}} ${total} ${from + i * STEP}\n`);
    }
    emit(out.join(''));
    samples += out.length;
    series++;
  };
  // Each service contributes orders_total{service,version} and http_requests_total{code,service,version}
  // for two codes; services are added until the file reaches the target size (about half from each family).
  const half = targetBytes / 2;
  emit('# HELP orders Orders placed.\n# TYPE orders counter\n');
  for (let k = 0; bytes < half; k++)
    writeSeries('orders_total', `service="${SERVICES[k % 6]}${k >= 12 ? k : ''}",version="${VERSIONS[k % 2]}"`);
  emit('# TYPE http_requests counter\n');
  for (let k = 0; bytes < targetBytes; k++) {
    const code = k % 2 === 0 ? '200' : '500';
    const svc = `${SERVICES[(k >> 1) % 6]}${k >= 24 ? k : ''}`;
    writeSeries('http_requests_total', `code="${code}",service="${svc}",version="${VERSIONS[(k >> 1) % 2]}"`);
  }
  emit('# EOF\n');
  closeSync(fd);
  return { bytes: statSync(path).size, samples, series };
}

/** The child: read the file `runs` times, print times and memory as JSON on stdout. */
async function readRuns(file: string, runs: number): Promise<void> {
  const baselineRssMB = process.resourceUsage().maxRSS / 1024;
  const times: number[] = [];
  let result = { samples: 0, series: 0 };
  let heapMB = 0;
  for (let r = 0; r < runs; r++) {
    const store = new MemoryStore();
    const t0 = performance.now();
    result = await readOpenMetricsFile(file, store);
    times.push((performance.now() - t0) / 1000);
    heapMB = process.memoryUsage().heapUsed / 2 ** 20;
    console.error(`run ${r + 1}: ${times[r]?.toFixed(3)} s`);
  }
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({ times, samples: result.samples, series: result.series, baselineRssMB, peakRssMB, heapMB }),
  );
}

const readFile = arg('--read');
if (readFile) {
  await readRuns(readFile, Number(arg('--runs') ?? 5));
} else {
  const runs = Number(arg('--runs') ?? 5);
  const dir = mkdtempSync(join(tmpdir(), 'navigator-om-bench-'));
  const file = join(dir, 'data.om');
  const gen = generate(file, Number(arg('--mb') ?? 25) * 1e6);
  const mb = gen.bytes / 1e6;
  console.error(`generated ${mb.toFixed(1)} MB: ${gen.samples} samples in ${gen.series} series (${file})`);
  // process.execArgv carries tsx's loader, so the child runs this same TypeScript file.
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--read', file, '--runs', String(runs)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  rmSync(dir, { recursive: true, force: true });
  if (child.status !== 0) throw new Error(`reader failed (${child.status})`);
  const got = JSON.parse(child.stdout) as {
    times: number[];
    samples: number;
    series: number;
    baselineRssMB: number;
    peakRssMB: number;
    heapMB: number;
  };
  if (got.samples !== gen.samples || got.series !== gen.series)
    throw new Error(`read ${got.samples} samples in ${got.series} series, generated ${gen.samples} in ${gen.series}`);
  const median = [...got.times].sort((a, b) => a - b)[Math.floor(runs / 2)] as number;
  const round = (x: number, d = 1) => Number(x.toFixed(d));
  const result = {
    command: 'npx tsx bench/openmetrics/run.ts',
    node: process.version,
    days: DAYS,
    stepSeconds: STEP,
    fileMB: round(mb, 2),
    samples: gen.samples,
    series: gen.series,
    runs,
    times: got.times.map((t) => round(t, 3)),
    medianSeconds: round(median, 3),
    mbPerSecond: round(mb / median),
    samplesPerSecond: Math.round(gen.samples / median),
    // the reading process's high-water mark, over all runs; baseline is Node + tsx before the first read
    peakRssMB: round(got.peakRssMB),
    baselineRssMB: round(got.baselineRssMB),
    heapAfterLastReadMB: round(got.heapMB),
    target: 'a few seconds for 25 MB',
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/openmetrics.json', `${JSON.stringify(result, null, 2)}\n`);
}
