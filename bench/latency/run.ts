// bench/latency: how fast a latency signal halts a slow canary, and how often it fails a good one. Runs the
// production signal judge on simulated histograms (bench/lib/latency-sim.ts): shared gamma burstiness on
// traffic, over-dispersed request counts, clumped slow requests.
//   npx tsx bench/latency/run.ts [--quick] [--runs N] [--good N]
// Prints a table and writes bench/results/latency.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { ALPHA, runLatencyCanary, STEP, type LatencyCell } from '../lib/latency-sim.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MAX_TICKS = quick ? 240 : 480; // 1 h / 2 h of watching
const RUNS = flag('--runs', quick ? 15 : 41);
const GOOD = flag('--good', quick ? 400 : 3000);
const WATCH_TICKS = 120; // good canaries are watched for 30 minutes

const q = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
};

const t0 = Date.now();
const rows: Record<string, unknown>[] = [];
let seed = 1;
for (const canarySlow of [0.02, 0.05, 0.3])
  for (const total of [10, 100])
    for (const [dispersion, slowDispersion] of [
      [1, 1],
      [2, 3],
    ] as const) {
      const c: LatencyCell = { total, weight: 0.1, baselineSlow: 0.01, canarySlow, dispersion, slowDispersion };
      const ticks: number[] = [];
      let missed = 0;
      for (let r = 0; r < RUNS; r++) {
        const k = runLatencyCanary(seed++, c, MAX_TICKS).tick;
        if (k === null) missed++;
        ticks.push(k ?? MAX_TICKS + 1); // censored runs count as beyond the horizon: a median of decided runs would flatter
      }
      const med = q(ticks, 0.5) as number;
      const p90 = q(ticks, 0.9) as number;
      rows.push({
        slowShare: `1% -> ${canarySlow * 100}%`,
        canarySlow,
        totalPerS: total,
        weight: 0.1,
        dispersion,
        slowDispersion,
        runs: RUNS,
        missed,
        medianTicks: med > MAX_TICKS ? null : med,
        p90Ticks: p90 > MAX_TICKS ? null : p90,
        maxTicks: Math.max(...ticks) > MAX_TICKS ? null : Math.max(...ticks),
        medianSeconds: med > MAX_TICKS ? null : med * STEP,
      });
    }

// False alarms: good canaries (the canary as slow as its baseline), watched 30 minutes, under named
// robustness conditions; within each, runs cycle over traffic 1 to 300 req/s, weights 5 to 50% and
// baseline slow shares 0.1% to 5%.
const cycle = { totals: [1, 10, 100, 300], weights: [0.05, 0.1, 0.5], slowShares: [0.001, 0.01, 0.05] };
const conditions: { name: string; dispersion: number; slowDispersion: number; sharedSlowShape?: number }[] = [
  { name: 'Poisson requests, binomial slow share', dispersion: 1, slowDispersion: 1 },
  { name: 'requests 2x Poisson, bursty traffic', dispersion: 2, slowDispersion: 1 },
  {
    name: 'slow share swinging in both arms (slow dependency, gamma shape 4)',
    dispersion: 1.5,
    slowDispersion: 1,
    sharedSlowShape: 4,
  },
  { name: 'slow requests clumped per arm, 2x binomial (stalled pod)', dispersion: 1.5, slowDispersion: 2 },
  { name: 'slow requests clumped per arm, 3x binomial', dispersion: 1.5, slowDispersion: 3 },
  { name: 'slow requests clumped per arm, 10x binomial', dispersion: 1.5, slowDispersion: 10 },
];
const perCondition = Math.ceil(GOOD / conditions.length);
const falseAlarms = conditions.map((cond, k) => {
  let alarms = 0;
  for (let r = 0; r < perCondition; r++) {
    const share = cycle.slowShares[Math.floor(r / 12) % 3] as number;
    const c: LatencyCell = {
      total: cycle.totals[r % 4] as number,
      weight: cycle.weights[Math.floor(r / 4) % 3] as number,
      baselineSlow: share,
      canarySlow: share,
      dispersion: cond.dispersion,
      slowDispersion: cond.slowDispersion,
      ...(cond.sharedSlowShape ? { sharedSlowShape: cond.sharedSlowShape } : {}),
    };
    if (runLatencyCanary(500000 + 100000 * k + r, c, WATCH_TICKS).tick !== null) alarms++;
  }
  return { ...cond, goodCanaries: perCondition, alarms, rate: alarms / perCondition };
});

const target = rows.find((r) => r.canarySlow === 0.3 && r.totalPerS === 100 && r.dispersion === 1);
const result = {
  command: `npx tsx bench/latency/run.ts${quick ? ' --quick' : ''}`,
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
  falseAlarms: { watchTicks: WATCH_TICKS, promised: ALPHA, cycle, conditions: falseAlarms },
  delays: rows,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latency.json', `${JSON.stringify(result, null, 2)}\n`);

const pad = (x: unknown, n: number) => String(x ?? '-').padStart(n);
console.log(
  `latency: delay to halt in ${STEP}s ticks (median / p90 / max over ${RUNS} runs), 10% canary, alpha=${ALPHA}`,
);
console.log(
  `${pad('slow share', 12)} ${pad('req/s', 6)} ${pad('D', 3)} ${pad('slowD', 6)} ${pad('median', 7)} ${pad('p90', 5)} ${pad('max', 5)} ${pad('missed', 7)}`,
);
for (const r of rows)
  console.log(
    `${pad(r.slowShare, 12)} ${pad(r.totalPerS, 6)} ${pad(r.dispersion, 3)} ${pad(r.slowDispersion, 6)} ${pad(r.medianTicks, 7)} ${pad(r.p90Ticks, 5)} ${pad(r.maxTicks, 5)} ${pad(`${r.missed}/${r.runs}`, 7)}`,
  );
console.log(
  `target (1% -> 30% at 100 req/s, 10% canary, within 2 ticks): median ${result.target.medianTicks}, max ${result.target.maxTicks} ticks: ${result.target.met ? 'met' : 'NOT met'}`,
);
console.log(
  `false alarms over good canaries watched ${WATCH_TICKS} ticks (promised at most ${ALPHA * 1000} per 1,000):`,
);
for (const f of falseAlarms)
  console.log(
    `  ${pad(`${f.alarms}/${f.goodCanaries}`, 8)} ${pad((f.rate * 1000).toFixed(1), 6)} per 1,000  ${f.name}`,
  );
console.log(`wrote bench/results/latency.json in ${result.seconds.toFixed(1)} s`);
