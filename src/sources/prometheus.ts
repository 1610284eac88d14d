// A Prometheus-compatible HTTP API as a metric source: `last_over_time(metric{matchers}[step])` range
// queries give exactly the grid semantics of SeriesGrid (the last sample in each tick, nothing for a missed
// scrape). Long ranges are split below Prometheus' 11,000 points per series; timeouts and retries with
// backoff; any failure is a SourceError, which leaves watches blind, never passing.
import { SourceError, type MetricSource, type SeriesGrid, type SeriesSelector } from './types.js';

export interface PrometheusOptions {
  url: string;
  /** seconds per request */
  timeout: number;
  retries: number;
  fetch?: typeof fetch;
}

const MAX_POINTS = 10_000;

/**
 * PromQL for a selector: label matchers as anchored regexes (=~), exactly like the embedded store. The
 * window is one millisecond short of the step: Prometheus 2.x range selectors include their left edge, so a
 * full-step window would return the previous tick's sample for a missed scrape instead of nothing.
 */
export function selectorQuery(sel: SeriesSelector, step: number): string {
  const matchers = Object.entries(sel.matchers)
    .map(([k, v]) => `${k}=~${JSON.stringify(v)}`)
    .join(',');
  return `last_over_time(${sel.metric}{${matchers}}[${Math.round(step * 1000) - 1}ms])`;
}

interface Matrix {
  status: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
  error?: string;
}

export class PrometheusSource implements MetricSource {
  private readonly fetch: typeof fetch;
  constructor(private readonly o: PrometheusOptions) {
    this.fetch = o.fetch ?? fetch;
  }

  async grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    const points = Math.round((to - from) / step) + 1;
    const bySeries = new Map<string, SeriesGrid>();
    for (let first = 0; first < points; first += MAX_POINTS) {
      const last = Math.min(points - 1, first + MAX_POINTS - 1);
      const m = await this.rangeQuery(selectorQuery(sel, step), from + first * step, from + last * step, step);
      for (const r of m) {
        const labels = { ...r.metric };
        delete labels.__name__;
        const key = JSON.stringify(Object.entries(labels).sort());
        let g = bySeries.get(key);
        if (!g) {
          g = { labels, values: new Float64Array(points).fill(NaN) };
          bySeries.set(key, g);
        }
        for (const [t, v] of r.values) {
          const i = Math.round((t - from) / step);
          if (i >= 0 && i < points) g.values[i] = Number(v);
        }
      }
    }
    return [...bySeries.values()];
  }

  private async rangeQuery(
    query: string,
    start: number,
    end: number,
    step: number,
  ): Promise<NonNullable<Matrix['data']>['result']> {
    const url = new URL('/api/v1/query_range', this.o.url);
    const body = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
    let lastError = '';
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 200 * 2 ** attempt)));
      try {
        const res = await this.fetch(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          signal: AbortSignal.timeout(this.o.timeout * 1000),
        });
        const text = await res.text();
        let json: Matrix;
        try {
          json = JSON.parse(text) as Matrix;
        } catch {
          lastError = `HTTP ${res.status}: not JSON: ${text.slice(0, 120)}`;
          if (res.status >= 400 && res.status < 500) break;
          continue;
        }
        if (res.ok && json.status === 'success' && json.data?.resultType === 'matrix') return json.data.result;
        lastError = `HTTP ${res.status}: ${json.error ?? 'unexpected answer'}`;
        if (res.status >= 400 && res.status < 500) break; // a bad query does not get better by retrying
      } catch (e) {
        lastError = (e as Error).message;
      }
    }
    throw new SourceError(`Prometheus ${this.o.url}: ${query}: ${lastError}`, 'prometheus');
  }
}
