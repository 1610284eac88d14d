// An in-memory store of counter samples: the embedded scraper's storage and a backtest's recording.
// Per series, timestamps and values live in growable Float64Arrays (amortised doubling), so weeks of
// 15 s samples stay compact and a grid query is a binary search plus a forward scan.
import { compileMatchers, type MetricSource, type SeriesGrid, type SeriesSelector } from './types.js';

class Series {
  ts = new Float64Array(64);
  vs = new Float64Array(64);
  n = 0;
  constructor(readonly labels: Record<string, string>) {}

  /** Samples arrive in time order; a repeated timestamp replaces the value, an older one is dropped. */
  append(t: number, v: number): void {
    if (this.n > 0) {
      const last = this.ts[this.n - 1] as number;
      if (t < last) return;
      if (t === last) {
        this.vs[this.n - 1] = v;
        return;
      }
    }
    if (this.n === this.ts.length) {
      const ts = new Float64Array(this.n * 2);
      const vs = new Float64Array(this.n * 2);
      ts.set(this.ts);
      vs.set(this.vs);
      this.ts = ts;
      this.vs = vs;
    }
    this.ts[this.n] = t;
    this.vs[this.n] = v;
    this.n++;
  }

  /** Index of the first sample with timestamp > t. */
  upperBound(t: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ts[mid] as number) <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  prune(before: number): void {
    const k = this.upperBound(before - 1e-9);
    if (k === 0) return;
    this.ts.copyWithin(0, k, this.n);
    this.vs.copyWithin(0, k, this.n);
    this.n -= k;
  }
}

export class MemoryStore implements MetricSource {
  private readonly byMetric = new Map<string, Map<string, Series>>();
  private readonly matchers = new Map<string, (labels: Record<string, string>) => boolean>();

  append(metric: string, labels: Record<string, string>, t: number, v: number): void {
    let family = this.byMetric.get(metric);
    if (!family) {
      family = new Map();
      this.byMetric.set(metric, family);
    }
    const key = Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join('\u0000');
    let s = family.get(key);
    if (!s) {
      s = new Series({ ...labels });
      family.set(key, s);
    }
    s.append(t, v);
  }

  async grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    return this.gridSync(sel, from, to, step);
  }

  gridSync(sel: SeriesSelector, from: number, to: number, step: number): SeriesGrid[] {
    const family = this.byMetric.get(sel.metric);
    if (!family) return [];
    const mkey = JSON.stringify(sel.matchers);
    let match = this.matchers.get(mkey);
    if (!match) {
      match = compileMatchers(sel.matchers);
      this.matchers.set(mkey, match);
    }
    const points = Math.max(0, Math.round((to - from) / step) + 1);
    const out: SeriesGrid[] = [];
    for (const s of family.values()) {
      if (!match(s.labels) || s.n === 0) continue;
      const values = new Float64Array(points).fill(NaN);
      let j = s.upperBound(from);
      for (let i = 0; i < points; i++) {
        const t = from + i * step;
        while (j < s.n && (s.ts[j] as number) <= t) j++;
        // the last sample at or before t, if it is inside the tick (t - step, t]
        if (j > 0 && (s.ts[j - 1] as number) > t - step) values[i] = s.vs[j - 1] as number;
      }
      out.push({ labels: s.labels, values });
    }
    return out;
  }

  prune(before: number): void {
    for (const family of this.byMetric.values()) {
      for (const [key, s] of family) {
        s.prune(before);
        if (s.n === 0) family.delete(key);
      }
    }
  }

  timeRange(): { min: number; max: number } | null {
    let min = Infinity;
    let max = -Infinity;
    for (const family of this.byMetric.values()) {
      for (const s of family.values()) {
        if (s.n === 0) continue;
        min = Math.min(min, s.ts[0] as number);
        max = Math.max(max, s.ts[s.n - 1] as number);
      }
    }
    return min <= max ? { min, max } : null;
  }

  metrics(): string[] {
    return [...this.byMetric.keys()];
  }

  seriesCount(): number {
    let n = 0;
    for (const f of this.byMetric.values()) n += f.size;
    return n;
  }

  sampleCount(): number {
    let n = 0;
    for (const f of this.byMetric.values()) for (const s of f.values()) n += s.n;
    return n;
  }
}
