// bench/anchors: Navigator's judge next to the reference judges of Flagger, Argo Rollouts and Kayenta
// (bench/anchors/judges.ts), on the same simulated canary recordings.
//   npx tsx bench/anchors/run.ts [--quick]
// Prints a table and writes bench/results/anchors.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { gamma, mulberry32, overdispersed } from '../../test/support/random.js';
import { argo, flagger, kayenta, navigator, TICK, type Judge, type Recording } from './judges.js';

const quick = process.argv.includes('--quick');
const HOURS = 3;
const TICKS = (HOURS * 3600) / TICK;
const SEEDS = quick ? 4 : 12;
const GOOD = quick ? 240 : 1200;

function record(seed: number, total: number, weight: number, drop: number, bursty: boolean): Recording {
  const rng = mulberry32(seed);
  const r: Recording = { weight, canaryOrders: [], baselineOrders: [], expectedCanaryOrders: [], drop };
  for (let i = 0; i < TICKS; i++) {
    const burst = bursty ? gamma(rng, 20) / 20 : 1;
    const mu = total * TICK * burst;
    r.expectedCanaryOrders.push(total * TICK * weight);
    r.canaryOrders.push(overdispersed(rng, mu * weight * (1 - drop), 1.3));
    r.baselineOrders.push(overdispersed(rng, mu * (1 - weight), 1.3));
  }
  return r;
}

/** The part of the recording a judge watches before it promotes. */
function cut(r: Recording, j: Judge): Recording {
  const n = Math.round(j.lifetimeSeconds / TICK);
  return {
    ...r,
    canaryOrders: r.canaryOrders.slice(0, n),
    baselineOrders: r.baselineOrders.slice(0, n),
    expectedCanaryOrders: r.expectedCanaryOrders.slice(0, n),
  };
}

const judges: Judge[] = [navigator, flagger(5), flagger(10), argo, kayenta];
const drops = [0.99, 0.5, 0.2, 0.1, 0.05];
const totals = [0.5, 5, 50, 500];
const weights = [0.05, 0.1, 0.5];
const q = (xs: number[], p: number) =>
  xs.length ? ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number) : null;

interface Acc {
  delays: number[];
  lost: number[];
  missed: number;
  runs: number;
}
const acc = new Map<string, Acc>();
const get = (judge: string, drop: number, total: number | 'all') => {
  const k = `${judge}|${drop}|${total}`;
  if (!acc.has(k)) acc.set(k, { delays: [], lost: [], missed: 0, runs: 0 });
  return acc.get(k) as Acc;
};

let seed = 1;
const t0 = Date.now();
for (const drop of drops)
  for (const total of totals)
    for (const weight of weights)
      for (const bursty of [false, true])
        for (let s = 0; s < SEEDS; s++) {
          const rec = record(seed++, total, weight, drop, bursty);
          for (const j of judges) {
            const k = j.decide(cut(rec, j));
            for (const a of [get(j.name, drop, 'all'), get(j.name, drop, total)]) {
              a.runs++;
              if (k === null) {
                a.missed++;
                // Orders lost over the whole recording when the judge never acts.
                a.lost.push(rec.expectedCanaryOrders.reduce((x, y) => x + y, 0) * drop);
                continue;
              }
              a.delays.push((k + 1) * TICK);
              a.lost.push(rec.expectedCanaryOrders.slice(0, k + 1).reduce((x, y) => x + y, 0) * drop);
            }
          }
        }

const falseAlarms: Record<string, number> = {};
for (let g = 0; g < GOOD; g++) {
  const rec = record(
    900000 + g,
    totals[g % totals.length] as number,
    weights[g % weights.length] as number,
    0,
    g % 2 === 1,
  );
  for (const j of judges) if (j.decide(cut(rec, j)) !== null) falseAlarms[j.name] = (falseAlarms[j.name] ?? 0) + 1;
}

// Delays are quantiles over all runs, a run that never acted counting as "after the recording" (censored):
// a median over decided runs only would flatter a judge that misses.
const CENSORED = (TICKS + 1) * TICK;
const withMissed = (a: Acc) => [...a.delays, ...Array<number>(a.missed).fill(CENSORED)];
const shown = (x: number | null) => (x === null || x >= CENSORED ? null : x);
const rows = [];
for (const total of ['all', ...totals] as const)
  for (const drop of drops) {
    const navMedian = shown(q(withMissed(get(navigator.name, drop, total)), 0.5));
    for (const j of judges) {
      const a = get(j.name, drop, total);
      const median = shown(q(withMissed(a), 0.5));
      rows.push({
        judge: j.name,
        totalPerS: total,
        drop,
        runs: a.runs,
        medianDelaySeconds: median,
        p90DelaySeconds: shown(q(withMissed(a), 0.9)),
        medianOrdersLost: +(q(a.lost, 0.5) as number).toFixed(1),
        missed: a.missed,
        delayOverNavigator: median !== null && navMedian ? +(median / navMedian).toFixed(1) : null,
      });
    }
  }
const result = {
  command: `npx tsx bench/anchors/run.ts${quick ? ' --quick' : ''}`,
  recording: {
    hours: HOURS,
    tickSeconds: TICK,
    totalsPerS: totals,
    weights,
    drops,
    burstiness: 'gamma shape 20 on the total each tick, or none',
    dispersion: 1.3,
    seedsPerCell: SEEDS,
  },
  judges: judges.map((j) => ({ name: j.name, settings: j.settings })),
  falseAlarmsPer1000: Object.fromEntries(
    judges.map((j) => [j.name, +(((falseAlarms[j.name] ?? 0) / GOOD) * 1000).toFixed(2)]),
  ),
  goodDeploys: GOOD,
  rows,
  seconds: (Date.now() - t0) / 1000,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/anchors.json', `${JSON.stringify(result, null, 2)}\n`);

const pad = (x: unknown, n: number) => String(x ?? '-').padStart(n);
console.log(
  `${pad('judge', 22)} ${pad('total/s', 7)} ${pad('drop', 5)} ${pad('median s', 9)} ${pad('p90 s', 7)} ${pad('orders lost', 12)} ${pad('missed', 8)} ${pad('x Navigator', 12)}`,
);
for (const r of rows.filter((x) => x.totalPerS === 'all' || x.totalPerS === 50))
  console.log(
    `${pad(r.judge, 22)} ${pad(r.totalPerS, 7)} ${pad(r.drop, 5)} ${pad(r.medianDelaySeconds, 9)} ${pad(r.p90DelaySeconds, 7)} ${pad(r.medianOrdersLost, 12)} ${pad(`${r.missed}/${r.runs}`, 8)} ${pad(r.delayOverNavigator, 12)}`,
  );
console.log(
  `false alarms per 1,000 good deploys (${GOOD} good deploys, 3 h each): ${Object.entries(result.falseAlarmsPer1000)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`,
);
console.log(`wrote bench/results/anchors.json in ${result.seconds.toFixed(1)} s`);
