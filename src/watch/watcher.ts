// The tick loop shared by the live service and the backtest: every open watch judged once per tick, in
// tick order, through the same judge. The clock is not read here: callers say which time it is, so a
// backtest replays weeks in seconds and the live service passes the wall clock.
import type { Config } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';
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
import { stageWeights, weightOver } from './inputs.js';
import { latencyOptions } from './latency-evidence.js';
import { MAX_GAP_SECONDS, markBlind, markGap, markSeen } from './seeing.js';
import {
  errorOf,
  failureOf,
  LocalObserver,
  type Failure,
  type Observer,
  type ObserverTick,
  type PrepareAnswer,
  type PrepareRequest,
  type TickRequest,
} from './observer.js';
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

/** Watches judged between two yields to the event loop (a slice is well under a millisecond). */
const JUDGE_SLICE = 25;

/** Catch-up bound: after an outage, at most this many missed ticks are judged in one go. */
const MAX_CATCH_UP = 240;

export class Watcher {
  readonly settings: EvaluationSettings;
  private readonly open = new Map<string, DeployWatch>();

  /** reads the source for each tick: on this thread (LocalObserver) or in a worker (worker-observer.ts) */
  readonly observer: Observer;

  constructor(
    private readonly deps: {
      config: Config;
      source: MetricSource;
      events?: WatcherEvents;
      log?: Logger;
      observer?: Observer;
    },
  ) {
    this.settings = evaluationSettings(deps.config);
    this.observer = deps.observer ?? new LocalObserver(deps.source, deps.config, this.settings);
  }

  /** Stops the observer (a worker thread): the last thing a stopping service does. */
  async stop(): Promise<void> {
    await this.observer.close();
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

  /**
   * Judges every open watch for each tick up to `now`. One failing watch never stops the others. The
   * observer reads (observer.ts: on this thread, or in a worker); this judges what it read, in batches with
   * a yield to the event loop between them, so a tick over thousands of watches never holds up the API.
   * A watch behind by several ticks (after an outage) is read and judged one tick per round, since each
   * tick's reading starts where the previous one left each signal (its anchor).
   */
  async tick(now: number): Promise<void> {
    const reading = this.observer.begin();
    try {
      let due = [...this.open.values()];
      await this.batches(due, (ws) => this.prepareAll(ws, reading, now));
      for (let round = 0; round < MAX_CATCH_UP; round++) {
        due = due.filter(
          (w) => w.prepared && w.status === 'watching' && this.open.has(w.deploy.id) && this.nextTick(w) <= now,
        );
        if (due.length === 0) break;
        // only the watches judged this round go on to the next: a failed read is not retried within a tick
        const judged: DeployWatch[] = [];
        await this.batches(due, (ws) => this.observeAll(ws, reading, now, judged));
        due = judged;
      }
    } finally {
      reading.end();
    }
  }

  /** The tick a watch judges next. */
  private nextTick(w: DeployWatch): number {
    return w.lastTick === null ? w.firstTick : w.lastTick + this.settings.step;
  }

  /**
   * Runs `run` over the watches in the observer's batches, `ahead` of them in flight; each batch answers
   * with one judging step per watch, run here JUDGE_SLICE at a time with a yield to the event loop between.
   */
  private async batches(ws: DeployWatch[], run: (ws: DeployWatch[]) => Promise<(() => void)[]>): Promise<void> {
    const { batch, ahead } = this.observer;
    const inFlight: Promise<(() => void)[]>[] = [];
    let next = 0;
    const more = () => {
      while (inFlight.length < ahead && next < ws.length) {
        inFlight.push(run(ws.slice(next, next + batch)));
        next += batch;
      }
    };
    more();
    let first = true;
    while (inFlight.length) {
      const steps = await (inFlight.shift() as Promise<(() => void)[]>);
      more();
      for (let i = 0; i < steps.length; i += JUDGE_SLICE) {
        if (!first) await new Promise((r) => setImmediate(r));
        first = false;
        for (const step of steps.slice(i, i + JUDGE_SLICE)) step();
      }
    }
  }

  /** Reads the history of the watches not yet prepared; returns the judging of what was read. */
  private async prepareAll(ws: DeployWatch[], reading: ObserverTick, now: number): Promise<(() => void)[]> {
    const todo = ws.filter((w) => !w.prepared);
    if (todo.length === 0) return [];
    const answers = await reading
      .prepare(todo.map((w) => this.prepareRequest(w)))
      .catch((e: unknown) => todo.map(() => failureOf(e)));
    return todo.map((w, i) => () => {
      const a = answers[i] ?? { error: 'no answer', source: null };
      if ('error' in a) return this.fail(w, now, errorOf(a));
      try {
        this.prepared(w, a);
        this.deps.events?.changed?.(w, null);
      } catch (e) {
        this.fail(w, now, e);
      }
    });
  }

  /** Reads the next tick of these watches; returns the judging of what was read. */
  private async observeAll(
    ws: DeployWatch[],
    reading: ObserverTick,
    now: number,
    judged: DeployWatch[],
  ): Promise<(() => void)[]> {
    const reqs: TickRequest[] = [];
    const asked: { w: DeployWatch; t: number }[] = [];
    const failed: { w: DeployWatch; e: unknown }[] = [];
    for (const w of ws) {
      try {
        reqs.push(this.tickRequest(w));
        asked.push({ w, t: this.nextTick(w) });
      } catch (e) {
        failed.push({ w, e });
      }
    }
    const answers = reqs.length ? await reading.observe(reqs).catch((e: unknown) => reqs.map(() => failureOf(e))) : [];
    return [
      ...failed.map((f) => () => this.fail(f.w, now, f.e)),
      ...asked.map(({ w, t }, i) => () => {
        // A watch closed or changed meanwhile (an override, a stage, a lease lost) is not judged on it.
        if (w.status !== 'watching' || !this.open.has(w.deploy.id) || this.nextTick(w) !== t) return;
        const a = answers[i] ?? { error: 'no answer', source: null };
        if ('error' in a) return this.fail(w, now, errorOf(a));
        try {
          // Every signal's observation first: a source that fails fails here, before any state changed, so
          // the tick is judged again once the source answers (Prometheus keeps the history).
          this.apply(w, t, a.observations);
          this.deps.events?.changed?.(w, { t, o: a.observations });
          judged.push(w);
        } catch (e) {
          this.fail(w, now, e);
        }
        this.settle(w);
      }),
    ];
  }

  private tickRequest(w: DeployWatch): TickRequest {
    const service = this.deps.config.services[w.deploy.service];
    if (!service) throw new Error(`service ${w.deploy.service} left the config`);
    const t = this.nextTick(w);
    return {
      service: w.deploy.service,
      version: w.deploy.version,
      baselineVersion: w.deploy.baselineVersion,
      t,
      signals: w.signals.map((s) => ({
        name: s.name,
        mode: s.mode,
        anchor: seeingOf(w, s.name).anchor ?? t - this.settings.step,
      })),
    };
  }

  /** A watch that could not be read or judged this tick: blind, said once, the others go on. */
  private fail(w: DeployWatch, now: number, e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.failed(w, now, err.message);
    this.deps.events?.changed?.(w, { at: now, l: w.lastTick, e: err.message });
    if (!(err instanceof SourceError)) this.deps.log?.error({ deploy: w.deploy.id, err }, 'watch failed');
    this.deps.events?.blind?.(w, err);
    this.settle(w);
  }

  /** A decided watch leaves the loop and is announced once. */
  private settle(w: DeployWatch): void {
    if (w.status !== 'watching' && this.open.get(w.deploy.id) === w) {
      this.open.delete(w.deploy.id);
      this.deps.events?.decided?.(w);
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
    // The source answered: the watch is blind now only where a signal is (a source failure before this
    // tick no longer counts; keeping its time here kept the watch blind, and paged, for good).
    w.sourceError = null;
    w.blindSince = null;
    w.blindSince = blindness(w).since;
    decide(w, t);
  }

  private prepareRequest(w: DeployWatch): PrepareRequest {
    return {
      service: w.deploy.service,
      version: w.deploy.version,
      baselineVersion: w.deploy.baselineVersion,
      strategy: w.deploy.strategy,
      origin: w.firstTick - this.settings.step,
      horizon: horizonTicks(w),
      // every canary signal: per exposure, or a placebo split for a count without `traffic` (history.ts)
      floors: w.signals.filter((s) => s.main.kind === 'two-arm').map((s) => s.name),
    };
  }

  /**
   * The history read before the deploy (observer.ts, prepareWatch). Canary deploys: each signal gets the
   * dispersion floor measured on the old version's last hour (per exposure, or a placebo split of its
   * instances for a count without `traffic`). All-at-once deploys: each signal's forecast is frozen.
   */
  private prepared(w: DeployWatch, a: Exclude<PrepareAnswer, Failure>): void {
    const service = this.deps.config.services[w.deploy.service];
    if (!service) throw new Error(`service ${w.deploy.service} is not in the config`);
    const { alpha, minEffect } = this.settings;
    if (w.deploy.strategy === 'canary') {
      if (!('floors' in a)) throw new Error('a canary watch prepared without floors');
      let i = 0;
      for (const s of w.signals) if (s.main.kind === 'two-arm') s.main.floor = a.floors[i++] ?? null;
      w.prepared = true;
      return;
    }
    if (!('forecasts' in a)) throw new Error('an all-at-once watch prepared without forecasts');
    w.signals = [];
    for (const f of a.forecasts) {
      const sig = service.signals[f.name];
      if (!sig) continue;
      const judge = newSignalJudge({
        name: f.name,
        kind: sig.kind,
        mode: 'history',
        direction: sig.bad,
        alpha: alpha / 2,
        tolerance: sig.minEffect ?? minEffect,
        forecast: f.forecast?.main ?? UNJUDGED,
        trafficForecast: f.forecast?.traffic ?? null,
        latency: latencyOptions(sig),
      });
      if (f.error !== undefined) judge.error = `signal ${f.name}: ${f.error}`;
      w.signals.push(judge);
    }
    w.prepared = true;
  }
}
