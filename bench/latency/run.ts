// bench/latency: how fast a latency signal halts a slow canary, and how often it fails a good one. Runs the
// production signal judge on simulated histograms (bench/lib/latency-sim.ts): shared gamma burstiness on
// traffic, over-dispersed request counts, clumped slow requests, and the robustness conditions of the canary
// benchmark (conditions.ts), each with the dispersion floor the watcher measures on the hour before the
// deploy and without it (no history: an embedded scraper just started).
//   npx tsx bench/latency/run.ts [--quick] [--runs N] [--good N] [--good-no-history N] [--workers N] [--no-history]
// Prints the delay table and the false-alarm rate per condition with its Clopper-Pearson 95% interval, and
// writes bench/results/latency.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { workerPool } from '../lib/pool.js';
import { ALPHA, STEP, type LatencyCell } from '../lib/latency-sim.js';
import { clopperPearson } from '../robustness/stats.js';
import {
  BASE_DISPERSION,
  CONDITIONS,
  HISTORY_TICKS,
  SLOW_RANGE,
  TOTAL_RANGE,
  WATCH_TICKS,
  WEIGHTS,
} from './conditions.js';
import type { Job, JobResult } from './worker.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MAX_TICKS = quick ? 240 : 480; // 1 h / 2 h of watching
const RUNS = flag('--runs', quick ? 15 : 41);
const GOOD = flag('--good', quick ? 400 : 20000); // good canaries per condition, with the history floor
const GOOD_NO_HISTORY = flag('--good-no-history', GOOD); // and without it
const WORKERS = flag('--workers', 2);
const HISTORIES = args.includes('--no-history') ? [false] : [true, false];
const CHUNK = 500;

const pool = (jobs: Job[]) => workerPool<Job, JobResult>(new URL('./worker.ts', import.meta.url), jobs, WORKERS, 10);

const q = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
};

const t0 = Date.now();
// Delays: 10% canary, baseline 1% slower than 500 ms, the slow share rising to 2%, 5%, 30%, at 10 and
// 100 requests/s, with Poisson requests and with 2x Poisson requests and slow requests clumped 3x.
const cells: LatencyCell[] = [];
for (const history of HISTORIES)
  for (const canarySlow of [0.02, 0.05, 0.3])
    for (const total of [10, 100])
      for (const [dispersion, slowDispersion] of [
        [1, 1],
        [2, 3],
      ] as const)
        cells.push({
          total,
          weight: 0.1,
          baselineSlow: 0.01,
          canarySlow,
          dispersion,
          slowDispersion,
          ...(history ? { historyTicks: HISTORY_TICKS } : {}),
        });
let seed = 1;
const delayJobs: Job[] = cells.map((cell) => ({
  kind: 'delay',
  cell,
  seeds: Array.from({ length: RUNS }, () => seed++),
  maxTicks: MAX_TICKS,
}));
const alarmJobs: Job[] = [];
for (let k = 0; k < CONDITIONS.length; k++)
  for (const history of HISTORIES)
    for (let from = 0, n = history ? GOOD : GOOD_NO_HISTORY; from < n; from += CHUNK)
      alarmJobs.push({
        kind: 'alarms',
        condition: k,
        history,
        from: 1_000_000 * (k + 1) + from,
        to: 1_000_000 * (k + 1) + Math.min(n, from + CHUNK),
      });
const results = await pool([...delayJobs, ...alarmJobs]);

const rows = cells.map((c, i) => {
  const r = results[i] as Extract<JobResult, { kind: 'delay' }>;
  const missed = r.ticks.filter((t) => t === null).length;
  // censored runs count as beyond the horizon: a median of decided runs would flatter
  const ticks = r.ticks.map((t) => t ?? MAX_TICKS + 1);
  const med = q(ticks, 0.5) as number;
  const p90 = q(ticks, 0.9) as number;
  const max = Math.max(...ticks);
  return {
    slowShare: `1% -> ${c.canarySlow * 100}%`,
    canarySlow: c.canarySlow,
    totalPerS: c.total,
    weight: c.weight,
    dispersion: c.dispersion,
    slowDispersion: c.slowDispersion,
    history: c.historyTicks !== undefined,
    runs: RUNS,
    missed,
    medianTicks: med > MAX_TICKS ? null : med,
    p90Ticks: p90 > MAX_TICKS ? null : p90,
    maxTicks: max > MAX_TICKS ? null : max,
    medianSeconds: med > MAX_TICKS ? null : med * STEP,
  };
});

const falseAlarms = CONDITIONS.flatMap((cond, k) =>
  HISTORIES.map((history) => {
    const mine = results.filter(
      (r): r is Extract<JobResult, { kind: 'alarms' }> =>
        r.kind === 'alarms' && r.condition === k && r.history === history,
    );
    const runs = mine.reduce((a, r) => a + r.runs, 0);
    const alarms = mine.reduce((a, r) => a + r.alarms, 0);
    const [low, high] = clopperPearson(alarms, runs);
    return {
      name: cond.name,
      what: cond.what,
      history,
      goodCanaries: runs,
      alarms,
      rate: alarms / runs,
      interval95: [low, high],
      withinPromise: high < 2 * ALPHA,
    };
  }),
);

// the target holds with and without history: the worse of the two counts
const targets = rows.filter((r) => r.canarySlow === 0.3 && r.totalPerS === 100 && r.dispersion === 1);
const target = [...targets].sort((a, b) => (b.maxTicks ?? Infinity) - (a.maxTicks ?? Infinity))[0];
const result = {
  command: `npx tsx bench/latency/run.ts${args.length ? ` ${args.join(' ')}` : ''}`,
  alpha: ALPHA,
  tickSeconds: STEP,
  maxTicks: MAX_TICKS,
  seconds: (Date.now() - t0) / 1000,
  target: {
    what: '1% -> 30% slower than 500 ms at 100 req/s in a 10% canary halted within 2 ticks',
    medianTicks: target?.medianTicks ?? null,
    maxTicks: target?.maxTicks ?? null,
    met: target?.maxTicks !== null && (target?.maxTicks as number) <= 2,
  },
  falseAlarms: {
    watchTicks: WATCH_TICKS,
    historyTicks: HISTORY_TICKS,
    promised: ALPHA,
    target: "the 95% interval's upper end below 2 alpha",
    base: {
      totalPerS: TOTAL_RANGE,
      slowShare: SLOW_RANGE,
      weights: WEIGHTS,
      requestDispersion: BASE_DISPERSION,
      burstGammaShape: 20,
    },
    conditions: falseAlarms,
  },
  delays: rows,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latency.json', `${JSON.stringify(result, null, 2)}\n`);

const pad = (x: unknown, n: number) => String(x ?? '-').padStart(n);
console.log(
  `latency: delay to halt in ${STEP}s ticks (median / p90 / max over ${RUNS} runs), 10% canary, alpha=${ALPHA}`,
);
console.log(
  `${pad('history', 8)} ${pad('slow share', 12)} ${pad('req/s', 6)} ${pad('D', 3)} ${pad('slowD', 6)} ${pad('median', 7)} ${pad('p90', 5)} ${pad('max', 5)} ${pad('missed', 7)}`,
);
for (const r of rows)
  console.log(
    `${pad(r.history ? 'yes' : 'no', 8)} ${pad(r.slowShare, 12)} ${pad(r.totalPerS, 6)} ${pad(r.dispersion, 3)} ${pad(r.slowDispersion, 6)} ${pad(r.medianTicks, 7)} ${pad(r.p90Ticks, 5)} ${pad(r.maxTicks, 5)} ${pad(`${r.missed}/${r.runs}`, 7)}`,
  );
console.log(
  `target (1% -> 30% at 100 req/s, 10% canary, within 2 ticks): median ${result.target.medianTicks}, max ${result.target.maxTicks} ticks: ${result.target.met ? 'met' : 'NOT met'}`,
);
console.log(
  `false alarms over good canaries watched ${WATCH_TICKS} ticks (promised ${ALPHA * 1000} per 1,000; target: 95% upper end below ${2 * ALPHA * 1000}):`,
);
for (const f of falseAlarms)
  console.log(
    `  ${pad(f.name, 13)} ${f.history ? 'history   ' : 'no history'} ${pad(`${f.alarms}/${f.goodCanaries}`, 11)} ${pad((f.rate * 1000).toFixed(2), 6)} per 1,000 [${(f.interval95[0]! * 1000).toFixed(2)}, ${(f.interval95[1]! * 1000).toFixed(2)}] ${f.withinPromise ? 'ok' : 'NOT within'}`,
  );
console.log(`wrote bench/results/latency.json in ${result.seconds.toFixed(1)} s`);
