import { newTwoArm, updateTwoArm, summarizeTwoArm } from '../../src/judge/two-arm.js';
import { mulberry32, overdispersed, gamma } from './random.js';
const alpha = 0.001, thr = Math.log(1/alpha);
function run(seed: number, lambda: number, w: number, d: number, D: number, ticks: number) {
  const rng = mulberry32(seed);
  const s = newTwoArm('drop', Number(process.env.TOL ?? 0.02));
  for (let t = 0; t < ticks; t++) {
    const burst = gamma(rng, 20) / 20;
    const mu = lambda * 15 * burst;
    const c = overdispersed(rng, mu * w * (1 - d), D), b = overdispersed(rng, mu * (1 - w), D);
    updateTwoArm(s, c, b, w);
    if (summarizeTwoArm(s).logE >= thr) return t + 1;
  }
  return null;
}
const args = process.argv.slice(2).map(Number);
const [lambda, w, d, D, n, ticks] = args as [number, number, number, number, number, number];
const res: (number|null)[] = [];
for (let i = 0; i < n; i++) res.push(run(i + 1, lambda, w, d, D, ticks));
const hits = res.filter((x) => x !== null) as number[];
hits.sort((a, b) => a - b);
console.log(`lambda=${lambda} w=${w} d=${d} D=${D}: decided ${hits.length}/${n}, median ticks ${hits[Math.floor(hits.length/2)]}, p90 ${hits[Math.floor(hits.length*0.9)]}`);
