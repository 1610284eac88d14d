// The tick loop shared by the live service and the backtest: every open watch judged once per tick, in
// tick order, through the same judge. The clock is not read here: callers say which time it is, so a
// backtest replays weeks in seconds and the live service passes the wall clock.
import type { Config } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';
import { HistogramBoundError } from '../signals/histogram.js';
import { TickCache } from '../sources/tick-cache.js';
import { SourceError, type MetricSource } from '../sources/types.js';
import {
  blindness,
  decide,
  evaluationSettings,
  seeingOf,
  horizonTicks,
  openDeployWatch,
  type DeployWatch,
  type EvaluationSettings,
} from './deploy-watch.js';
import { canaryFloor, historyForecasts } from './history.js';
import { observeCanary, observeTotal, stageWeights, weightOver } from './inputs.js';
import { latencyOptions } from './latency-evidence.js';
import { MAX_GAP_SECONDS, markBlind, markGap, markSeen } from './seeing.js';
import type { Observation, WatchRecord } from './tick-log.js';
import { newSignalJudge, STAGE_LAG, stepSignal, type FrozenForecast, type TickInput } from './signal-judge.js';

export interface WatcherEvents {
  /** a deploy was decided (fail, pass or inconclusive) */
  decided?(w: DeployWatch): void;
  /** a watch could not be judged this tick (its source failed): it stays watching, blind */
  blind?(w: DeployWatch, error: Error): void;
  /**
   * What a tick changed in a watch, as a record (watch/tick-log.ts), or null when the change is one a record
   * cannot carry (the history read once before the first tick): the whole state must be saved.
   */
  changed?(w: DeployWatch, record: WatchRecord | null): void;
}

export interface Logger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const UNKNOWN = { value: NaN, live: 0 };
/** The forecast of a signal that is never judged (its judge carries the error instead). */
const UNJUDGED: FrozenForecast = { values: [], margin: 0, sigma2: 0, d0: 1, lags: [], origins: 0 };
const UNKNOWN_ARMS = { canary: { num: UNKNOWN, den: UNKNOWN }, baseline: { num: UNKNOWN, den: UNKNOWN } };

/** Watches judged between two yields to the event loop. */
const CHUNK = 25;

/** Catch-up bound: after an outage, at most this many missed ticks are judged in one go. */
const MAX_CATCH_UP = 240;

export class Watcher {
  readonly settings: EvaluationSettings;
  private readonly open = new Map<string, DeployWatch>();

  constructor(private readonly deps: { config: Config; source: MetricSource; events?: WatcherEvents; log?: Logger }) {
    this.settings = evaluationSettings(deps.config);
  }

  /** Starts watching a deploy, or resumes a persisted watch. */
  watch(deploy: Deploy): DeployWatch {
    const service = this.deps.config.services[deploy.service];
    if (!service) throw new Error(`deploy ${deploy.id}: service "${deploy.service}" is not in the config`);
    const w = openDeployWatch(deploy, service, this.settings);
    this.open.set(deploy.id, w);
    return w;
  }

  resume(w: DeployWatch): void {
    if (w.status === 'watching') this.open.set(w.deploy.id, w);
  }

  watches(): DeployWatch[] {
    return [...this.open.values()];
  }

  get(id: string): DeployWatch | undefined {
    return this.open.get(id);
  }

  /** Stops watching (the pipeline ended the deploy, or it was decided). */
  close(id: string): void {
    this.open.delete(id);
  }

  /** Judges every open watch for each tick up to `now`. One failing watch never stops the others. */
  /**
   * Judges every open watch for each tick up to `now`. One failing watch never stops the others. Watches are
   * judged in chunks with a yield to the event loop between them, so a tick over thousands of watches never
   * holds up the API (the gate answers within milliseconds while a tick runs).
   */
  async tick(now: number): Promise<void> {
    const source = new TickCache(this.deps.source);
    const all = [...this.open.values()];
    for (let i = 0; i < all.length; i += CHUNK) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      await Promise.all(all.slice(i, i + CHUNK).map((w) => this.judge(w, now, source)));
    }
  }

  private async judge(w: DeployWatch, now: number, source: MetricSource): Promise<void> {
    try {
      await this.advance(w, now, source);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.failed(w, now, err.message);
      this.deps.events?.changed?.(w, { at: now, l: w.lastTick, e: err.message });
      if (!(err instanceof SourceError)) this.deps.log?.error({ deploy: w.deploy.id, err }, 'watch failed');
      this.deps.events?.blind?.(w, err);
    }
    if (w.status !== 'watching') {
      this.open.delete(w.deploy.id);
      this.deps.events?.decided?.(w);
    }
  }

  private async advance(w: DeployWatch, now: number, source: MetricSource): Promise<void> {
    const { step, absentAfter } = this.settings;
    if (!w.prepared) {
      await this.prepare(w);
      this.deps.events?.changed?.(w, null);
    }
    let t = w.lastTick === null ? w.firstTick : w.lastTick + step;
    for (let n = 0; t <= now && n < MAX_CATCH_UP && w.status === 'watching'; t += step, n++) {
      const service = this.deps.config.services[w.deploy.service];
      if (!service) throw new Error(`service ${w.deploy.service} left the config`);
      const split = {
        label: service.cohortLabel,
        version: w.deploy.version,
        baselineVersion: w.deploy.baselineVersion,
      };
      // Every signal's observation first: a source that fails throws here, before any state changed, so
      // the tick is judged again once the source answers (Prometheus keeps the history).
      const observations = await Promise.all(
        w.signals.map((s) => {
          const sig = service.signals[s.name];
          if (!sig) throw new Error(`signal ${s.name} left the config`);
          const anchor = seeingOf(w, s.name).anchor ?? t - step;
          return s.mode === 'canary'
            ? observeCanary(
                source,
                sig,
                split,
                anchor,
                t,
                step,
                absentAfter,
                sig.kind === 'count' && service.traffic ? { signal: s.name, selector: service.traffic } : null,
              )
            : observeTotal(source, sig, anchor, t, step, absentAfter);
        }),
      );
      this.apply(w, t, observations);
      this.deps.events?.changed?.(w, { t, o: observations });
    }
  }

  /** A source failure at `now`: the watch is blind; nothing else changes (the tick is judged again later). */
  private failed(w: DeployWatch, now: number, message: string): void {
    if (w.blindSince === null) w.blindSince = now;
    w.sourceError = message;
  }

  /**
   * Applies a persisted record (watch/tick-log.ts) to a watch restored from its last checkpoint: the same code
   * the live tick ran, so the state is the one the live process had. Records the state already has (at or
   * before its last tick) are skipped. Throws when the record does not fit the watch or the config.
   */
  replay(w: DeployWatch, r: WatchRecord): void {
    if ('e' in r) {
      if (r.l === w.lastTick) this.failed(w, r.at, r.e);
      return;
    }
    if (w.status !== 'watching' || (w.lastTick !== null && r.t <= w.lastTick)) return;
    const expected = w.lastTick === null ? w.firstTick : w.lastTick + this.settings.step;
    if (Math.abs(r.t - expected) > 1e-6) throw new Error(`record for tick ${r.t}, expected ${expected}`);
    if (r.o.length !== w.signals.length) throw new Error(`record with ${r.o.length} signals for ${w.signals.length}`);
    this.apply(w, r.t, r.o);
  }

  /** Judges the tick ending at t from its observations (pure: no I/O). */
  private apply(w: DeployWatch, t: number, observations: Observation[]): void {
    const { step } = this.settings;
    const index = Math.round((t - w.firstTick) / step);
    const weight = weightOver(w.deploy, t, step);
    // The new version is up once any of its series reports: from then on, a signal whose series it does
    // not report (no orders at all, say) counts as zero events, not as "still starting".
    const alive = observations.some(
      (o) =>
        o.kind === 'seen' &&
        'canary' in o.counts &&
        (o.counts.canary.num.live > 0 || (o.counts.canary.den?.live ?? 0) > 0),
    );
    w.signals.forEach((s, i) => {
      const o = observations[i]!;
      const st = seeingOf(w, s.name);
      if (o.kind === 'error') {
        const input: TickInput =
          s.mode === 'canary'
            ? { mode: 'canary', weight, ...UNKNOWN_ARMS }
            : { mode: 'history', total: UNKNOWN_ARMS.canary };
        const hadError = s.error !== undefined;
        stepSignal(s, { ...input, error: o.error }, t, index, true);
        // A configuration error seen in the data (a histogram without the slowerThan bound): said once, loudly.
        if (!hadError && s.error) this.deps.log?.error({ deploy: w.deploy.id, signal: s.name }, s.error);
        return;
      }
      if (o.kind === 'blind') {
        markBlind(st, t, step, o.reason);
        s.blindTicks++;
        return;
      }
      if (o.kind === 'gap') {
        if (!markGap(st, t, step, weight, o.restart, o.reason)) {
          markBlind(st, t, step, `no sample for over ${MAX_GAP_SECONDS}s: ${o.reason}`);
          s.blindTicks++;
        }
        return;
      }
      const canary = 'canary' in o.counts ? o.counts.canary : null;
      const absent = canary !== null && (s.kind !== 'count' ? (canary.den?.live ?? 0) : canary.num.live) === 0;
      const { span, weight: avgWeight } = markSeen(st, t, weight, absent);
      // The declared split's range over the observation and the STAGE_LAG ticks before it (a stage change
      // the traffic follows late); the measured one, when `traffic` is declared, rides with the counts.
      const sw = stageWeights(w.deploy, t, step, STAGE_LAG + span - 1);
      const input: TickInput =
        'canary' in o.counts
          ? {
              mode: 'canary',
              weight: avgWeight,
              weightLow: Math.min(sw.weightLow, avgWeight),
              weightHigh: Math.max(sw.weightHigh, avgWeight),
              exposure: o.counts.exposure ?? null,
              canary: o.counts.canary,
              baseline: o.counts.baseline,
              span,
            }
          : { mode: 'history', total: o.counts.total, span };
      if (o.buckets) input.buckets = o.buckets;
      stepSignal(s, input, t, index, alive || t > w.graceUntil);
    });
    w.lastTick = t;
    w.sourceError = null;
    w.blindSince = blindness(w).since;
    decide(w, t);
  }

  /**
   * Reads the history before the deploy. Canary deploys: each signal judged per exposure gets the
   * dispersion floor measured on the old version's last hour. All-at-once deploys: each signal's forecast
   * is frozen from the history.
   */
  private async prepare(w: DeployWatch): Promise<void> {
    const service = this.deps.config.services[w.deploy.service];
    if (!service) throw new Error(`service ${w.deploy.service} is not in the config`);
    const { step, absentAfter, alpha, minEffect } = this.settings;
    const origin = w.firstTick - step;
    if (w.deploy.strategy === 'canary') {
      const split = {
        label: service.cohortLabel,
        version: w.deploy.version,
        baselineVersion: w.deploy.baselineVersion,
      };
      const floors = await Promise.all(
        w.signals.map(async (s) => {
          const sig = service.signals[s.name];
          if (!sig || s.main.kind !== 'two-arm') return null;
          try {
            return await canaryFloor(this.deps.source, sig, service.traffic ?? null, split, origin, step, absentAfter);
          } catch (e) {
            // a histogram without the slowerThan bound: said by the signal's first tick, no floor here
            if (e instanceof HistogramBoundError) return null;
            throw e;
          }
        }),
      );
      w.signals.forEach((s, i) => {
        if (s.main.kind === 'two-arm') s.main.floor = floors[i] ?? null;
      });
      w.prepared = true;
      return;
    }
    const horizon = horizonTicks(w);
    w.signals = [];
    for (const [name, sig] of Object.entries(service.signals)) {
      // Without a control arm, half the false-alarm budget goes to the forecast's level error (the margin),
      // half to the test against it.
      // A histogram without the slowerThan bound has no history to forecast: the signal is never judged.
      const f = await historyForecasts(this.deps.source, sig, origin, step, horizon, absentAfter, alpha / 2).catch(
        (e: unknown) => {
          if (e instanceof HistogramBoundError) return { main: UNJUDGED, traffic: null, error: e.message };
          throw e;
        },
      );
      const judge = newSignalJudge({
        name,
        kind: sig.kind,
        mode: 'history',
        direction: sig.bad,
        alpha: alpha / 2,
        tolerance: sig.minEffect ?? minEffect,
        forecast: f.main,
        trafficForecast: f.traffic,
        latency: latencyOptions(sig),
      });
      if ('error' in f) judge.error = `signal ${name}: ${f.error}`;
      w.signals.push(judge);
    }
    w.prepared = true;
  }
}
