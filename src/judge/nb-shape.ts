// The shape of a series' per-tick bursts, for the forecast detector's negative-binomial law
// (judge/level-detector.ts): y = x / d0 ~ NB(mean m / d0, shape k), var x = d0 m + m^2 / k. Measured on
// the replayed forecast origins, each tick against its origin's forecast scaled by that origin's own level
// (so the level error is not taken for bursts), by the profile likelihood of k over a grid. What is
// reported is the lower end of its 95% interval (more dispersion than the best fit: the safe side, as a
// shape too large would make ordinary quiet ticks look like evidence), shrunk for the level having been
// fitted on the same ticks. The history it is measured on has its anomalies (surges, spikes, episodes)
// already taken out, and a burst that escaped only lowers k: the estimate can err towards fewer pages,
// not more.
import { gammaln } from 'simple-statistics';

/** Shapes searched: from 0.25 (wildly bursty) to 10^5 (Poisson for any count a tick holds), in ln k. */
const LO = Math.log(0.25);
const HI = Math.log(1e5);

/** At most this many ticks enter the fit (evenly spaced): enough for a precise shape, cheap once a day. */
const MAX_TICKS = 1500;

export interface ShapeFit {
  /** the shape used (the 95% lower bound, shrunk), Infinity: no burst beyond Poisson on the d0 scale */
  shape: number;
  /** the best fit on the grid, and the ticks it was fitted on */
  best: number;
  ticks: number;
}

/** ln NB(y | mu, k) without the terms free of k. */
function nbTerm(y: number, mu: number, k: number): number {
  return gammaln(y + k) - gammaln(k) + k * Math.log(k / (k + mu)) + y * Math.log(mu / (k + mu));
}

/**
 * Fits the shape to observed counts x against their means m (the forecast times its origin's level),
 * with the Poisson-scale dispersion d0 measured alongside; `horizon`: the ticks each level was fitted on.
 */
export function fitShape(x: readonly number[], m: readonly number[], d0: number, horizon: number): ShapeFit {
  const n = Math.min(x.length, m.length);
  if (n < 50) return { shape: 2, best: 2, ticks: n };
  const stride = Math.max(1, Math.floor(n / MAX_TICKS));
  const ys: number[] = [];
  const mus: number[] = [];
  for (let i = 0; i < n; i += stride) {
    const mi = m[i] as number;
    const xi = x[i] as number;
    if (!(mi > 0) || !Number.isFinite(xi) || xi < 0) continue;
    ys.push(xi / d0);
    mus.push(mi / d0);
  }
  const ll = (lk: number) => {
    const k = Math.exp(lk);
    let t = 0;
    for (let i = 0; i < ys.length; i++) t += nbTerm(ys[i] as number, mus[i] as number, k);
    return t;
  };
  // The profile likelihood is unimodal in ln k: golden-section search for its top, then bisection for the
  // lower end of its 95% interval (chi-square 3.84 / 2 below the top).
  const g = (Math.sqrt(5) - 1) / 2;
  let a = LO;
  let b = HI;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = ll(c);
  let fd = ll(d);
  while (b - a > 0.01) {
    if (fc >= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = ll(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = ll(d);
    }
  }
  const lBest = (a + b) / 2;
  const top = ll(lBest);
  let lo = LO;
  let hi = lBest;
  if (ll(LO) >= top - 1.92) hi = LO;
  else
    while (hi - lo > 0.01) {
      const mid = (lo + hi) / 2;
      if (ll(mid) >= top - 1.92) hi = mid;
      else lo = mid;
    }
  // Residuals about a level fitted on the same `horizon` ticks scatter less than the truth, by 1 - 1/n.
  const k = Math.exp(hi) * (1 - 1 / Math.max(2, horizon));
  const best = Math.exp(lBest);
  // The top at the end of the range: no burst beyond Poisson that history can show.
  return { shape: HI - hi < 0.02 ? Infinity : k, best, ticks: ys.length };
}
