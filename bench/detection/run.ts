// bench/detection: how fast the judge decides regressions, against the information bound, and how often
// it fails good deploys. Runs the production signal judge (src/watch/signal-judge.ts) tick by tick on
// simulated canaries: shared burstiness (a gamma multiplier on the total rate each tick) and per-arm
// over-dispersion (gamma-Poisson, variance D times the mean).
//   npx tsx bench/detection/run.ts [--quick] [--runs N] [--good N]
// Prints a table and writes bench/results/detection.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { newSignalJudge, stepSignal, type TickInput } from '../../src/watch/signal-judge.js';
import { gamma, mulberry32, overdispersed } from '../../test/support/random.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ALPHA = 0.001;
const STEP = 15;
const MAX_TICKS = quick ? 480 : 1440; // 2 h / 6 h of watching
const RUNS = flag('--runs', quick ? 15 : 41);
const GOOD = flag('--good', quick ? 500 : 2400);
const BURST_SHAPE = 20;

interface Cell {
  drop: number;
  total: number;
  weight: number;
  dispersion: number;
}

function arm(rng: () => number, mean: number, d: number) {
  return { value: overdispersed(rng, mean, d), live: 1 };
}

/** One simulated canary deploy of a count signal; returns the deciding tick (1-based) or null. */
function runCount(seed: number, c: Cell, ticks: number): number | null {
  const rng = mulberry32(seed);
  const s = newSignalJudge({
    name: 'orders',
    kind: 'count',
    mode: 'canary',
    direction: 'drop',
    alpha: ALPHA,
    tolerance: 0.01,
    forecast: null,
    trafficForecast: null,
  });
  for (let t = 0; t < ticks; t++) {
    const mu = c.total * STEP * (gamma(rng, BURST_SHAPE) / BURST_SHAPE);
    const input: TickInput = {
      mode: 'canary',
      weight: c.weight,
      canary: { num: arm(rng, mu * c.weight * (1 - c.drop), c.dispersion), den: null },
      baseline: { num: arm(rng, mu * (1 - c.weight), c.dispersion), den: null },
    };
    if (stepSignal(s, input, t, t, true)) return t + 1;
  }
  return null;
}

/** Error ratio p0 -> p1 in the canary; returns the deciding tick or null. */
function runRatio(seed: number, total: number, weight: number, p0: number, p1: number, ticks: number): number | null {
  const rng = mulberry32(seed);
  const s = newSignalJudge({
    name: 'errors',
    kind: 'ratio',
    mode: 'canary',
    direction: 'rise',
    alpha: ALPHA,
    tolerance: 0.01,
    forecast: null,
    trafficForecast: null,
  });
  for (let t = 0; t < ticks; t++) {
    const mu = total * STEP * (gamma(rng, BURST_SHAPE) / BURST_SHAPE);
    const cr = overdispersed(rng, mu * weight, 1.3);
    const br = overdispersed(rng, mu * (1 - weight), 1.3);
    const input: TickInput = {
      mode: 'canary',
      weight,
      canary: { num: { value: overdispersed(rng, cr * p1, 1), live: 1 }, den: { value: cr, live: 1 } },
      baseline: { num: { value: overdispersed(rng, br * p0, 1), live: 1 }, den: { value: br, live: 1 } },
    };
    if (stepSignal(s, input, t, t, true)) return t + 1;
  }
  return null;
}

/** ln(1/alpha) / I in ticks, I = lambda_c [(1-d) ln(1-d) + d] for the canary's own rate (design §3). */
function boundTicks(c: Cell): number {
  const lambda = c.total * c.weight;
  const i = lambda * ((1 - c.drop) * Math.log(1 - c.drop) + c.drop);
  return Math.log(1 / ALPHA) / i / STEP;
}

/**
 * The same floor for a test that, like Navigator's, conditions on the total (it must, to cancel shared
 * traffic swings): events arrive at lambda (1 - w d) per second and each carries the Kullback-Leibler
 * divergence between the canary shares with and without the drop. Lower than the known-baseline bound,
 * most of all at large weights, where the baseline is as noisy as the canary.
 */
function twoArmBoundTicks(c: Cell): number {
  const t0 = c.weight;
  const t1 = (c.weight * (1 - c.drop)) / (c.weight * (1 - c.drop) + 1 - c.weight);
  const kl = t1 * Math.log(t1 / t0) + (1 - t1) * Math.log((1 - t1) / (1 - t0));
  return Math.log(1 / ALPHA) / (c.total * (1 - c.weight * c.drop) * kl) / STEP;
}

const q = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
};

const drops = [0.99, 0.5, 0.2, 0.1, 0.05];
const totals = quick ? [5, 50, 500] : [0.5, 5, 50, 500];
const weights = quick ? [0.1] : [0.05, 0.1, 0.5];
const dispersions = quick ? [1.3] : [1, 2];
const rows: Record<string, unknown>[] = [];
let seed = 1;
const t0 = Date.now();
for (const drop of drops)
  for (const total of totals)
    for (const weight of weights)
      for (const dispersion of dispersions) {
        const c: Cell = { drop, total, weight, dispersion };
        const ticks: number[] = [];
        let missed = 0;
        for (let r = 0; r < RUNS; r++) {
          const k = runCount(seed++, c, MAX_TICKS);
          if (k === null) missed++;
          else ticks.push(k);
        }
        const bound = boundTicks(c);
        const twoArm = twoArmBoundTicks(c);
        // Censored runs count as MAX_TICKS + 1 in the quantiles: a median over decided runs only would flatter.
        const all = [...ticks, ...Array<number>(missed).fill(MAX_TICKS + 1)];
        const med = q(all, 0.5) as number;
        const p90 = q(all, 0.9) as number;
        rows.push({
          drop,
          totalPerS: total,
          canaryPerS: +(total * weight).toFixed(3),
          weight,
          dispersion,
          runs: RUNS,
          missed,
          medianTicks: med > MAX_TICKS ? null : med,
          p90Ticks: p90 > MAX_TICKS ? null : p90,
          boundTicks: +bound.toFixed(2),
          medianOverBound: med > MAX_TICKS ? null : +(med / Math.max(bound, 1)).toFixed(2),
          twoArmBoundTicks: +twoArm.toFixed(2),
          medianOverTwoArmBound: med > MAX_TICKS ? null : +(med / Math.max(twoArm, 1)).toFixed(2),
          medianOverTwoArmBoundDispersed: med > MAX_TICKS ? null : +(med / Math.max(twoArm * dispersion, 1)).toFixed(2),
        });
      }

// False alarms: good deploys watched for 30 minutes (120 ticks), bursty and over-dispersed up to 2x Poisson.
let alarms = 0;
for (let r = 0; r < GOOD; r++) {
  const c: Cell = {
    drop: 0,
    total: [0.5, 5, 50, 500][r % 4] as number,
    weight: [0.05, 0.1, 0.5][r % 3] as number,
    dispersion: [1, 1.5, 2][r % 3] as number,
  };
  if (runCount(100000 + r, c, 120) !== null) alarms++;
}
const errorTicks: number[] = [];
for (let r = 0; r < RUNS; r++) errorTicks.push(runRatio(200000 + r, 30, 0.1, 0.005, 0.1, 120) ?? 121);

const result = {
  command: `npx tsx bench/detection/run.ts${quick ? ' --quick' : ''}`,
  alpha: ALPHA,
  tickSeconds: STEP,
  maxTicks: MAX_TICKS,
  seconds: (Date.now() - t0) / 1000,
  falseAlarms: { goodDeploys: GOOD, alarms, rate: alarms / GOOD, promised: ALPHA },
  errorRatio: {
    from: 0.005,
    to: 0.1,
    totalPerS: 30,
    weight: 0.1,
    medianTicks: q(errorTicks, 0.5),
    p90Ticks: q(errorTicks, 0.9),
    maxTicks: Math.max(...errorTicks),
  },
  grid: rows,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/detection.json', `${JSON.stringify(result, null, 2)}\n`);

const pad = (x: unknown, n: number) => String(x ?? '-').padStart(n);
console.log(
  `detection delay in ${STEP}s ticks (median / p90), bound = ln(1/alpha)/I for the canary's rate; alpha=${ALPHA}`,
);
console.log(
  `${pad('drop', 5)} ${pad('total/s', 8)} ${pad('w', 5)} ${pad('D', 4)} ${pad('median', 7)} ${pad('p90', 6)} ${pad('bound', 8)} ${pad('x bound', 8)} ${pad('x 2-arm', 8)} ${pad('missed', 7)}`,
);
for (const r of rows) {
  console.log(
    `${pad(r.drop, 5)} ${pad(r.totalPerS, 8)} ${pad(r.weight, 5)} ${pad(r.dispersion, 4)} ${pad(r.medianTicks, 7)} ${pad(r.p90Ticks, 6)} ${pad(r.boundTicks, 8)} ${pad(r.medianOverBound, 8)} ${pad(r.medianOverTwoArmBound, 8)} ${pad(`${r.missed}/${r.runs}`, 7)}`,
  );
}
const small = rows.filter((r) => [0.05, 0.1, 0.2].includes(r.drop as number) && r.medianOverBound !== null);
const summary = {
  smallDropCells: small.length,
  medianOverBound: q(
    small.map((r) => r.medianOverBound as number),
    0.5,
  ),
  medianOverTwoArmBound: q(
    small.map((r) => r.medianOverTwoArmBound as number),
    0.5,
  ),
  medianOverTwoArmBoundDispersed: q(
    small.map((r) => r.medianOverTwoArmBoundDispersed as number),
    0.5,
  ),
  worstOverTwoArmBoundDispersed: Math.max(...small.map((r) => r.medianOverTwoArmBoundDispersed as number)),
};
writeFileSync('bench/results/detection.json', `${JSON.stringify({ ...result, smallDrops: summary }, null, 2)}\n`);
console.log(
  `5-20% drops (${summary.smallDropCells} decided cells): median delay / bound = ${summary.medianOverBound} (known-baseline Poisson bound), ${summary.medianOverTwoArmBound} (two-arm bound), ${summary.medianOverTwoArmBoundDispersed} (two-arm bound x dispersion; worst cell ${summary.worstOverTwoArmBoundDispersed})`,
);
console.log(
  `false alarms: ${alarms} of ${GOOD} good deploys (${((alarms / GOOD) * 1000).toFixed(2)} per 1,000; promised at most ${ALPHA * 1000})`,
);
console.log(
  `error ratio 0.5% -> 10% in a 10% canary at 30 req/s: median ${result.errorRatio.medianTicks} ticks, p90 ${result.errorRatio.p90Ticks}, max ${result.errorRatio.maxTicks}`,
);
console.log(`wrote bench/results/detection.json in ${result.seconds.toFixed(1)} s`);
