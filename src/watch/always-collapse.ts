// The collapse test of a `watch: always` signal (judge/collapse.ts holds the statistics): the last 1-3
// ticks' total against the empirical lower tail of comparable windows in its history (the same time of
// day on up to 28 earlier days, and the two hours before). No dispersion model, almost no history needed.
import { median } from 'simple-statistics';
import { collapseP, comparableTotals, comparableWindows } from '../judge/collapse.js';
import type { AlwaysWatch } from './always-watch.js';

const DAY = 86400;
/** A collapse: the last ticks hold at most this share of the lowest comparable window. */
export const COLLAPSE_SHARE = 0.1;
/** Comparable windows a collapse test needs (two hours of 5-minute ticks, or a day's of hourly ones). */
const MIN_WINDOWS = 20;
/** Collapse windows: 1, 2 and 3 ticks (each takes a third of the collapse test's budget). */
export const COLLAPSE_K = [1, 2, 3];

export interface Collapse {
  candidate: boolean;
  page: boolean;
  k: number;
  observed: number;
  due: number;
  p: number;
  windows: number;
  lowest: number;
  /** the windows' burst shape (posterior mean of the negative-binomial fit) */
  shape: number;
  /** the windows' weight as independent evidence (overlapping windows count for their new ticks) */
  weight: number;
}

/** The collapse test at tick i: the smallest p over windows of 1-3 ticks, each at a third of the budget. */
export function collapseTest(w: AlwaysWatch, i: number, x: number, levelScale: number, ticks: number): Collapse | null {
  // Cheap screen: compare the tick with what the hours before held (most ticks stop here).
  const recent = Math.max(4, Math.round(7200 / w.step));
  let rs = 0;
  let rn = 0;
  for (let j = Math.max(0, i - recent - ticks + 1); j <= i - ticks; j++) {
    const v = w.masked[j] as number;
    if (Number.isFinite(v)) {
      rs += v;
      rn++;
    }
  }
  const screenDue = rn > 0 ? (rs / rn) * ticks : NaN;
  const dayTicks = Math.round(DAY / w.step);
  const half = Math.max(2, Math.round(3600 / w.step));
  const opts = { dayTicks, days: 28, half, stride: Math.max(1, Math.round(half / 6)), recent };
  // Without a screen (no recent ticks) the day-back windows decide alone.
  if (Number.isFinite(screenDue) && x > COLLAPSE_SHARE * screenDue) {
    const yesterday = comparableTotals(w.masked, i, ticks, { ...opts, days: 1, recent: 0 });
    const y = yesterday.length ? median(yesterday) : NaN;
    if (!(Number.isFinite(y) && x <= COLLAPSE_SHARE * y)) return null;
  }
  const budget = 1 / Math.exp(w.threshold) / COLLAPSE_K.length;
  let best: Collapse | null = null;
  let obs = 0;
  // Window lengths: the observation's own span, and one or two ticks more of what came before it.
  for (const extra of COLLAPSE_K) {
    const k = ticks + extra - 1;
    if (extra === 1) obs = x;
    else {
      const v = w.history[i - k + 1] as number;
      if (i - k + 1 < 0 || !Number.isFinite(v)) break;
      obs += v;
    }
    const { totals, weights } = comparableWindows(w.masked, i, k, opts);
    const scale = Math.min(1, levelScale);
    // Far below anything comparable: at most a tenth of the lowest comparable window, not only of the
    // typical one. A bursty series' quiet ticks are in the reference set, so its own lower tail decides.
    // Checked before the tail integral, which is only worth computing for a collapse.
    let least = Infinity;
    for (const h of totals) if (h < least) least = h;
    if (!(totals.length >= MIN_WINDOWS && obs <= COLLAPSE_SHARE * least * scale)) continue;
    const r = collapseP(obs, { totals, weights, scale });
    const c: Collapse = {
      candidate: true,
      page: r.p <= budget,
      k,
      observed: obs,
      due: r.due,
      p: r.p,
      windows: r.windows,
      lowest: r.lowest,
      shape: r.shape,
      weight: r.weight,
    };
    if (!best || c.p < best.p) best = c;
    if (c.page) break;
  }
  return best;
}
