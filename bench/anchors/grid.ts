// The anchors grid: the same simulated canary recordings for every judge, each judged on orders and on
// errors, then per judge, signal and drop size: detection delay, orders lost before the halt, misses, and
// false alarms on good deploys. Pure (no I/O), so the test can run a small grid in-process.
import type { BenchJudge, BenchSignal } from '../lib/judges.js';
import { mulberry32 } from '../lib/random.js';
import { delayBoundSeconds, simulate, type RecordingSpec } from '../lib/simulate.js';

export interface GridOptions {
  quick: boolean;
  /** regression recordings per grid cell (drop x traffic x weight x burstiness) */
  seedsPerCell?: number;
  /** good-deploy recordings per cell (traffic x weight x burstiness) */
  goodPerCell?: number;
  /** sd of the log real/nominal canary share (0: the split is exact) */
  splitSd?: number;
}

export const TICK_SECONDS = 15;
export const DROPS = [0.99, 0.5, 0.2, 0.1, 0.05] as const;
export const LAMBDAS = [0.5, 5, 50, 500] as const;
export const WEIGHTS = [0.05, 0.1, 0.5] as const;
/** Shared burstiness when on: gamma shape 20, a per-tick multiplier with sd 22% on the total rate. */
export const BURST_SHAPE = 20;
export const DIURNAL_AMPLITUDE = 0.3;
export const SIGNALS: BenchSignal[] = ['orders', 'errors'];
/** The level Navigator's delay floor is computed at (its default falseAlarmRate). */
export const BOUND_ALPHA = 0.001;

export function gridShape(o: GridOptions) {
  const hours = o.quick ? 2 : 4;
  return {
    hours,
    ticks: (hours * 3600) / TICK_SECONDS,
    seedsPerCell: o.seedsPerCell ?? (o.quick ? 2 : 10),
    goodPerCell: o.goodPerCell ?? (o.quick ? 5 : 42),
    splitSd: o.splitSd ?? 0,
  };
}

interface Cell {
  lambda: number;
  weight: number;
  bursty: boolean;
}

function cells(): Cell[] {
  const out: Cell[] = [];
  for (const lambda of LAMBDAS)
    for (const weight of WEIGHTS) for (const bursty of [false, true]) out.push({ lambda, weight, bursty });
  return out;
}

/** One recording's spec; dispersion and the time of day are drawn from the seed, the rest is the cell. */
function spec(seed: number, cell: Cell, drop: number, ticks: number, splitSd: number): RecordingSpec {
  const r = mulberry32(seed ^ 0x5bd1e995);
  return {
    seed,
    ticks,
    tickSeconds: TICK_SECONDS,
    lambda: cell.lambda,
    weight: cell.weight,
    drop,
    onset: 0,
    dispersion: 1 + r(), // D uniform on [1, 2]
    burstShape: cell.bursty ? BURST_SHAPE : null,
    diurnalAmplitude: DIURNAL_AMPLITUDE,
    diurnalPhase: r(),
    splitSd,
  };
}

export interface Outcome {
  /** the recording's seed: one per recording, shared by its judges and signals */
  seed: number;
  judge: string;
  signal: BenchSignal;
  drop: number;
  lambda: number;
  weight: number;
  bursty: boolean;
  /** halt tick, null if never */
  tick: number | null;
  error: boolean;
  delaySeconds: number | null;
  /** expected canary orders the regression cost until the halt (the whole recording when never) */
  ordersLost: number;
  boundSeconds: number;
}

export interface GridRun {
  outcomes: Outcome[];
  good: Outcome[];
  judgeSeconds: Record<string, number>;
  shape: ReturnType<typeof gridShape>;
}

export function runGrid(judges: BenchJudge[], o: GridOptions): GridRun {
  const shape = gridShape(o);
  const outcomes: Outcome[] = [];
  const good: Outcome[] = [];
  const judgeSeconds: Record<string, number> = Object.fromEntries(judges.map((j) => [j.name, 0]));
  const judgeAll = (rec: ReturnType<typeof simulate>, cell: Cell, into: Outcome[]) => {
    const d = rec.drop;
    const lostPerTick = rec.expectedCanaryOrders.map((e) => e * d);
    const lostUntil: number[] = [];
    let acc = 0;
    for (const l of lostPerTick) lostUntil.push((acc += l));
    const bound = delayBoundSeconds(cell.lambda * rec.realWeight, d, BOUND_ALPHA);
    for (const j of judges)
      for (const signal of SIGNALS) {
        const t0 = performance.now();
        const dec = j.decide(rec, signal);
        judgeSeconds[j.name] = (judgeSeconds[j.name] ?? 0) + (performance.now() - t0) / 1000;
        const tick = dec.tick;
        into.push({
          seed: rec.spec.seed,
          judge: j.name,
          signal,
          drop: d,
          ...cell,
          tick,
          error: dec.error === true,
          delaySeconds: tick === null ? null : (tick + 1 - rec.onset) * rec.tickSeconds,
          ordersLost: tick === null ? acc : tick < rec.onset ? 0 : (lostUntil[tick] as number),
          boundSeconds: bound,
        });
      }
  };
  let seed = 1;
  for (const drop of DROPS)
    for (const cell of cells())
      for (let s = 0; s < shape.seedsPerCell; s++)
        judgeAll(simulate(spec(seed++, cell, drop, shape.ticks, shape.splitSd)), cell, outcomes);
  seed = 1_000_000;
  for (const cell of cells())
    for (let s = 0; s < shape.goodPerCell; s++)
      judgeAll(simulate(spec(seed++, cell, 0, shape.ticks, shape.splitSd)), cell, good);
  return { outcomes, good, judgeSeconds, shape };
}
