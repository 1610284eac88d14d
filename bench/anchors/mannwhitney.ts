// Mann-Whitney U with the Hodges-Lehmann shift and its confidence interval, as Kayenta's judge uses them
// (normal approximation with tie correction; the interval from order statistics of pairwise differences).
import { probit } from 'simple-statistics';

export interface ShiftTest {
  /** Hodges-Lehmann estimate of (x - y): the median of all pairwise differences */
  estimate: number;
  lower: number;
  upper: number;
  /** two-sided p-value of U */
  p: number;
}

export function mannWhitney(x: readonly number[], y: readonly number[], confidence = 0.98): ShiftTest {
  const n = x.length;
  const m = y.length;
  const diffs: number[] = [];
  for (const a of x) for (const b of y) diffs.push(a - b);
  diffs.sort((a, b) => a - b);
  const N = diffs.length;
  const median = N % 2 ? (diffs[(N - 1) / 2] as number) : ((diffs[N / 2 - 1] as number) + (diffs[N / 2] as number)) / 2;
  const z = probit(1 - (1 - confidence) / 2);
  const k = Math.max(0, Math.floor((n * m) / 2 - z * Math.sqrt((n * m * (n + m + 1)) / 12)));
  const lower = diffs[Math.min(k, N - 1)] as number;
  const upper = diffs[Math.max(0, N - 1 - k)] as number;
  // U statistic with midranks
  const all = [...x.map((v) => [v, 0] as const), ...y.map((v) => [v, 1] as const)].sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(all.length);
  let tie = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (
      j + 1 < all.length &&
      (all[j + 1] as readonly [number, number])[0] === (all[i] as readonly [number, number])[0]
    )
      j++;
    const r = (i + j + 2) / 2;
    for (let q = i; q <= j; q++) ranks[q] = r;
    const t = j - i + 1;
    tie += t * t * t - t;
    i = j + 1;
  }
  let rx = 0;
  all.forEach((a, i) => {
    if (a[1] === 0) rx += ranks[i] as number;
  });
  const u = rx - (n * (n + 1)) / 2;
  const mean = (n * m) / 2;
  const sd = Math.sqrt(((n * m) / 12) * (n + m + 1 - tie / ((n + m) * (n + m - 1))));
  const zz = sd > 0 ? Math.abs(u - mean) / sd : 0;
  const p = Math.min(1, 2 * (1 - normalCdf(zz)));
  return { estimate: median, lower, upper, p };
}

function normalCdf(z: number): number {
  // Abramowitz-Stegun 7.1.26
  const t = 1 / (1 + 0.3275911 * (z / Math.SQRT2));
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-(z * z) / 2);
  return 0.5 * (1 + erf);
}
