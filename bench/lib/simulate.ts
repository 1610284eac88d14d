// Seeded canary recordings: what a metric pipeline would have seen, tick by tick, for one canary deploy.
// Every judge in the benchmarks (Navigator's and the reference judges of bench/anchors) reads the same
// Recording, so differences in their numbers are differences in their decision rules, nothing else.
import { gamma, mulberry32, normal, overdispersedBinomial, overdispersedCount, type Rng } from './random.js';

export interface RecordingSpec {
  seed: number;
  /** ticks in the recording; the canary starts at tick 0 */
  ticks: number;
  /** seconds per tick (15 s: Navigator's tick; the per-minute references sum 4 ticks) */
  tickSeconds?: number;
  /** total event rate of both arms, events per second, at the diurnal mean (orders; requests alike) */
  lambda: number;
  /** nominal canary weight: the share of traffic the rollout tool was told to send */
  weight: number;
  /** how much the canary's good outcome falls: 0 for a good deploy, 0.99 for a collapse */
  drop: number;
  /** first tick of the regression (default 0: bad from the start) */
  onset?: number;
  /** per-arm over-dispersion D: variance D times the mean, per tick (default 1: Poisson) */
  dispersion?: number;
  /** gamma shape k of a shared per-tick multiplier (mean 1, sd 1/sqrt(k)) on the total rate; null: none */
  burstShape?: number | null;
  /** relative amplitude of a 24-hour sinusoidal cycle of the total rate (default 0) */
  diurnalAmplitude?: number;
  /** where in the day the recording starts, as a fraction of the day (default 0) */
  diurnalPhase?: number;
  /** sd of the log of real/nominal canary share, drawn once per recording (default 0: the split is exact) */
  splitSd?: number;
  /** error ratio of a good version (default 0.001) */
  errorRatio?: number;
  /** the canary's error ratio after the onset (default: 1 - (1 - p0)(1 - drop): the drop hits requests too) */
  errorRatioAfter?: number;
}

/** All per-tick arrays have `ticks` entries; counts are per tick. */
export interface Recording {
  spec: Required<Omit<RecordingSpec, 'burstShape'>> & { burstShape: number | null };
  tickSeconds: number;
  ticks: number;
  onset: number;
  drop: number;
  /** the canary's real share of traffic (nominal weight unless splitSd > 0) */
  realWeight: number;
  /** the nominal canary weight per tick (what a judge is told; constant in these recordings) */
  weight: number[];
  canaryOrders: number[];
  baselineOrders: number[];
  canaryRequests: number[];
  baselineRequests: number[];
  canaryErrors: number[];
  baselineErrors: number[];
  /** the canary's expected orders per tick had there been no regression (given that tick's traffic) */
  expectedCanaryOrders: number[];
}

const DAY = 86_400;

export function withDefaults(s: RecordingSpec): Recording['spec'] {
  const p0 = s.errorRatio ?? 0.001;
  return {
    seed: s.seed,
    ticks: s.ticks,
    tickSeconds: s.tickSeconds ?? 15,
    lambda: s.lambda,
    weight: s.weight,
    drop: s.drop,
    onset: s.onset ?? 0,
    dispersion: s.dispersion ?? 1,
    burstShape: s.burstShape ?? null,
    diurnalAmplitude: s.diurnalAmplitude ?? 0,
    diurnalPhase: s.diurnalPhase ?? 0,
    splitSd: s.splitSd ?? 0,
    errorRatio: p0,
    errorRatioAfter: s.errorRatioAfter ?? 1 - (1 - p0) * (1 - s.drop),
  };
}

export function simulate(input: RecordingSpec): Recording {
  const s = withDefaults(input);
  if (!(s.weight > 0 && s.weight < 1)) throw new Error(`simulate: weight ${s.weight} must be in (0, 1)`);
  if (!(s.drop >= 0 && s.drop < 1)) throw new Error(`simulate: drop ${s.drop} must be in [0, 1)`);
  const rng: Rng = mulberry32(s.seed);
  // A real split that differs from the nominal one (sticky sessions, uneven pods): drawn once, constant.
  const realWeight = s.splitSd > 0 ? clamp(s.weight * Math.exp(s.splitSd * normal(rng)), 1e-4, 1 - 1e-4) : s.weight;
  const r: Recording = {
    spec: s,
    tickSeconds: s.tickSeconds,
    ticks: s.ticks,
    onset: s.onset,
    drop: s.drop,
    realWeight,
    weight: [],
    canaryOrders: [],
    baselineOrders: [],
    canaryRequests: [],
    baselineRequests: [],
    canaryErrors: [],
    baselineErrors: [],
    expectedCanaryOrders: [],
  };
  const D = s.dispersion;
  for (let i = 0; i < s.ticks; i++) {
    const t = i * s.tickSeconds;
    const diurnal = 1 + s.diurnalAmplitude * Math.sin(2 * Math.PI * (t / DAY + s.diurnalPhase));
    // Shared swings hit both arms alike (a marketing mail, a bot): a two-arm test should cancel them.
    const burst = s.burstShape === null ? 1 : gamma(rng, s.burstShape) / s.burstShape;
    const mean = s.lambda * s.tickSeconds * diurnal * burst;
    const bad = i >= s.onset;
    const canaryMean = mean * realWeight;
    const baselineMean = mean * (1 - realWeight);
    r.weight.push(s.weight);
    r.expectedCanaryOrders.push(canaryMean);
    r.canaryOrders.push(overdispersedCount(rng, canaryMean * (bad ? 1 - s.drop : 1), D));
    r.baselineOrders.push(overdispersedCount(rng, baselineMean, D));
    const cReq = overdispersedCount(rng, canaryMean, D);
    const bReq = overdispersedCount(rng, baselineMean, D);
    r.canaryRequests.push(cReq);
    r.baselineRequests.push(bReq);
    r.canaryErrors.push(overdispersedBinomial(rng, cReq, bad ? s.errorRatioAfter : s.errorRatio, D));
    r.baselineErrors.push(overdispersedBinomial(rng, bReq, s.errorRatio, D));
  }
  return r;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/**
 * The information floor (shared/design.md section 3): a Poisson rate falling from lambdaC to
 * (1 - d) lambdaC carries I = lambdaC [(1 - d) ln(1 - d) + d] nats per second, and no test at level alpha
 * decides faster than about ln(1 / alpha) / I seconds on average.
 */
export function informationRate(lambdaC: number, d: number): number {
  if (d <= 0) return 0;
  return lambdaC * ((1 - d) * Math.log(1 - d) + d);
}

export function delayBoundSeconds(lambdaC: number, d: number, alpha = 0.001): number {
  const i = informationRate(lambdaC, d);
  return i > 0 ? Math.log(1 / alpha) / i : Infinity;
}
