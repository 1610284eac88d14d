// An in-memory store of counter samples: the embedded scraper's storage and a backtest's recording.
// Per series, timestamps and values live in growable Float64Arrays (amortised doubling) rather than arrays
// of objects, so weeks of 15 s samples take 16 bytes each; a grid query is a binary search plus a forward
// scan, so a 50,000-point grid over a series costs one pass.
import { compileMatchers, type MetricSource, type SeriesGrid, type SeriesSelector } from './types.js';

/** A series to append to without re-keying its labels on every sample (a reader's fast path). */
export interface SeriesRef {
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
}

const MIN_CAPACITY = 64;

class Series implements SeriesRef {
  ts = new Float64Array(MIN_CAPACITY);
  vs = new Float64Array(MIN_CAPACITY);
  // Live samples are [head, end): prune advances head, so the scraper's retention costs O(1) per tick and
  // the dead prefix is reclaimed only when the arrays are full anyway.
  head = 0;
  end = 0;
  /** set when prune emptied the series and removed it from its store; a stale ref re-inserts it */
  removed = false;

  constructor(
    readonly owner: MemoryStore,
    readonly metric: string,
    readonly key: string,
    readonly labels: Readonly<Record<string, string>>,
  ) {}

  get n(): number {
    return this.end - this.head;
  }

  /**
   * Samples arrive in time order. A sample at the last sample's timestamp replaces it (the later line
   * wins, like a re-scrape); an older one is dropped, as Prometheus drops out-of-order samples.
   * Returns false when the sample was dropped.
   */
  append(t: number, v: number): boolean {
    if (this.end > this.head) {
      const last = this.ts[this.end - 1] as number;
      if (t < last) return false;
      if (t === last) {
        this.vs[this.end - 1] = v;
        return true;
      }
    }
    if (this.end === this.ts.length) this.makeRoom();
    this.ts[this.end] = t;
    this.vs[this.end] = v;
    this.end++;
    return true;
  }

  private makeRoom(): void {
    const n = this.n;
    // Mostly pruned: slide the live samples down instead of growing (a retention window reaches a steady
    // size). Otherwise double, which keeps appends amortised O(1).
    if (this.head > 0 && n <= this.ts.length / 2) {
      this.ts.copyWithin(0, this.head, this.end);
      this.vs.copyWithin(0, this.head, this.end);
    } else {
      const ts = new Float64Array(Math.max(MIN_CAPACITY, this.ts.length * 2));
      const vs = new Float64Array(ts.length);
      ts.set(this.ts.subarray(this.head, this.end));
      vs.set(this.vs.subarray(this.head, this.end));
      this.ts = ts;
      this.vs = vs;
    }
    this.head = 0;
    this.end = n;
  }

  /** Index of the first live sample with timestamp > t. */
  upperBound(t: number): number {
    let lo = this.head;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first live sample with timestamp >= t. */
  lowerBound(t: number): number {
    let lo = this.head;
    let hi = this.end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  prune(before: number): void {
    this.head = this.lowerBound(before);
    if (this.head === this.end) {
      // Empty: drop the memory too (a stopped series must not pin its arrays for the process's life).
      this.ts = new Float64Array(MIN_CAPACITY);
      this.vs = new Float64Array(MIN_CAPACITY);
      this.head = this.end = 0;
    }
  }

  /** values[i] = last sample in (from + i*step - step, from + i*step], NaN if none. */
  grid(from: number, step: number, points: number): Float64Array {
    const values = new Float64Array(points).fill(NaN);
    const { ts, vs, head, end } = this;
    // A moving cursor: j is the first sample after the current grid point, so each sample is passed once.
    let j = this.upperBound(from);
    for (let i = 0; i < points; i++) {
      const t = from + i * step;
      while (j < end && (ts[j] as number) <= t) j++;
      if (j > head && (ts[j - 1] as number) > t - step) values[i] = vs[j - 1] as number;
    }
    return values;
  }
}

/** The series key: the sorted label set, JSON-encoded so no label value can collide with another set. */
function seriesKey(labels: Record<string, string>): string {
  const names = Object.keys(labels).sort();
  const flat: string[] = [];
  for (const k of names) flat.push(k, labels[k] as string);
  return JSON.stringify(flat);
}

export class MemoryStore implements MetricSource {
  private readonly byMetric = new Map<string, Map<string, Series>>();
  private readonly matchers = new Map<string, (labels: Record<string, string>) => boolean>();

  /**
   * Adds one sample. Per series, samples must come in time order: a repeated timestamp replaces the
   * previous value, an older timestamp (or a non-finite one) is dropped. Returns false when dropped.
   */
  append(metric: string, labels: Record<string, string>, ts: number, value: number): boolean {
    if (!Number.isFinite(ts)) return false;
    return this.lookup(metric, labels).append(ts, value);
  }

  /** The series for `metric` and `labels`, created empty if new; append to it with `appendTo`. */
  series(metric: string, labels: Record<string, string>): SeriesRef {
    return this.lookup(metric, labels);
  }

  private family(metric: string): Map<string, Series> {
    let family = this.byMetric.get(metric);
    if (!family) {
      family = new Map();
      this.byMetric.set(metric, family);
    }
    return family;
  }

  private lookup(metric: string, labels: Record<string, string>): Series {
    const family = this.family(metric);
    const key = seriesKey(labels);
    let s = family.get(key);
    if (!s) {
      // A frozen copy: the caller's object may change later, and a label edit must not rename a series.
      s = new Series(this, metric, key, Object.freeze({ ...labels }));
      family.set(key, s);
    }
    return s;
  }

  /** `append` through a ref from `series()`: no label sorting or hashing. Same ordering rules. */
  appendTo(ref: SeriesRef, ts: number, value: number): boolean {
    if (!(ref instanceof Series) || ref.owner !== this) throw new Error('appendTo: a series of another store');
    if (!Number.isFinite(ts)) return false;
    if (!ref.removed) return ref.append(ts, value);
    // Pruned away since the ref was taken: append to whichever series now holds that label set, or put
    // this one back.
    const family = this.family(ref.metric);
    const now = family.get(ref.key);
    if (now) return now.append(ts, value);
    ref.removed = false;
    family.set(ref.key, ref);
    return ref.append(ts, value);
  }

  async grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    return this.gridSync(sel, from, to, step);
  }

  /** `grid` without the promise (the scraper and tests read synchronously). */
  gridSync(sel: SeriesSelector, from: number, to: number, step: number): SeriesGrid[] {
    if (!(step > 0) || !Number.isFinite(step) || !Number.isFinite(from) || !Number.isFinite(to))
      throw new RangeError(`grid: bad range from=${from} to=${to} step=${step}`);
    const family = this.byMetric.get(sel.metric);
    if (!family) return [];
    const match = this.matcher(sel.matchers);
    // Points t_i = from + i*step <= to; the epsilon keeps a float ratio like 2.9999999 from losing a point.
    const points = to < from ? 0 : Math.floor((to - from) / step + 1e-9) + 1;
    const out: SeriesGrid[] = [];
    for (const s of family.values()) {
      if (s.n === 0 || !match(s.labels)) continue;
      out.push({ labels: { ...s.labels }, values: s.grid(from, step, points) });
    }
    return out;
  }

  /** The stored samples of every matching series, copied out (for tests, export and debugging). */
  samples(sel: SeriesSelector): { labels: Record<string, string>; ts: Float64Array; values: Float64Array }[] {
    const family = this.byMetric.get(sel.metric);
    if (!family) return [];
    const match = this.matcher(sel.matchers);
    const out = [];
    for (const s of family.values()) {
      if (s.n === 0 || !match(s.labels)) continue;
      out.push({ labels: { ...s.labels }, ts: s.ts.slice(s.head, s.end), values: s.vs.slice(s.head, s.end) });
    }
    return out;
  }

  private matcher(matchers: Record<string, string>): (labels: Record<string, string>) => boolean {
    // Selectors come from the config, so there are few of them; compile each once.
    const key = JSON.stringify(Object.entries(matchers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let m = this.matchers.get(key);
    if (!m) {
      m = compileMatchers(matchers);
      this.matchers.set(key, m);
    }
    return m;
  }

  /** Drops every sample with timestamp < before, and series left empty (the scraper's retention). */
  prune(before: number): void {
    for (const [metric, family] of this.byMetric) {
      for (const [key, s] of family) {
        s.prune(before);
        if (s.n === 0) {
          s.removed = true;
          family.delete(key);
        }
      }
      if (family.size === 0) this.byMetric.delete(metric);
    }
  }

  /** The earliest and latest sample timestamps, or null when the store is empty. */
  timeRange(): { min: number; max: number } | null {
    let min = Infinity;
    let max = -Infinity;
    for (const family of this.byMetric.values()) {
      for (const s of family.values()) {
        if (s.n === 0) continue;
        min = Math.min(min, s.ts[s.head] as number);
        max = Math.max(max, s.ts[s.end - 1] as number);
      }
    }
    return min <= max ? { min, max } : null;
  }

  /** Metric names with at least one series. */
  metrics(): string[] {
    const out: string[] = [];
    for (const [metric, family] of this.byMetric) {
      for (const s of family.values()) {
        if (s.n > 0) {
          out.push(metric);
          break;
        }
      }
    }
    return out;
  }

  seriesCount(): number {
    let n = 0;
    for (const f of this.byMetric.values()) for (const s of f.values()) if (s.n > 0) n++;
    return n;
  }

  sampleCount(): number {
    let n = 0;
    for (const f of this.byMetric.values()) for (const s of f.values()) n += s.n;
    return n;
  }
}
