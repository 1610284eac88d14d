// bench/always: the always-on watch (watch: always) on real series with real outages and on simulated
// ones with the phenomena real series show. For each real recording (../shared/outages, ../shared/datasets:
// every folder with an expect.json listing incident windows) it runs `navigator backtest` (the same code
// path as the CLI) and reports the delay from the start of each must-hit window (the first tick that shows
// the outage) to the page, and pages outside the labelled windows per series-week, warm-up included. The
// simulated part replays seeded series through the same AlwaysWatch: bursty good weeks, a surge, a spike,
// a holiday, a level shift, a collapse during warm-up and a collapse inside an open partial-drop episode.
//   npm run build && npx tsx bench/always/run.ts [--seeds N] [--first SEED] [--shared DIR] [--only TEXT]
// Prints a table and writes bench/results/always.json.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backtestCommand } from '../../src/cli/backtest.js';
import { alwaysStatus, newAlwaysWatch, stepAlways } from '../../src/watch/always-watch.js';
import { gamma, mulberry32, poisson } from '../lib/random.js';
import { informationBound, type Bound } from './bound.js';

const args = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] as string) : def;
};
const SEEDS = Number(flag('--seeds', '20'));
/** `--first N`: the first seed (1000 by default), to check a result on another block of seeds */
const FIRST = Number(flag('--first', '1000'));
const SHARED = flag('--shared', join(import.meta.dirname, '../../../shared'));
/** `--only TEXT`: only the simulated phenomena whose name holds TEXT, and no real series (a quick look) */
const ONLY = flag('--only', '');
const t = (s: string) => Date.parse(s) / 1000;
const WEEK = 7 * 86400;
/** the warm-up row's runs as a multiple of --seeds */
const WARMUP_RUNS = 25;

interface RealRow {
  series: string;
  step: number;
  weeks: number;
  armedAt: string | null;
  incidents: number;
  outside: number;
  falsePerWeek: number;
  delays: { window: string; delayS: number | null; ticks: number | null }[];
  seconds: number;
}

/** Real series judged again with a calendar declared (evaluation.holidays): what declaring holidays buys. */
interface Variant {
  of: string;
  label: string;
  holidays: string[];
}
const VARIANTS: Variant[] = [
  {
    of: 'datasets/nyc-taxi',
    label: '+ holidays',
    // the US federal holidays in the recording (Independence, Labor, Columbus, Veterans, Thanksgiving,
    // Christmas, New Year, Martin Luther King Day): a calendar anyone would declare, not the labels
    holidays: [
      '2014-07-04',
      '2014-09-01',
      '2014-10-13',
      '2014-11-11',
      '2014-11-27',
      '2014-12-25',
      '2015-01-01',
      '2015-01-19',
    ],
  },
];

async function real(): Promise<RealRow[]> {
  const rows: RealRow[] = [];
  for (const group of ['outages', 'datasets']) {
    const root = join(SHARED, group);
    if (!existsSync(root)) continue;
    for (const [name, variant] of readdirSync(root)
      .sort()
      .flatMap((n): [string, Variant | null][] => [
        [n, null],
        ...VARIANTS.filter((v) => v.of === `${group}/${n}`).map((v): [string, Variant] => [n, v]),
      ])) {
      const dir = join(root, name);
      if (!existsSync(join(dir, 'expect.json')) || !existsSync(join(dir, 'data.om'))) continue;
      const expect = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8'));
      const e = expect.incidents;
      if (!e) continue;
      let config = join(dir, 'navigator.yaml');
      if (variant) {
        // the same recording and labels, with the holidays declared in a copy of its configuration
        const text = readFileSync(config, 'utf8').replace(
          /^evaluation:\n/m,
          `evaluation:\n  holidays: [${variant.holidays.join(', ')}]\n`,
        );
        config = join(mkdtempSync(join(tmpdir(), 'always-bench-')), 'navigator.yaml');
        writeFileSync(config, text);
      }
      const started = process.hrtime.bigint();
      const r = await backtestCommand({
        config,
        data: join(dir, 'data.om'),
        deploys: join(dir, 'deploys.json'),
        json: true,
      });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const step = r.range.step;
      const incs = r.incidents.filter((i) => !e.signal || i.signal === e.signal);
      const inWin = (at: string, w: string[]) => t(at) >= t(w[0] as string) && t(at) <= t(w[1] as string);
      const windows: string[][] = [...(e.mustHit ?? []), ...(e.ignore ?? [])];
      const outside = incs.filter((i) => !windows.some((w) => inWin(i.detectedAt, w))).length;
      const weeks = (t(r.range.to) - t(r.range.from)) / WEEK;
      const delays = (e.mustHit ?? []).map((w: string[]) => {
        const hit = incs.find(
          (i) => t(i.detectedAt) >= t(w[0] as string) && t(i.detectedAt) <= t(w[1] as string) + 86400,
        );
        const d = hit ? t(hit.detectedAt) - t(w[0] as string) : null;
        return { window: w[2] ?? w[0], delayS: d, ticks: d === null ? null : d / step + 1 };
      });
      rows.push({
        series: `${group}/${name}${variant ? ` ${variant.label}` : ''}`,
        step,
        weeks: round(weeks),
        armedAt: r.watches[0]?.armedAt ?? null,
        incidents: incs.length,
        outside,
        falsePerWeek: round(outside / weeks),
        delays,
        seconds: round(seconds),
      });
    }
  }
  return rows;
}

// ---- simulated series: 5-minute ticks, a daily cycle with quiet nights, quieter weekends, gamma bursts.
const STEP = 300;
const DAY = 86400 / STEP;
const T0 = 1_700_000_000 - (1_700_000_000 % 86400);

interface Phenomenon {
  name: string;
  days: number;
  base: number;
  burst: number;
  /** multiplier on the rate at tick i */
  factor: (i: number) => number;
  /** ticks where a page is wanted: [from, to); delay measured from `from` */
  wanted?: [number, number][];
  /** ticks where pages are neither wanted nor counted */
  ignore?: [number, number][];
  /** the target delay in ticks (a 50% drop for an hour: paged within its 12 ticks): runs within it are counted */
  target?: number;
  /** runs as a multiple of --seeds (a rare event needs more series than a delay does) */
  seedsFactor?: number;
}

const holiday = 16 * DAY;
const phenomena: Phenomenon[] = [
  { name: 'good, bursty (shape 3)', days: 28, base: 40, burst: 3, factor: () => 1 },
  { name: 'good, steady (shape 50)', days: 28, base: 400, burst: 50, factor: () => 1 },
  // Warm-up on a very bursty series: the first days, when the collapse test's windows are only the two
  // hours before and yesterday's (where a plug-in tail paged quiet ticks). 25x the seeds: 2,000 series-days.
  {
    name: 'warm-up, bursty (shape 3), first 4 days',
    days: 4,
    base: 40,
    burst: 3,
    factor: () => 1,
    seedsFactor: WARMUP_RUNS,
  },
  {
    name: 'surge x4 for 4 h, then normal',
    days: 21,
    base: 40,
    burst: 6,
    factor: (i) => (i >= 14 * DAY + 100 && i < 14 * DAY + 148 ? 4 : 1),
  },
  {
    name: 'spike x20 for 10 min',
    days: 21,
    base: 40,
    burst: 6,
    factor: (i) => (i >= 14 * DAY + 130 && i < 14 * DAY + 132 ? 20 : 1),
  },
  {
    name: 'holiday: a day at 50%',
    days: 28,
    base: 200,
    burst: 20,
    factor: (i) => (i >= holiday && i < holiday + DAY ? 0.5 : 1),
    ignore: [[holiday, holiday + DAY + 12]],
  },
  {
    name: 'level shift down 30% for good',
    days: 28,
    base: 200,
    burst: 20,
    factor: (i) => (i >= 14 * DAY ? 0.7 : 1),
    ignore: [[14 * DAY, 15 * DAY + 12]],
  },
  {
    name: 'outage (zero for 2 h) during warm-up, day 2',
    days: 3,
    base: 30,
    burst: 4,
    factor: (i) => (i >= 2 * DAY + 140 && i < 2 * DAY + 164 ? 0 : 1),
    wanted: [[2 * DAY + 140, 2 * DAY + 164]],
    ignore: [[2 * DAY + 140, 2 * DAY + 200]],
  },
  {
    name: 'outage at night (zero for 2 h), bursty',
    days: 21,
    base: 40,
    burst: 3,
    factor: (i) => (i >= 20 * DAY + 60 && i < 20 * DAY + 84 ? 0 : 1),
    wanted: [[20 * DAY + 60, 20 * DAY + 84]],
    ignore: [[20 * DAY + 60, 20 * DAY + 120]],
  },
  {
    name: '50% drop for 2 h, shape 100',
    days: 22,
    base: 200,
    burst: 100,
    factor: (i) => (i >= 21 * DAY + 130 && i < 21 * DAY + 154 ? 0.5 : 1),
    wanted: [[21 * DAY + 130, 21 * DAY + 154]],
    ignore: [[21 * DAY + 130, 21 * DAY + 190]],
  },
  {
    name: '50% drop for 1 h, shape 20',
    days: 22,
    base: 200,
    burst: 20,
    factor: (i) => (i >= 21 * DAY + 130 && i < 21 * DAY + 142 ? 0.5 : 1),
    wanted: [[21 * DAY + 130, 21 * DAY + 130 + 60]],
    target: 12,
    ignore: [[21 * DAY + 130, 21 * DAY + 190]],
  },
  {
    name: '50% drop for 1 h, shape 3',
    days: 22,
    base: 200,
    burst: 3,
    factor: (i) => (i >= 21 * DAY + 130 && i < 21 * DAY + 142 ? 0.5 : 1),
    wanted: [[21 * DAY + 130, 21 * DAY + 130 + 60]],
    target: 12,
    ignore: [[21 * DAY + 130, 21 * DAY + 190]],
  },
  {
    name: '50% drop for 1 h at night, shape 20',
    days: 22,
    base: 200,
    burst: 20,
    factor: (i) => (i >= 21 * DAY + 40 && i < 21 * DAY + 52 ? 0.5 : 1),
    wanted: [[21 * DAY + 40, 21 * DAY + 40 + 60]],
    target: 12,
    ignore: [[21 * DAY + 40, 21 * DAY + 100]],
  },
  {
    name: 'outage inside an open 50% drop',
    days: 22,
    base: 200,
    burst: 100,
    factor: (i) => {
      const d = 21 * DAY + 130;
      return i >= d + 30 && i < d + 54 ? 0 : i >= d && i < d + 60 ? 0.5 : 1;
    },
    wanted: [
      [21 * DAY + 130, 21 * DAY + 160],
      [21 * DAY + 160, 21 * DAY + 184],
    ],
    ignore: [[21 * DAY + 130, 21 * DAY + 220]],
  },
];

function mean(i: number, base: number): number {
  const day = Math.floor(i / DAY);
  const phase = (2 * Math.PI * (i % DAY)) / DAY;
  return base * (1 + 0.7 * Math.sin(phase - Math.PI / 2)) * (day % 7 >= 5 ? 0.7 : 1) + 1;
}

function simulate(p: Phenomenon, seed: number) {
  const rng = mulberry32(seed);
  const w = newAlwaysWatch({
    service: 's',
    signal: 'orders',
    direction: 'drop',
    step: STEP,
    start: T0,
    meanTicksBetweenFalsePages: (90 * 86400) / STEP,
    minEffect: 0.05,
  });
  const pages: number[] = [];
  const tests = new Map<number, string>();
  let armedTick: number | null = null;
  for (let i = 0; i < p.days * DAY; i++) {
    const mu = mean(i, p.base) * (gamma(rng, p.burst) / p.burst) * p.factor(i);
    const inc = stepAlways(w, T0 + i * STEP, poisson(rng, mu));
    if (inc) {
      pages.push(i);
      tests.set(i, inc.evidence.test);
    }
    if (armedTick === null && alwaysStatus(w).state === 'armed') armedTick = i;
  }
  const within = (i: number, ws: [number, number][] | undefined) => (ws ?? []).some(([a, b]) => i >= a && i < b);
  const false_ = pages.filter((i) => !within(i, p.wanted) && !within(i, p.ignore));
  const outside = false_.length;
  // which test paged falsely, and when (day of the replay, hour): the collapse test or the forecast detector
  const falsePages = false_.map((i) => ({
    seed,
    test: tests.get(i) as string,
    day: Math.floor(i / DAY),
    hour: Math.round(((i % DAY) * STEP) / 360) / 10,
  }));
  const delays = (p.wanted ?? []).map(([a, b]) => {
    const hit = pages.find((i) => i >= a && i < b);
    return hit === undefined ? null : hit - a + 1;
  });
  return { outside, falsePages, delays, armedTick };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}
const round = (x: number) => Math.round(x * 1000) / 1000;

const realRows = ONLY ? [] : await real();
console.log('Real series (navigator backtest --data <recording>; delay from the first tick that shows the outage):');
console.log(
  'series                                 step  weeks  incidents  outside  false/week  delays (ticks, 1 = the first tick)  s',
);
for (const r of realRows)
  console.log(
    `${r.series.padEnd(38)} ${String(r.step).padStart(5)} ${r.weeks.toFixed(1).padStart(6)} ${String(r.incidents).padStart(10)} ${String(r.outside).padStart(8)} ${r.falsePerWeek.toFixed(2).padStart(11)}  ${r.delays
      .map((d) => (d.ticks === null ? 'missed' : String(d.ticks)))
      .join(', ')
      .padEnd(36)} ${r.seconds.toFixed(1)}`,
  );

const simRows = phenomena
  .filter((p) => p.name.includes(ONLY))
  .map((p) => {
    const n = SEEDS * (p.seedsFactor ?? 1);
    const runs = Array.from({ length: n }, (_, s) => simulate(p, FIRST + s));
    const weeks = (p.days * n) / 7;
    const outside = runs.reduce((a, r) => a + r.outside, 0);
    const delays = (p.wanted ?? []).map((_, k) => {
      const ds = runs.map((r) => r.delays[k]);
      const hit = ds.filter((d): d is number => d !== null && d !== undefined);
      return {
        medianTicks: median(hit),
        maxTicks: hit.length ? Math.max(...hit) : null,
        missed: ds.length - hit.length,
        withinTarget: p.target === undefined ? null : hit.filter((d) => d <= (p.target as number)).length,
      };
    });
    // What an oracle (onset, size, level and burst law known) gains over the target time: the bound.
    let bound: Bound | null = null;
    const w0 = p.wanted?.[0];
    if (p.target !== undefined && w0) {
      const means = Array.from({ length: p.target }, (_, j) => mean(w0[0] + j, p.base));
      bound = informationBound(means, p.burst, Math.log(2 * ((90 * 86400) / STEP)));
    }
    return {
      phenomenon: p.name,
      bound,
      runs: n,
      seriesWeeks: round(weeks),
      falsePages: outside,
      falsePageDetails: runs.flatMap((r) => r.falsePages),
      falsePerWeek: round(outside / weeks),
      delays,
    };
  });
console.log(
  `\nSimulated series (${SEEDS} seeds each, the warm-up row ${SEEDS * WARMUP_RUNS}; 5-minute ticks; pages outside the wanted/ignored windows are false):`,
);
console.log(
  'phenomenon                                     series-weeks  false pages  per week  delay ticks (median, max, missed)',
);
for (const r of simRows)
  console.log(
    `${r.phenomenon.padEnd(46)} ${r.seriesWeeks.toFixed(1).padStart(12)} ${String(r.falsePages).padStart(12)} ${r.falsePerWeek.toFixed(3).padStart(9)}  ${r.delays.map((d) => `${d.medianTicks}, ${d.maxTicks}, ${d.missed}${d.withinTarget === null ? '' : ` (${d.withinTarget} of ${r.runs} within the hour)`}`).join(' | ')}`,
  );

for (const r of simRows)
  for (const f of r.falsePageDetails)
    console.log(`  false page: ${r.phenomenon}, seed ${f.seed}, day ${f.day} at ${f.hour} h, ${f.test}`);
console.log(
  '\nInformation bound over the hour (an oracle knowing onset, size, level and burst law; threshold ln 2T at 90 days):',
);
for (const r of simRows)
  if (r.bound)
    console.log(
      `${r.phenomenon.padEnd(46)} ${r.bound.perTick.toFixed(2)} nats a tick, ${r.bound.nats.toFixed(1)} in the hour against ${r.bound.threshold.toFixed(1)}: at least ~${r.bound.minTicks.toFixed(1)} ticks on average (Lorden); the oracle within the hour in ${(100 * r.bound.oracleWithin).toFixed(1)}%`,
    );

mkdirSync(join(import.meta.dirname, '../results'), { recursive: true });
if (!ONLY)
  writeFileSync(
    join(import.meta.dirname, '../results/always.json'),
    `${JSON.stringify({ command: 'npx tsx bench/always/run.ts', seeds: SEEDS, real: realRows, simulated: simRows }, null, 2)}\n`,
  );
