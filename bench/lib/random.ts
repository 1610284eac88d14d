// Seeded samplers for the benchmarks. Our own small PRNG so a recording is the same on every machine and
// every Node version (Math.random cannot be seeded), and so a surprising run can be replayed from its seed.
export type Rng = () => number;

/** mulberry32: 32-bit state, good enough statistical quality for simulation, and fast. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform in (0, 1): logarithms of it are always finite. */
function open(rng: Rng): number {
  let u = rng();
  while (u === 0) u = rng();
  return u;
}

/** Standard normal by Box-Muller (one of the pair; simplicity over speed). */
export function normal(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(open(rng))) * Math.cos(2 * Math.PI * rng());
}

const LOG_FACTORIAL: number[] = [0];
for (let k = 1; k < 256; k++) LOG_FACTORIAL.push((LOG_FACTORIAL[k - 1] as number) + Math.log(k));

/** ln(k!): a table below 256, Stirling's series above (error below 1e-12 there). */
export function logFactorial(k: number): number {
  if (k < 256) return LOG_FACTORIAL[k] as number;
  const x = k + 1;
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3);
}

/**
 * Poisson. Exact inversion (sequential search of the CDF) for means below 10, where it is cheap; above,
 * Hörmann's PTRS transformed rejection (1993), also exact, in constant expected time: a normal
 * approximation would get the tails wrong, and the tails are what false-alarm rates are made of.
 */
export function poisson(rng: Rng, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean < 10) {
    const u = rng();
    let k = 0;
    let p = Math.exp(-mean);
    let cdf = p;
    while (u > cdf && k < 1000) {
      k++;
      p *= mean / k;
      cdf += p;
    }
    return k;
  }
  const slam = Math.sqrt(mean);
  const loglam = Math.log(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invAlpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng() - 0.5;
    const v = open(rng);
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invAlpha) - Math.log(a / (us * us) + b) <= -mean + k * loglam - logFactorial(k))
      return k;
  }
}

/** Gamma(shape, scale 1) by Marsaglia-Tsang; shapes below 1 by the usual U^(1/shape) boost. */
export function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(open(rng), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = open(rng);
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function beta(rng: Rng, a: number, b: number): number {
  const x = gamma(rng, a);
  const y = gamma(rng, b);
  return x + y > 0 ? x / (x + y) : rng() < a / (a + b) ? 1 : 0;
}

/**
 * Binomial(n, p), exact. Inversion when n p is small; above, Knuth's beta split (the median order
 * statistic of n uniforms is a beta; recurse on the side p falls in), O(log n) gammas.
 */
export function binomial(rng: Rng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(rng, n, 1 - p);
  if (n * p < 20) {
    const u = rng();
    const q = p / (1 - p);
    let k = 0;
    let pk = Math.exp(n * Math.log1p(-p));
    let cdf = pk;
    while (u > cdf && k < n) {
      pk *= (q * (n - k)) / (k + 1);
      k++;
      cdf += pk;
    }
    return k;
  }
  const i = Math.floor((n + 1) / 2);
  const x = beta(rng, i, n + 1 - i);
  return x < p ? i + binomial(rng, n - i, (p - x) / (1 - x)) : binomial(rng, i - 1, p / x);
}

/** A count with variance `dispersion` times its mean: gamma-Poisson (negative binomial). */
export function overdispersedCount(rng: Rng, mean: number, dispersion: number): number {
  if (!(mean > 0)) return 0;
  if (dispersion <= 1 + 1e-9) return poisson(rng, mean);
  const scale = dispersion - 1;
  return poisson(rng, gamma(rng, mean / scale) * scale);
}

/**
 * Bad events among n with probability p, variance `dispersion` times the binomial's: beta-binomial with
 * intra-tick correlation rho = (D - 1) / (n - 1), so that 1 + (n - 1) rho = D (retry storms, one bad
 * client: errors come in clumps).
 */
export function overdispersedBinomial(rng: Rng, n: number, p: number, dispersion: number): number {
  if (n <= 1 || dispersion <= 1 + 1e-9 || p <= 0 || p >= 1) return binomial(rng, n, p);
  const rho = Math.min(1, (dispersion - 1) / (n - 1));
  const c = 1 / rho - 1; // alpha + beta of the beta mixing distribution
  if (c < 1e-9) return rng() < p ? n : 0;
  return binomial(rng, n, beta(rng, p * c, (1 - p) * c));
}
