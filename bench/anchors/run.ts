// bench/anchors: Navigator's judge next to the reference judges of Flagger, Argo Rollouts and Kayenta
// (bench/lib/judges.ts) on the same simulated canary recordings (bench/lib/simulate.ts).
//   npx tsx bench/anchors/run.ts [--quick] [--without-navigator] [--out FILE] [--split-sd X]
// Prints tables and writes bench/results/anchors.json (other names for partial runs, so a reference-only
// or quick run never overwrites the full results).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { referenceJudges, type BenchJudge } from '../lib/judges.js';
import { navigatorJudge } from '../lib/navigator-judge.js';
import {
  BOUND_ALPHA,
  BURST_SHAPE,
  DIURNAL_AMPLITUDE,
  DROPS,
  LAMBDAS,
  TICK_SECONDS,
  WEIGHTS,
  runGrid,
  type GridOptions,
} from './grid.js';
import { summarize, type Row } from './report.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag('--quick');
const withNavigator = !flag('--without-navigator');
const splitSd = Number(option('--split-sd') ?? 0);
const out =
  option('--out') ?? `bench/results/anchors${quick ? '-quick' : ''}${withNavigator ? '' : '-references'}.json`;

function loadNavigator(): BenchJudge {
  try {
    return navigatorJudge();
  } catch (e) {
    console.error(`${(e as Error).message}\nrun with --without-navigator for the reference judges alone`);
    process.exit(1);
  }
}
const navigator = withNavigator ? loadNavigator() : null;
const judges: BenchJudge[] = [...(navigator ? [navigator] : []), ...referenceJudges()];
const options: GridOptions = { quick, splitSd };
const t0 = Date.now();
const run = runGrid(judges, options);
const names = judges.map((j) => j.name);
const summary = summarize(run, names, navigator?.name ?? null, TICK_SECONDS);
const seconds = (Date.now() - t0) / 1000;

const result = {
  command: `npx tsx bench/anchors/run.ts ${args.join(' ')}`.trim(),
  recordings: {
    hours: run.shape.hours,
    tickSeconds: TICK_SECONDS,
    onsetTick: 0,
    drops: DROPS,
    totalRatesPerSecond: LAMBDAS,
    canaryWeights: WEIGHTS,
    burstiness: `none, or a shared gamma multiplier (shape ${BURST_SHAPE}) on the total rate each tick`,
    dispersion: 'per-arm variance D times the mean, D uniform on [1, 2] per recording',
    diurnal: `24 h sine, amplitude ${DIURNAL_AMPLITUDE}, random phase`,
    errorRatio: 'p0 0.001; after the onset the canary has 1 - (1 - p0)(1 - drop)',
    splitSd: run.shape.splitSd,
    regressionsPerDrop: (run.outcomes.length / DROPS.length / judges.length / 2) | 0,
    seedsPerCell: run.shape.seedsPerCell,
    goodDeploys: summary.falseAlarms[0]?.goodDeploys ?? 0,
    boundAlpha: BOUND_ALPHA,
  },
  judges: judges.map((j) => ({ name: j.name, settings: j.settings, source: j.source })),
  targets: summary.targets,
  falseAlarmsPer1000: summary.falseAlarms,
  rows: summary.rows,
  judgeSeconds: Object.fromEntries(Object.entries(run.judgeSeconds).map(([k, v]) => [k, +v.toFixed(2)])),
  seconds,
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);

const pad = (x: unknown, n: number) => String(x ?? '-').padStart(n);
const head = `${pad('judge', 22)} ${pad('drop', 5)} ${pad('median s', 9)} ${pad('p90 s', 8)} ${pad('orders lost p50', 16)} ${pad('p90', 9)} ${pad('missed', 9)} ${pad('errors', 6)} ${pad('x Nav p50', 9)} ${pad('x Nav p90', 9)}`;
const line = (r: Row) =>
  `${pad(r.judge, 22)} ${pad(r.drop, 5)} ${pad(r.medianDelaySeconds, 9)} ${pad(r.p90DelaySeconds, 8)} ${pad(r.medianOrdersLost, 16)} ${pad(r.p90OrdersLost, 9)} ${pad(`${r.missed}/${r.runs}`, 9)} ${pad(r.errorHalts, 6)} ${pad(r.medianOverNavigator, 9)} ${pad(r.p90OverNavigator, 9)}`;
for (const signal of ['orders', 'errors'] as const) {
  console.log(`\n${signal}, all traffic levels ("-": after the ${run.shape.hours} h recording)`);
  console.log(head);
  for (const r of summary.rows.filter((x) => x.signal === signal && x.lambda === 'all')) console.log(line(r));
}
console.log(
  `\nfalse alarms per 1,000 good deploys (${result.recordings.goodDeploys} deploys, ${run.shape.hours} h each)`,
);
console.log(
  `${pad('judge', 22)} ${pad('orders', 8)} ${pad('errors', 8)} ${pad('either', 8)} ${pad('either, 1st hour', 17)}`,
);
for (const f of summary.falseAlarms)
  console.log(
    `${pad(f.judge, 22)} ${pad(f.orders, 8)} ${pad(f.errors, 8)} ${pad(f.either, 8)} ${pad(f.firstHour.either, 17)}`,
  );
if (summary.targets) console.log(`\ntargets: ${JSON.stringify(summary.targets)}`);
console.log(`\nwrote ${out} in ${seconds.toFixed(1)} s (judging: ${JSON.stringify(result.judgeSeconds)})`);
