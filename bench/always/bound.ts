// The information a 50%-for-an-hour drop carries on a gamma-Poisson series, for an oracle that knows the
// onset, the drop's size, the level (no forecast error) and the burst law: the per-tick Kullback-Leibler
// divergence of NB(m / 2, k) from NB(m, k), summed over the drop's ticks, against the threshold a detector
// at the stated false-page rate must reach (ln 2T, half the budget). Lorden's bound: no detector with that
// false-alarm rate has a mean delay below about ln(2T) / KL ticks; the oracle's own chance of reaching the
// threshold within the hour is simulated (its sequential likelihood ratio, started at the true onset).
import { gammaln } from 'simple-statistics';
import { gamma, mulberry32, poisson } from '../lib/random.js';

function lnNb(x: number, m: number, k: number): number {
  return gammaln(x + k) - gammaln(k) - gammaln(x + 1) + k * Math.log(k / (k + m)) + x * Math.log(m / (k + m));
}

/** KL(NB(q m, k) || NB(m, k)) in nats, by summing the pmf over its support. */
export function klDrop(m: number, k: number, q: number): number {
  const ma = q * m;
  const sd = Math.sqrt(ma + (ma * ma) / k);
  const hi = Math.ceil(ma + 12 * sd + 20);
  let kl = 0;
  for (let x = 0; x <= hi; x++) {
    const la = lnNb(x, ma, k);
    kl += Math.exp(la) * (la - lnNb(x, m, k));
  }
  return kl;
}

export interface Bound {
  /** the summed KL over the drop's ticks (what an oracle gains on average in that time) */
  nats: number;
  /** nats a tick on average over the drop */
  perTick: number;
  threshold: number;
  /** Lorden: about threshold / perTick ticks at least, on average */
  minTicks: number;
  /** share of simulated drops in which the oracle's likelihood ratio reaches the threshold in time */
  oracleWithin: number;
}

/** means: the per-tick means over the drop (before the drop); k the gamma shape; lnA the threshold. */
export function informationBound(means: number[], k: number, lnA: number, runs = 4000, seed = 1): Bound {
  const kls = means.map((m) => klDrop(m, k, 0.5));
  const nats = kls.reduce((a, b) => a + b, 0);
  const perTick = nats / means.length;
  const rng = mulberry32(seed);
  let within = 0;
  for (let r = 0; r < runs; r++) {
    let llr = 0;
    for (const m of means) {
      const x = poisson(rng, (0.5 * m * gamma(rng, k)) / k);
      llr += lnNb(x, 0.5 * m, k) - lnNb(x, m, k);
      if (llr >= lnA) {
        within++;
        break;
      }
    }
  }
  return { nats, perTick, threshold: lnA, minTicks: lnA / perTick, oracleWithin: within / runs };
}
