// The embedded scraper (the default source): Navigator scrapes the configured /metrics endpoints itself,
// keeps only the metrics its signals name, and serves them from memory, so it runs with no Prometheus.
// A target that is down or answers garbage is counted; a tick whose data is missing is blind, not passed.
import { MemoryStore } from './memory-store.js';
import { parseOpenMetricsText } from './openmetrics.js';
import type { MetricSource, SeriesGrid, SeriesSelector } from './types.js';

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
}

export class Scraper implements MetricSource {
  readonly store = new MemoryStore();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  lastErrors = new Map<string, string>();

  constructor(private readonly o: ScraperOptions) {}

  grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    return this.store.grid(sel, from, to, step);
  }

  /**
   * Scrapes every target once. Samples get the scheduled scrape time (as Prometheus does), not the moment
   * the timer happened to fire: on a busy machine a late timer must not push a sample into the next tick.
   */
  async scrapeOnce(ts = this.o.now()): Promise<void> {
    await Promise.all(this.o.targets.map((target) => this.scrapeTarget(target, ts)));
    this.store.prune(ts - this.o.retention);
  }

  private readonly inflight = new Set<string>();

  private async scrapeTarget(target: string, ts: number): Promise<void> {
    // A target still answering the previous scrape is skipped (its tick shows a gap), not piled up.
    if (this.inflight.has(target)) return;
    this.inflight.add(target);
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
      let kept = 0;
      for (const metric of scratch.metrics()) {
        if (!this.o.keep.has(metric)) continue;
        for (const s of scratch.gridSync({ metric, matchers: {} }, ts, ts, 1)) {
          const v = s.values[0] as number;
          if (Number.isFinite(v)) {
            this.store.append(
              metric,
              { ...s.labels, ...(s.labels.instance ? {} : { instance: new URL(target).host }) },
              ts,
              v,
            );
            kept++;
          }
        }
      }
      this.lastErrors.delete(target);
      this.o.onScrape?.(target, (Date.now() - started) / 1000, kept);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.lastErrors.set(target, err.message);
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
