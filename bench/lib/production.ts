// Seeded production-like canary traffic for bench/robustness: what a good (or bad) canary looks like when
// traffic is untidy. Each version has requests (the `traffic` counter), orders (a count signal, judged for a
// drop) and 5xx errors (a ratio signal over the requests, judged for a rise). On top of shared burstiness
// (gamma, shape 20, on the total each tick), any of:
// - negative-binomial counts: variance D times the mean, per version and counter (bulk buyers, clumps);
// - per-version AR(1) drift of the log-rate (coefficient 0.9, starting at 0 at the deploy): half of the
//   innovation variance on the version's traffic, half on its orders per request, so the orders' log-rate
//   drifts with innovation sd `driftSd` a tick;
// - a real canary share off the declared weight by a constant factor (replica-count splits, sticky sessions);
// - a stage change (declared weight -> a new one at a tick) that the traffic follows `lag` ticks late;
// - a scrape gap on the canary: its counters are not seen for `ticks`, and the tick after brings the
//   counter's jump across the gap, one observation spanning the gap;
// - retry storms: a shared dependency fails for a tick (probability `prob` a tick) and both versions' clients
//   retry, so errors (and requests) come in clumps of mean size `clump`;
// - a traffic push: the total rate multiplied by `factor` for `ticks` ticks (a marketing mail).
// With `historyTicks`, the hour (or so) before the deploy is simulated too: the old version alone serving
// all traffic under the same dispersion, drift and retry storms, its drift carried into the deploy (the new
// version's drift starts at 0 at the deploy). The judge measures its dispersion floor on it.
import { gamma, mulberry32, normal, overdispersedBinomial, overdispersedCount, type Rng } from './random.js';

export interface ProductionSpec {
  seed: number;
  ticks: number;
  /** the canary's orders per second at the declared weight (before any regression) */
  canaryRate: number;
  /** declared canary weight (the first stage) */
  weight: number;
  /** relative drop of the canary's orders from `onset` on (0: good) */
  drop?: number;
  onset?: number;
  /** error ratio of a good version, and the canary's after the onset */
  errorRatio?: number;
  errorRatioAfter?: number;
  requestsPerOrder?: number;
  dispersion?: number;
  burstShape?: number | null;
  driftSd?: number;
  /** real share = factor x declared weight */
  shareFactor?: number;
  stage?: { at: number; weight: number; lag: number } | null;
  gap?: { at: number; ticks: number } | null;
  storms?: { prob: number; ratio: number; clump: number } | null;
  push?: { at: number; ticks: number; factor: number } | null;
  /** ticks of the old version's history before the deploy (0: none) */
  historyTicks?: number;
}

/** The old version's per-tick counts before the deploy, serving all traffic. */
export interface ProductionHistory {
  requests: number[];
  orders: number[];
  errors: number[];
  /**
   * the orders of one half of the old version's instances (`orders` minus these: the other half), each half
   * over-dispersed on its own (a sum of independent negative binomials of the same D is one of that D), the
   * version's drift and the shared bursts common to both: what a placebo split sees
   */
  ordersA: number[];
}

export interface ProductionRun {
  ticks: number;
  /** declared weight per tick (what the pipeline told Navigator) */
  weight: number[];
  canaryRequests: number[];
  baselineRequests: number[];
  canaryOrders: number[];
  baselineOrders: number[];
  canaryErrors: number[];
  baselineErrors: number[];
  /** ticks whose observation spans `span[t]` ticks ending at t (0 inside a gap: not seen) */
  span: number[];
  history: ProductionHistory;
}

const PHI = 0.9;

export function simulateProduction(spec: ProductionSpec): ProductionRun {
  const rng: Rng = mulberry32(spec.seed);
  const D = spec.dispersion ?? 1;
  const drop = spec.drop ?? 0;
  const onset = spec.onset ?? 0;
  const p0 = spec.errorRatio ?? 0.005;
  const p1 = spec.errorRatioAfter ?? p0;
  const rpo = spec.requestsPerOrder ?? 10;
  const burstShape = spec.burstShape === undefined ? 20 : spec.burstShape;
  const innov = (spec.driftSd ?? 0) / Math.SQRT2;
  const factor = spec.shareFactor ?? 1;
  const totalOrders = spec.canaryRate / spec.weight; // orders/s of both versions
  const r: ProductionRun = {
    ticks: spec.ticks,
    weight: [],
    canaryRequests: [],
    baselineRequests: [],
    canaryOrders: [],
    baselineOrders: [],
    canaryErrors: [],
    baselineErrors: [],
    span: [],
    history: { requests: [], orders: [], errors: [], ordersA: [] },
  };
  // per version: drift of the traffic log-rate and of orders per request
  const drift = { ct: 0, co: 0, bt: 0, bo: 0 };
  const declared = (t: number) => (spec.stage && t >= spec.stage.at ? spec.stage.weight : spec.weight);
  const H = spec.historyTicks ?? 0;
  if (H > 0 && innov > 0) {
    // the old version's drift is stationary by the time its history starts
    const sd = innov / Math.sqrt(1 - PHI * PHI);
    drift.bt = sd * normal(rng);
    drift.bo = sd * normal(rng);
  }
  // the placebo halves' shares of the old version's traffic (pods of one Deployment: near half each)
  const half = 0.4 + 0.2 * rng();
  for (let t = -H; t < spec.ticks; t++) {
    if (t === 0) {
      drift.ct = 0;
      drift.co = 0;
    }
    if (innov > 0) {
      drift.ct = PHI * drift.ct + innov * normal(rng);
      drift.co = PHI * drift.co + innov * normal(rng);
      drift.bt = PHI * drift.bt + innov * normal(rng);
      drift.bo = PHI * drift.bo + innov * normal(rng);
    }
    if (t < 0) {
      // before the deploy: the old version serves everything
      const burst = burstShape === null ? 1 : gamma(rng, burstShape) / burstShape;
      // two halves of the old version's instances, each with its own requests and orders
      const reqMean = totalOrders * rpo * 15 * burst * Math.exp(drift.bt);
      const reqA = overdispersedCount(rng, half * reqMean, D);
      let req = reqA + overdispersedCount(rng, (1 - half) * reqMean, D);
      const ordersA = overdispersedCount(rng, (reqA / rpo) * Math.exp(drift.bo), D);
      const orders = ordersA + overdispersedCount(rng, ((req - reqA) / rpo) * Math.exp(drift.bo), D);
      r.history.ordersA.push(ordersA);
      let err = overdispersedBinomial(rng, req, p0, D);
      if (spec.storms && rng() < spec.storms.prob) {
        const s = overdispersedCount(rng, req * spec.storms.ratio, spec.storms.clump);
        err += s;
        req += s;
      }
      r.history.requests.push(req);
      r.history.orders.push(orders);
      r.history.errors.push(err);
      continue;
    }
    const wd = declared(t);
    const lagged = spec.stage ? declared(t - spec.stage.lag) : wd;
    const real = Math.min(0.999, lagged * factor);
    const burst = burstShape === null ? 1 : gamma(rng, burstShape) / burstShape;
    const push = spec.push && t >= spec.push.at && t < spec.push.at + spec.push.ticks ? spec.push.factor : 1;
    const reqMean = totalOrders * rpo * 15 * burst * push;
    let cReq = overdispersedCount(rng, reqMean * real * Math.exp(drift.ct), D);
    let bReq = overdispersedCount(rng, reqMean * (1 - real) * Math.exp(drift.bt), D);
    const bad = t >= onset;
    const cOrders = overdispersedCount(rng, (cReq / rpo) * Math.exp(drift.co) * (bad ? 1 - drop : 1), D);
    const bOrders = overdispersedCount(rng, (bReq / rpo) * Math.exp(drift.bo), D);
    let cErr = overdispersedBinomial(rng, cReq, bad ? p1 : p0, D);
    let bErr = overdispersedBinomial(rng, bReq, p0, D);
    if (spec.storms && rng() < spec.storms.prob) {
      // A shared dependency fails: `ratio` of each version's requests fail and are retried in clumps.
      const { ratio, clump } = spec.storms;
      const cs = overdispersedCount(rng, cReq * ratio, clump);
      const bs = overdispersedCount(rng, bReq * ratio, clump);
      cErr += cs;
      bErr += bs;
      cReq += cs;
      bReq += bs;
    }
    r.weight.push(wd);
    r.canaryRequests.push(cReq);
    r.baselineRequests.push(bReq);
    r.canaryOrders.push(cOrders);
    r.baselineOrders.push(bOrders);
    r.canaryErrors.push(cErr);
    r.baselineErrors.push(bErr);
    r.span.push(1);
  }
  const g = spec.gap;
  if (g && g.at + g.ticks < spec.ticks) {
    for (let t = g.at; t < g.at + g.ticks; t++) r.span[t] = 0;
    r.span[g.at + g.ticks] = g.ticks + 1;
  }
  return r;
}

/** The information floor (design §3) for a drop d of a Poisson rate lambdaC: nats per second. */
export function informationRate(lambdaC: number, d: number): number {
  return d > 0 ? lambdaC * ((1 - d) * Math.log(1 - d) + d) : 0;
}
