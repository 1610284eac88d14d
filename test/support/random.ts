// Seeded randomness for statistical tests: reproducible, so a failing seed can be replayed.
export type Rng = () => number;

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

export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Poisson by inversion for small means, by sums of small Poissons above (exact, slower but fine). */
export function poisson(rng: Rng, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 30) {
    // Normal approximation with continuity; accurate enough above 30 for these tests.
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rng)));
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = rng();
  while (p > l) {
    k++;
    p *= rng();
  }
  return k;
}

/** Gamma(shape, scale=1), Marsaglia-Tsang. */
export function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(rng(), 1 / shape);
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
    const u = rng();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Counts with variance `dispersion` times the mean: gamma-Poisson (negative binomial). */
export function overdispersed(rng: Rng, mean: number, dispersion: number): number {
  if (dispersion <= 1.0001) return poisson(rng, mean);
  const shape = mean / (dispersion - 1);
  return poisson(rng, gamma(rng, shape) * (dispersion - 1));
}
