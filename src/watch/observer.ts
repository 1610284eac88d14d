// What a tick reads from the metric source, as requests and answers of plain data: for each open watch, its
// signals' observations of one tick (the counts since each signal's anchor), and once before its first tick,
// the history it is prepared from (a canary's dispersion floors, an all-at-once deploy's frozen forecasts).
// The watcher (watcher.ts) keeps every watch's state and judges it; an Observer only reads and decodes.
//
// Why this split (measured with `node --cpu-prof` on `navigator serve`, 10,000 canary watches over 100
// services at 15 s against a real Prometheus, bench/service/live.ts): of a tick's CPU, the judge itself
// (Watcher.apply: the tests, the evidence) is about 4%; reading is the rest: the HTTP client, gzip, JSON,
// putting samples on the tick grid, picking each watch's cohorts out of the service's series, and the
// garbage all that leaves (GC alone 18%). So reading is what moves off the event loop that serves HTTP (a
// worker thread: worker-observer.ts), and the state stays where the store, the gate view and the effects
// are: the restart, replica and evidence guarantees are those of the one watcher, untouched, and a worker
// that dies loses nothing but the tick it was reading (its watches are blind for it, never passed).
//
// LocalObserver answers on the calling thread (tests, the embedded scraper, a source passed in by code);
// the worker runs the same functions (observeTick, prepareWatch) over its own Prometheus client.
import type { Config } from '../config/schema.js';
import type { DispersionFloor } from '../judge/dispersion.js';
import { HistogramBoundError } from '../signals/histogram.js';
import { TickCache } from '../sources/tick-cache.js';
import { SourceError, type MetricSource } from '../sources/types.js';
import type { EvaluationSettings } from './deploy-watch.js';
import { canaryFloor, historyForecasts, type HistoryForecasts } from './history.js';
import { observeCanary, observeTotal } from './inputs.js';
import type { Observation } from './tick-log.js';

/** One watch's tick ending at t: each signal's observation since its anchor. */
export interface TickRequest {
  service: string;
  version: string;
  baselineVersion: string | null;
  t: number;
  signals: { name: string; mode: 'canary' | 'history'; anchor: number }[];
}

/** A failure, as data: `source` set when the metric source failed (a SourceError: the watch is blind). */
export interface Failure {
  error: string;
  source: string | null;
}

export type TickAnswer = { observations: Observation[] } | Failure;

/** What a watch reads once before its first tick (the history before `origin`, the tick end before it). */
export interface PrepareRequest {
  service: string;
  version: string;
  baselineVersion: string | null;
  strategy: 'canary' | 'all-at-once' | string;
  origin: number;
  /** all-at-once: ticks the forecast must cover */
  horizon: number;
  /** canary: the signals whose dispersion floor is measured (judged per exposure) */
  floors: string[];
}

export type PrepareAnswer =
  | { floors: (DispersionFloor | null)[] }
  | { forecasts: { name: string; forecast: HistoryForecasts | null; error?: string }[] }
  | Failure;

/** One tick's reading session: answers share one query cache (tick-cache.ts) until `end`. */
export interface ObserverTick {
  observe(reqs: TickRequest[]): Promise<TickAnswer[]>;
  prepare(reqs: PrepareRequest[]): Promise<PrepareAnswer[]>;
  end(): void;
}

export interface Observer {
  /** watches per request */
  readonly batch: number;
  /** requests the watcher keeps in flight (1: one batch at a time, as the calling thread judges it) */
  readonly ahead: number;
  begin(): ObserverTick;
  close(): Promise<void>;
}

export function failureOf(e: unknown): Failure {
  const err = e instanceof Error ? e : new Error(String(e));
  return { error: err.message, source: err instanceof SourceError ? err.source : null };
}

/** The error a failure stands for: a SourceError again when the source failed (the watcher logs no stack). */
export function errorOf(f: Failure): Error {
  return f.source !== null ? new SourceError(f.error, f.source) : new Error(f.error);
}

/** Reads one watch's tick (the body of the watch loop's old per-watch read). */
export async function observeTick(
  source: MetricSource,
  config: Config,
  settings: EvaluationSettings,
  r: TickRequest,
): Promise<Observation[]> {
  const { step, absentAfter } = settings;
  const service = config.services[r.service];
  if (!service) throw new Error(`service ${r.service} left the config`);
  const split = { label: service.cohortLabel, version: r.version, baselineVersion: r.baselineVersion };
  return Promise.all(
    r.signals.map((s) => {
      const sig = service.signals[s.name];
      if (!sig) throw new Error(`signal ${s.name} left the config`);
      return s.mode === 'canary'
        ? observeCanary(
            source,
            sig,
            split,
            s.anchor,
            r.t,
            step,
            absentAfter,
            sig.kind === 'count' && service.traffic ? { signal: s.name, selector: service.traffic } : null,
          )
        : observeTotal(source, sig, s.anchor, r.t, step, absentAfter);
    }),
  );
}

/**
 * Reads the history a watch is prepared from. Canary: each listed signal's dispersion floor on the old
 * version's last hour. All-at-once: each configured signal's forecast frozen from the history, half the
 * false-alarm budget going to the forecast's level error (a histogram without the slowerThan bound has no
 * history to forecast: that signal carries the error instead).
 */
export async function prepareWatch(
  source: MetricSource,
  config: Config,
  settings: EvaluationSettings,
  r: PrepareRequest,
): Promise<PrepareAnswer> {
  const service = config.services[r.service];
  if (!service) throw new Error(`service ${r.service} is not in the config`);
  const { step, absentAfter, alpha } = settings;
  if (r.strategy === 'canary') {
    const split = { label: service.cohortLabel, version: r.version, baselineVersion: r.baselineVersion };
    const floors = await Promise.all(
      r.floors.map(async (name) => {
        const sig = service.signals[name];
        if (!sig) return null;
        try {
          return await canaryFloor(source, sig, service.traffic ?? null, split, r.origin, step, absentAfter);
        } catch (e) {
          // a histogram without the slowerThan bound: said by the signal's first tick, no floor here
          if (e instanceof HistogramBoundError) return null;
          throw e;
        }
      }),
    );
    return { floors };
  }
  const forecasts: { name: string; forecast: HistoryForecasts | null; error?: string }[] = [];
  for (const [name, sig] of Object.entries(service.signals)) {
    try {
      forecasts.push({
        name,
        forecast: await historyForecasts(source, sig, r.origin, step, r.horizon, absentAfter, alpha / 2),
      });
    } catch (e) {
      if (!(e instanceof HistogramBoundError)) throw e;
      forecasts.push({ name, forecast: null, error: e.message });
    }
  }
  return { forecasts };
}

/** Reads on the calling thread: the source as given, one query cache per tick. */
export class LocalObserver implements Observer {
  readonly batch = 25;
  readonly ahead = 1;

  constructor(
    private readonly source: MetricSource,
    private readonly config: Config,
    private readonly settings: EvaluationSettings,
  ) {}

  begin(): ObserverTick {
    const cache = new TickCache(this.source);
    const { config, settings } = this;
    return {
      observe: (reqs) =>
        Promise.all(
          reqs.map((r) =>
            observeTick(cache, config, settings, r).then((observations): TickAnswer => ({ observations }), failureOf),
          ),
        ),
      prepare: (reqs) => Promise.all(reqs.map((r) => prepareWatch(cache, config, settings, r).catch(failureOf))),
      end: () => {},
    };
  }

  async close(): Promise<void> {}
}
