// Quantiles from classic histogram buckets, computed exactly as PromQL's histogram_quantile does
// (promql/quantile.go, bucketQuantile), so the numbers in the evidence match a Grafana panel over the same
// buckets: find the bucket holding the rank q * total, then interpolate linearly within it, assuming
// observations are spread evenly between the bucket's lower and upper bound. The lowest bucket starts at 0
// (unless its upper bound is <= 0); a rank in the +Inf bucket returns the highest finite bound, since
// nothing is known above it. Pure: no I/O.

/**
 * q in [0, 1]; `bounds` ascending with +Inf last, `cumulative[i]` the observations <= bounds[i].
 * NaN when there is no +Inf bucket, fewer than two buckets, or no observations.
 */
export function histogramQuantile(q: number, bounds: readonly number[], cumulative: readonly number[]): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const n = bounds.length;
  if (n < 2 || bounds[n - 1] !== Infinity || cumulative.length !== n) return NaN;
  // Counters scraped at slightly different times can break monotonicity; histogram_quantile evens it out.
  const c = [...cumulative];
  for (let i = 1; i < n; i++) if ((c[i] as number) < (c[i - 1] as number)) c[i] = c[i - 1] as number;
  const total = c[n - 1] as number;
  if (!(total > 0)) return NaN;
  let rank = q * total;
  let b = 0;
  while (b < n && (c[b] as number) < rank) b++;
  if (b >= n - 1) return bounds[n - 2] as number;
  if (b === 0 && (bounds[0] as number) <= 0) return bounds[0] as number;
  let start = 0;
  const end = bounds[b] as number;
  let count = c[b] as number;
  if (b > 0) {
    start = bounds[b - 1] as number;
    count -= c[b - 1] as number;
    rank -= c[b - 1] as number;
  }
  return count > 0 ? start + (end - start) * (rank / count) : end;
}

/** Wilson score interval for a proportion k / n (95% by default): sensible with few or zero events. */
export function wilsonInterval(k: number, n: number, z = 1.96): { estimate: number; low: number; high: number } {
  if (!(n > 0)) return { estimate: NaN, low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { estimate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
