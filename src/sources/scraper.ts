// The embedded scraper (the default source): Navigator scrapes the configured /metrics endpoints itself,
// keeps only the metrics its signals name, and serves them from memory, so it runs with no Prometheus.
// Every scrape is recorded like Prometheus' `up` (per target and scheduled time: 1 scraped, 0 failed,
// in flight), so `observe` tells a tick's data apart: seen, a gap (the scrape still in flight), blind (a
// target that serves the selector failed, answered 503, or was not scraped at all because Navigator was not
// running: the embedded store cannot recover those ticks), or absent (scraped, and the series is gone).
import { MemoryStore } from './memory-store.js';
import { parseOpenMetricsText } from './openmetrics.js';
import { gridPoints, type MetricSource, type Observed, type SeriesGrid, type SeriesSelector } from './types.js';

/** The value recorded for a scrape that has started and not finished yet. */
const IN_FLIGHT = 2;

function seriesId(metric: string, labels: Record<string, string>): string {
  return JSON.stringify([metric, ...Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

export interface ScraperOptions {
  targets: string[];
  /** seconds between scrapes (the evaluation interval) */
  interval: number;
  timeout: number;
  /** seconds of samples kept */
  retention: number;
  /** metric names worth keeping (the signals' metrics) */
  keep: Set<string>;
  now: () => number;
  onError?: (target: string, error: Error) => void;
  onScrape?: (target: string, seconds: number, samples: number) => void;
  /**
   * Told of every successful scrape's kept series (metric and labels) before they are stored, so a check on
   * them (latency signals' bucket bounds: histogram-bounds.ts) is decided before any tick is judged on them.
   */
  onSeries?: (target: string, series: { metric: string; labels: Record<string, string> }[]) => void;
}

export class Scraper implements MetricSource {
  readonly store = new MemoryStore();
  /** `up` per target: {target} -> 1 / 0 / IN_FLIGHT at each scheduled scrape time */
  private readonly health = new MemoryStore();
  /** which target each kept series came from, and which metrics each target has served */
  private readonly targetOf = new Map<string, string>();
  private readonly metricsOf = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  lastErrors = new Map<string, string>();

  constructor(private readonly o: ScraperOptions) {}

  grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    return this.store.grid(sel, from, to, step);
  }

  async observe(sel: SeriesSelector, from: number, to: number, step: number): Promise<Observed> {
    const points = gridPoints(from, to, step);
    const series = this.store.gridSync(sel, from, to, step);
    const up = new Map<string, Float64Array>();
    const attempted = new Map<string, Float64Array>();
    for (const g of this.health.gridSync({ metric: 'up', matchers: {} }, from, to, step)) {
      attempted.set(g.labels.target as string, g.values);
      // In flight: its samples land later in this tick's past, so the tick is a gap, not blind.
      up.set(
        g.labels.target as string,
        g.values.map((v) => (v === IN_FLIGHT ? NaN : v)),
      );
    }
    for (const s of series) {
      const target = this.targetOf.get(seriesId(sel.metric, s.labels));
      const u = target !== undefined ? up.get(target) : undefined;
      s.up = u ?? new Float64Array(points).fill(NaN);
    }
    // A target serves this selector when it has served its metric, or when it never answered (unknown).
    const blind = new Array<string | null>(points).fill(null);
    for (const target of this.o.targets) {
      const served = this.metricsOf.get(target);
      if (served && !served.has(sel.metric)) continue;
      const a = attempted.get(target);
      for (let i = 0; i < points; i++) {
        if (blind[i] !== null) continue;
        const v = a?.[i] ?? NaN;
        if (v === 0) blind[i] = `scrape of ${target} failed: ${this.lastErrors.get(target) ?? 'error'}`;
        else if (Number.isNaN(v)) blind[i] = `${target} was not scraped then (Navigator was not running)`;
      }
    }
    return { series, blind, health: true };
  }

  /**
   * Scrapes every target once. Samples get the scheduled scrape time (as Prometheus does), not the moment
   * the timer happened to fire: on a busy machine a late timer must not push a sample into the next tick.
   */
  async scrapeOnce(ts = this.o.now()): Promise<void> {
    await Promise.all(this.o.targets.map((target) => this.scrapeTarget(target, ts)));
    this.store.prune(ts - this.o.retention);
    this.health.prune(ts - this.o.retention);
  }

  private readonly inflight = new Set<string>();

  private async scrapeTarget(target: string, ts: number): Promise<void> {
    // A target still answering the previous scrape is skipped (its tick shows a gap), not piled up.
    if (this.inflight.has(target)) return;
    this.inflight.add(target);
    this.health.append('up', { target }, ts, IN_FLIGHT);
    const started = Date.now();
    try {
      const res = await fetch(target, {
        signal: AbortSignal.timeout(this.o.timeout * 1000),
        headers: { accept: 'text/plain' },
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      // Parse into a scratch store first: a garbled body must not leave half a scrape behind.
      const scratch = new MemoryStore();
      parseOpenMetricsText(text, target, scratch, ts);
      const kept: { metric: string; labels: Record<string, string>; value: number }[] = [];
      for (const metric of scratch.metrics()) {
        if (!this.o.keep.has(metric)) continue;
        for (const s of scratch.gridSync({ metric, matchers: {} }, ts, ts, 1)) {
          const v = s.values[0] as number;
          if (Number.isFinite(v))
            kept.push({
              metric,
              labels: { ...s.labels, ...(s.labels.instance ? {} : { instance: new URL(target).host }) },
              value: v,
            });
        }
      }
      this.o.onSeries?.(target, kept);
      let served = this.metricsOf.get(target);
      if (!served) this.metricsOf.set(target, (served = new Set()));
      for (const metric of scratch.metrics()) if (this.o.keep.has(metric)) served.add(metric);
      for (const { metric, labels, value } of kept) {
        this.store.append(metric, labels, ts, value);
        this.targetOf.set(seriesId(metric, labels), target);
      }
      this.lastErrors.delete(target);
      this.health.append('up', { target }, ts, 1);
      this.o.onScrape?.(target, (Date.now() - started) / 1000, kept.length);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.lastErrors.set(target, err.message);
      this.health.append('up', { target }, ts, 0);
      this.o.onError?.(target, err);
    } finally {
      this.inflight.delete(target);
    }
  }

  /** Scrapes on the tick grid (just after each boundary), so every tick holds exactly one scrape. */
  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      const now = this.o.now();
      const next = Math.floor(now / this.o.interval) * this.o.interval + this.o.interval + 0.005;
      this.timer = setTimeout(
        () => {
          void this.scrapeOnce().finally(loop);
        },
        (next - now) * 1000,
      );
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
