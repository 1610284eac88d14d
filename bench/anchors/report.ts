// Summaries of an anchors grid run: per judge, signal and drop size (and per traffic level), plus false
// alarms on good deploys and the targets checked against Navigator when it ran.
import type { BenchSignal } from '../lib/judges.js';
import { DROPS, LAMBDAS, SIGNALS, type GridRun, type Outcome } from './grid.js';

/**
 * Nearest-rank quantile over all runs, a run that never halted counting as later than the recording
 * (Infinity): a median over decided runs only would flatter a judge that misses. null when the quantile
 * falls on a miss ("after the recording").
 */
export function quantile(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const v = s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number;
  return Number.isFinite(v) ? v : null;
}

export interface Row {
  judge: string;
  signal: BenchSignal;
  drop: number;
  lambda: number | 'all';
  runs: number;
  missed: number;
  errorHalts: number;
  medianDelaySeconds: number | null;
  p90DelaySeconds: number | null;
  medianDelayTicks: number | null;
  p90DelayTicks: number | null;
  medianOrdersLost: number;
  p90OrdersLost: number;
  /** the information floor ln(1/alpha)/I at alpha 0.001, median over the runs */
  medianBoundSeconds: number | null;
  /** this judge's delay over Navigator's, same runs (null without Navigator or when either is a miss) */
  medianOverNavigator: number | null;
  p90OverNavigator: number | null;
}

export interface FalseAlarms {
  judge: string;
  goodDeploys: number;
  /** per 1,000 good deploys halted within the recording, per signal and on either signal */
  orders: number;
  errors: number;
  either: number;
  /** the same within the first hour, the span where a rollout would usually have been promoted */
  firstHour: { orders: number; errors: number; either: number };
}

const round = (x: number | null, digits = 1) => (x === null ? null : +x.toFixed(digits));

function rowOf(
  judge: string,
  signal: BenchSignal,
  drop: number,
  lambda: number | 'all',
  os: Outcome[],
  tick: number,
): Row {
  const delays = os.map((o) => o.delaySeconds ?? Infinity);
  const lost = os.map((o) => o.ordersLost);
  const median = quantile(delays, 0.5);
  const p90 = quantile(delays, 0.9);
  return {
    judge,
    signal,
    drop,
    lambda,
    runs: os.length,
    missed: os.filter((o) => o.tick === null).length,
    errorHalts: os.filter((o) => o.error).length,
    medianDelaySeconds: median,
    p90DelaySeconds: p90,
    medianDelayTicks: median === null ? null : median / tick,
    p90DelayTicks: p90 === null ? null : p90 / tick,
    medianOrdersLost: round(quantile(lost, 0.5)) ?? 0,
    p90OrdersLost: round(quantile(lost, 0.9)) ?? 0,
    medianBoundSeconds: round(
      quantile(
        os.map((o) => o.boundSeconds),
        0.5,
      ),
      3,
    ),
    medianOverNavigator: null,
    p90OverNavigator: null,
  };
}

export function summarize(run: GridRun, judges: string[], navigator: string | null, tickSeconds: number) {
  const rows: Row[] = [];
  const by = new Map<string, Outcome[]>();
  const key = (j: string, s: string, d: number, l: number | 'all') => `${j}|${s}|${d}|${l}`;
  for (const o of run.outcomes)
    for (const l of ['all', o.lambda] as const) {
      const k = key(o.judge, o.signal, o.drop, l);
      const list = by.get(k) ?? [];
      list.push(o);
      by.set(k, list);
    }
  for (const lambda of ['all', ...LAMBDAS] as const)
    for (const signal of SIGNALS)
      for (const drop of DROPS) {
        const nav = navigator
          ? rowOf(navigator, signal, drop, lambda, by.get(key(navigator, signal, drop, lambda)) ?? [], tickSeconds)
          : null;
        for (const j of judges) {
          const r = rowOf(j, signal, drop, lambda, by.get(key(j, signal, drop, lambda)) ?? [], tickSeconds);
          if (nav) {
            const ratio = (a: number | null, b: number | null) =>
              a !== null && b !== null && b > 0 ? round(a / b) : null;
            r.medianOverNavigator = ratio(r.medianDelaySeconds, nav.medianDelaySeconds);
            r.p90OverNavigator = ratio(r.p90DelaySeconds, nav.p90DelaySeconds);
          }
          rows.push(r);
        }
      }
  const firstHourTicks = 3600 / tickSeconds;
  const falseAlarms: FalseAlarms[] = judges.map((j) => {
    const mine = run.good.filter((o) => o.judge === j);
    const deploys = new Map<number, { orders: Outcome; errors: Outcome }>();
    for (const o of mine) {
      const d = deploys.get(o.seed) ?? { orders: o, errors: o };
      d[o.signal] = o;
      deploys.set(o.seed, d);
    }
    const n = deploys.size;
    const per1000 = (f: (d: { orders: Outcome; errors: Outcome }) => boolean) =>
      n ? (round(([...deploys.values()].filter(f).length / n) * 1000, 2) ?? 0) : 0;
    const halted = (o: Outcome, limit = Infinity) => o.tick !== null && o.tick < limit;
    return {
      judge: j,
      goodDeploys: n,
      orders: per1000((d) => halted(d.orders)),
      errors: per1000((d) => halted(d.errors)),
      either: per1000((d) => halted(d.orders) || halted(d.errors)),
      firstHour: {
        orders: per1000((d) => halted(d.orders, firstHourTicks)),
        errors: per1000((d) => halted(d.errors, firstHourTicks)),
        either: per1000((d) => halted(d.orders, firstHourTicks) || halted(d.errors, firstHourTicks)),
      },
    };
  });
  return { rows, falseAlarms, targets: navigator ? targets(rows, falseAlarms, navigator, judges) : null };
}

/**
 * The targets, on orders over all traffic levels: Navigator's median delay at a 99% collapse at
 * least 10x below the fastest reference's, below every reference's at every drop size, and fewer false
 * alarms than each reference (either signal).
 */
function targets(rows: Row[], fa: FalseAlarms[], navigator: string, judges: string[]) {
  const refs = judges.filter((j) => j !== navigator);
  const at = (j: string, d: number) =>
    rows.find((r) => r.judge === j && r.signal === 'orders' && r.drop === d && r.lambda === 'all')
      ?.medianDelaySeconds ?? null;
  const inf = (x: number | null) => x ?? Infinity;
  const nav99 = inf(at(navigator, 0.99));
  const fastest99 = Math.min(...refs.map((j) => inf(at(j, 0.99))));
  const navFa = fa.find((f) => f.judge === navigator)?.either ?? Infinity;
  return {
    tenTimesFasterAtCollapse: nav99 * 10 <= fastest99,
    collapseSpeedup: Number.isFinite(fastest99) && nav99 > 0 ? round(fastest99 / nav99) : null,
    fasterAtEveryDrop: DROPS.every((d) => refs.every((j) => inf(at(navigator, d)) < inf(at(j, d)))),
    fewerFalseAlarmsThanEach: refs.every((j) => navFa < (fa.find((f) => f.judge === j)?.either ?? -1)),
  };
}
