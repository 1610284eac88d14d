// One watched deploy: its signals' judgements and the deploy-level decision (fail at the first failing
// signal; pass after `watchFor` with no regression, enough data, and every signal having seen its final
// ticks and most of the watch (watch/seeing.ts); inconclusive otherwise).
import { formatDuration, parseDuration } from '../config/duration.js';
import type { Config, ServiceConfig } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';
import type { Evidence, Outcome, SeeingSummary, SignalVerdict } from '../model/verdict.js';
import { latencyOptions } from './latency-evidence.js';
import { evidenceOf, hadEnoughData, newSignalJudge, type SignalJudgeState } from './signal-judge.js';
import { FINAL_WINDOW_SECONDS, newSeeing, unseen, type SeeingState } from './seeing.js';

export interface DeployWatch {
  deploy: Deploy;
  step: number;
  /** end of the first judged tick: the first grid time after the start */
  firstTick: number;
  /** when the deploy has been watched long enough to pass */
  endAt: number;
  /** before this, a new version that reports nothing is starting up, not absent */
  graceUntil: number;
  lastTick: number | null;
  status: 'watching' | Outcome;
  decidedAt: number | null;
  failedSignal: string | null;
  reason: string;
  /**
   * history is read on the first tick (it needs the source): all-at-once deploys freeze their forecasts,
   * canary deploys measure each per-exposure signal's dispersion floor on the old version's last hour
   */
  prepared: boolean;
  /** the deploy cannot see since this time (null: seeing): its source did not answer, or a signal is blind */
  blindSince: number | null;
  /** the source's failure while it does not answer at all (every signal blind) */
  sourceError?: string | null;
  signals: SignalJudgeState[];
  /** per signal: what its ticks saw (seeing.ts); missing in watches persisted before it existed */
  seeing?: Record<string, SeeingState>;
}

/** The seeing state of a signal, created on first use (older persisted watches have none). */
export function seeingOf(w: DeployWatch, signal: string): SeeingState {
  w.seeing ??= {};
  let st = w.seeing[signal];
  if (!st) w.seeing[signal] = st = newSeeing();
  return st;
}

export interface Blindness {
  blind: boolean;
  since: number | null;
  signals: { signal: string; since: number; reason: string }[];
}

/** What the watch cannot see now, since when and why (for the API, the gate, /metrics and the logs). */
export function blindness(w: DeployWatch): Blindness {
  if (w.status !== 'watching') return { blind: false, since: null, signals: [] };
  const signals: Blindness['signals'] = [];
  for (const s of w.signals) {
    const st = w.seeing?.[s.name];
    if (w.sourceError && w.blindSince !== null)
      signals.push({
        signal: s.name,
        since: Math.min(w.blindSince, st?.blindSince ?? Infinity),
        reason: w.sourceError,
      });
    else if (st?.blindSince != null)
      signals.push({ signal: s.name, since: st.blindSince, reason: st.reason ?? 'blind' });
  }
  const since = w.blindSince ?? (signals.length ? Math.min(...signals.map((x) => x.since)) : null);
  return { blind: since !== null, since, signals };
}

export interface EvaluationSettings {
  step: number;
  alpha: number;
  minEffect: number;
  absentAfter: number;
}

export function evaluationSettings(config: Config): EvaluationSettings {
  return {
    step: parseDuration(config.evaluation.interval),
    alpha: config.evaluation.falseAlarmRate,
    minEffect: config.evaluation.minEffect,
    absentAfter: config.evaluation.absentAfter,
  };
}

export function openDeployWatch(deploy: Deploy, service: ServiceConfig, ev: EvaluationSettings): DeployWatch {
  const step = ev.step;
  const firstTick = Math.floor(deploy.startedAt / step) * step + step;
  const mode = deploy.strategy === 'canary' ? 'canary' : 'history';
  const signals =
    mode === 'canary'
      ? Object.entries(service.signals).map(([name, sig]) =>
          newSignalJudge({
            name,
            kind: sig.kind,
            mode,
            direction: sig.bad,
            alpha: ev.alpha,
            tolerance: sig.minEffect ?? ev.minEffect,
            forecast: null,
            trafficForecast: null,
            traffic: sig.kind === 'count' && service.traffic ? { metric: service.traffic.metric } : null,
            latency: latencyOptions(sig),
          }),
        )
      : [];
  return {
    deploy,
    step,
    firstTick,
    endAt: deploy.startedAt + parseDuration(service.watchFor),
    graceUntil: deploy.startedAt + Math.max((ev.absentAfter + 1) * step, 60),
    lastTick: null,
    status: 'watching',
    decidedAt: null,
    failedSignal: null,
    reason: 'watching',
    prepared: false,
    blindSince: null,
    sourceError: null,
    signals,
    seeing: Object.fromEntries(signals.map((s) => [s.name, newSeeing()])),
  };
}

/**
 * The latest a watch may run when its data are too thin at `endAt`: twice its length more, and at least twice
 * the final window that must be seen to pass (seeing.ts), so a watch shorter than that window (a 12 s demo
 * watch) blinded by a restart near its end can still see its last 30 s instead of going to a human.
 */
export function extendedEnd(w: DeployWatch): number {
  const final = Math.max(2 * w.step, FINAL_WINDOW_SECONDS);
  return w.endAt + Math.max(2 * Math.max(0, w.endAt - w.deploy.startedAt), 2 * final);
}

/** Ticks the watch may judge over its whole life. */
export function horizonTicks(w: DeployWatch): number {
  return Math.max(1, Math.ceil((extendedEnd(w) - w.firstTick) / w.step) + 1);
}

/** After a tick: fail if a signal failed, pass or give up once watched long enough. */
export function decide(w: DeployWatch, t: number): void {
  if (w.status !== 'watching') return;
  const failed = w.signals.find((s) => s.failed);
  if (failed) {
    w.status = 'fail';
    w.decidedAt = t;
    w.failedSignal = failed.name;
    w.reason = evidenceOf(failed, unitOf(failed)).sentence;
    return;
  }
  if (t >= w.endAt) {
    // A deploy never passes on ticks it did not see: every signal must have seen its final ticks and most
    // of the watch. Until then it keeps watching (blind while it is blind), also past the extended end.
    // (A signal that cannot be judged as configured is never seen: waiting for it gains nothing.)
    const notSeen = w.signals
      .filter((s) => !s.error)
      .map((s) => ({ name: s.name, why: unseen(seeingOf(w, s.name), w.step, w.endAt - w.deploy.startedAt) }))
      .filter((x) => x.why !== null);
    const b = blindness(w);
    if (notSeen.length > 0 && (t < extendedEnd(w) || b.blind)) {
      w.reason = `watching: not seen enough to pass: ${notSeen.map((x) => `${x.name} (${x.why})`).join(', ')}`;
      return;
    }
    const thin = w.signals.filter((s) => !hadEnoughData(s));
    // Too little data yet (low traffic, gaps): keep watching, up to three times watchFor, rather than
    // passing on a guess or giving up early.
    // A signal that cannot be judged as configured (a histogram without the slowerThan bound) gains nothing
    // from waiting: the deploy ends inconclusive at endAt, saying why.
    const misconfigured = w.signals.filter((s) => s.error);
    if (thin.length > misconfigured.length && t < extendedEnd(w)) return;
    w.decidedAt = t;
    if (w.signals.length > 0 && thin.length === 0 && notSeen.length === 0) {
      w.status = 'pass';
      w.reason = `watched for ${formatDuration(t - w.deploy.startedAt)} with no regression on ${w.signals.map((s) => s.name).join(', ')}`;
    } else if (misconfigured.length > 0) {
      w.status = 'inconclusive';
      w.reason = `not judged: ${misconfigured.map((s) => s.error).join('; ')}`;
    } else {
      w.status = 'inconclusive';
      w.reason = notSeen.length
        ? `not seen enough to judge ${notSeen.map((x) => `${x.name} (${x.why})`).join(', ')} after ${formatDuration(t - w.deploy.startedAt)}`
        : w.signals.length
          ? `too little data to judge ${thin.map((s) => s.name).join(', ')} after ${formatDuration(t - w.deploy.startedAt)}: a collapse would not have been detectable`
          : 'no signals configured for this service';
    }
  }
}

export function signalVerdicts(w: DeployWatch): SignalVerdict[] {
  return w.signals.map((s) => ({
    signal: s.name,
    status: s.failed ? 'fail' : w.status === 'watching' ? 'watching' : w.status === 'fail' ? 'pass' : w.status,
    decidedAt: s.decidedAt ?? (w.status === 'watching' ? null : w.decidedAt),
    blindTicks: s.blindTicks,
    evidence: s.ticks > 0 ? withSeeing(evidenceOf(s, unitOf(s)), w, s.name) : null,
    seeing: seeingSummary(w, s.name),
  }));
}

/** How much of the watch a signal saw, for its verdict (contracts §7: the evidence says it). */
export function seeingSummary(w: DeployWatch, signal: string): SeeingSummary {
  const st = w.seeing?.[signal];
  const ticks = w.lastTick === null ? 0 : Math.round((w.lastTick - w.firstTick) / w.step) + 1;
  return {
    ticks,
    seenTicks: st?.seenTicks ?? 0,
    gapTicks: st?.gapTicks ?? 0,
    blindTicks: st?.blindTicks ?? 0,
    last: st?.last ?? null,
    blind: w.status === 'watching' && (st?.blindSince != null || !!w.sourceError),
    blindSince: st?.blindSince ?? (w.sourceError ? w.blindSince : null),
    reason: st?.reason ?? w.sourceError ?? null,
  };
}

function withSeeing(ev: Evidence, w: DeployWatch, signal: string): Evidence {
  const sum = seeingSummary(w, signal);
  ev.seen = { ticks: sum.ticks, seenTicks: sum.seenTicks, blindTicks: sum.blindTicks, gapTicks: sum.gapTicks };
  if (sum.blind) ev.blind = true;
  return ev;
}

function unitOf(s: SignalJudgeState): string {
  return s.kind === 'latency' ? 'slow requests' : s.kind === 'ratio' ? 'bad events' : 'events';
}
