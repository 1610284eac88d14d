// Seeded randomness for statistical tests: the benchmarks' samplers (bench/lib/random.ts: exact Poisson
// tails, which false-alarm rates are made of), under the names the tests use.
export { gamma, mulberry32, normal, poisson, type Rng } from '../../bench/lib/random.js';
export { overdispersedCount as overdispersed } from '../../bench/lib/random.js';
