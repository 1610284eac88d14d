// `navigator backtest`: replays recorded metrics with a simulated clock through the live watch loop
// (contracts §4). Only the clock and the source differ from `navigator serve`.
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';
import type { Evidence } from '../model/verdict.js';
import type { MetricSource } from '../sources/types.js';
import { attributionSettings, toCandidate } from '../attribution/candidates.js';
import { rankCandidates, type Candidate, type RankedCandidate } from '../attribution/rank.js';
import { signalVerdicts, type DeployWatch } from '../watch/deploy-watch.js';
import {
  alwaysStatus,
  newAlwaysWatch,
  stepAlways,
  type AlwaysStatus,
  type AlwaysWatch,
} from '../watch/always-watch.js';
import { totalTick } from '../watch/inputs.js';
import { Watcher } from '../watch/watcher.js';
import { parseHolidays } from '../config/holidays.js';

export interface DeployReport {
  id: string;
  verdict: 'fail' | 'pass' | 'inconclusive';
  decidedAt: string | null;
  signal: string | null;
  reason: string;
  evidence: Evidence | { signals: Record<string, Evidence | null> } | null;
}

export interface IncidentReport {
  detectedAt: string;
  onset: string;
  service: string;
  signal: string;
  attributedTo: string | null;
  candidates: string[];
  scores: RankedCandidate[];
  evidence: Evidence | null;
}

/** An always-watched signal over the replay: when it could judge what (warm-up), and what it paged. */
export interface WatchReport extends AlwaysStatus {
  /** the first tick its forecast detector was armed; until then only a collapse could page */
  armedAt: string | null;
  judgedTicks: number;
  pages: number;
}

export interface BacktestReport {
  range: { from: string; to: string; step: number; ticks: number };
  deploys: DeployReport[];
  incidents: IncidentReport[];
  watches: WatchReport[];
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

export async function runBacktest(o: {
  config: Config;
  source: MetricSource;
  deploys: Deploy[];
  from: number;
  to: number;
}): Promise<BacktestReport> {
  const { config, source } = o;
  const watcher = new Watcher({ config, source });
  const step = watcher.settings.step;
  const absentAfter = watcher.settings.absentAfter;
  const decided = new Map<string, DeployWatch>();
  const started = new Map<string, DeployWatch>();
  const deploys = [...o.deploys].sort((a, b) => a.startedAt - b.startedAt);
  const t0 = Math.ceil(o.from / step) * step;
  const t1 = Math.floor(o.to / step) * step;

  const always: { w: AlwaysWatch; sig: Config['services'][string]['signals'][string] }[] = [];
  const meanTicks = parseDuration(config.evaluation.alwaysMeanTimeBetweenFalsePages) / step;
  for (const [service, sc] of Object.entries(config.services)) {
    for (const [name, sig] of Object.entries(sc.signals)) {
      if (sig.watch !== 'always') continue;
      always.push({
        sig,
        w: newAlwaysWatch({
          service,
          signal: name,
          direction: sig.bad,
          step,
          start: t0,
          meanTicksBetweenFalsePages: meanTicks,
          minEffect: sig.minEffect ?? config.evaluation.minEffect,
          holidays: parseHolidays(config.evaluation.holidays),
        }),
      });
    }
  }

  const incidents: IncidentReport[] = [];
  const candidatesAt = (t: number): Candidate[] =>
    deploys
      .filter((d) => d.startedAt <= t)
      .map((d) => toCandidate(d, (decided.get(d.id) ?? started.get(d.id))?.status ?? 'other', t));
  const attribution = attributionSettings(config, step);

  let next = 0;
  let ticks = 0;
  for (let t = t0; t <= t1; t += step) {
    // With nothing open and nothing always-on, jump to the next deploy.
    if (always.length === 0 && watcher.watches().length === 0) {
      const d = deploys[next];
      if (!d) break;
      const first = Math.floor(d.startedAt / step) * step + step;
      if (first > t) t = Math.min(first, t1 + step) - step;
      if (t > t1) break;
      if (first > t) continue;
    }
    while (next < deploys.length && (deploys[next] as Deploy).startedAt < t) {
      const d = deploys[next++] as Deploy;
      started.set(d.id, watcher.watch(d));
    }
    await watcher.tick(t);
    // Only the watches still open can have been decided this tick: move those, and page the failed ones.
    for (const [id, w] of started) {
      if (w.status === 'watching') continue;
      started.delete(id);
      decided.set(id, w);
      if (w.status !== 'fail') continue;
      const ranked = rankCandidates(
        { service: w.deploy.service, onset: w.deploy.startedAt, detectedAt: w.decidedAt as number },
        candidatesAt(w.decidedAt as number),
        attribution,
      );
      const failing = signalVerdicts(w).find((s) => s.signal === w.failedSignal);
      incidents.push({
        detectedAt: iso(w.decidedAt as number),
        onset: iso(w.deploy.startedAt),
        service: w.deploy.service,
        signal: w.failedSignal as string,
        attributedTo: id,
        candidates: [id, ...ranked.map((r) => r.id).filter((x) => x !== id)],
        scores: ranked,
        evidence: failing?.evidence ?? null,
      });
    }
    for (const a of always) {
      const input = await totalTick(source, a.sig, t, step, absentAfter);
      const x = input.mode === 'history' ? input.total.num.value : NaN;
      const inc = stepAlways(a.w, t, x);
      if (inc) {
        const ranked = rankCandidates(inc, candidatesAt(t), attribution);
        incidents.push({
          detectedAt: iso(t),
          onset: iso(inc.onset),
          service: inc.service,
          signal: inc.signal,
          attributedTo: ranked[0]?.id ?? null,
          candidates: ranked.map((r) => r.id),
          scores: ranked,
          evidence: inc.evidence,
        });
      }
    }
    ticks++;
  }
  for (const w of watcher.watches()) {
    if (w.status === 'watching') {
      w.status = 'inconclusive';
      w.reason = 'the data ended before the deploy had been watched long enough';
    }
    decided.set(w.deploy.id, w);
  }

  const reports: DeployReport[] = o.deploys.map((d) => {
    const w = decided.get(d.id) ?? started.get(d.id);
    if (!w)
      return {
        id: d.id,
        verdict: 'inconclusive',
        decidedAt: null,
        signal: null,
        reason: 'no data for this deploy',
        evidence: null,
      };
    const verdicts = signalVerdicts(w);
    const verdict = w.status === 'watching' ? 'inconclusive' : w.status;
    return {
      id: d.id,
      verdict,
      decidedAt: verdict === 'inconclusive' || w.decidedAt === null ? null : iso(w.decidedAt),
      signal: verdict === 'fail' ? w.failedSignal : null,
      reason: w.reason,
      evidence:
        verdict === 'fail'
          ? (verdicts.find((v) => v.signal === w.failedSignal)?.evidence ?? null)
          : { signals: Object.fromEntries(verdicts.map((v) => [v.signal, v.evidence])) },
    };
  });
  incidents.sort((a, b) => a.detectedAt.localeCompare(b.detectedAt));
  const watches: WatchReport[] = always.map(({ w }) => ({
    ...alwaysStatus(w),
    armedAt: w.armedAt === null ? null : iso(w.armedAt),
    judgedTicks: w.judgedTicks,
    pages: w.pages,
  }));
  return { range: { from: iso(t0), to: iso(t1), step, ticks }, deploys: reports, incidents, watches };
}
