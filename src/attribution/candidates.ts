// Registered deploys as attribution candidates (rank.ts): the one mapping from a deploy and its status,
// shared by the backtest, live always-watched incidents and the Alertmanager webhook.
import type { Deploy } from '../model/deploy.js';
import type { Config } from '../config/schema.js';
import type { AttributionSettings, Candidate } from './rank.js';

/** The largest traffic weight the change reached by time t (1 for all-at-once: it reaches everyone). */
export function reachedWeight(d: Deploy, t = Infinity): number {
  if (d.strategy === 'all-at-once') return 1;
  return Math.max(0, ...d.stages.filter((s) => s.at <= t).map((s) => s.weight));
}

/** A deploy's service status (contracts §5) as the judge's outcome attribution weighs. */
export function candidateStatus(status: string): Candidate['status'] {
  if (status === 'halted' || status === 'rolled_back' || status === 'fail') return 'fail';
  if (status === 'watching') return 'watching';
  if (status === 'passed' || status === 'pass') return 'pass';
  if (status === 'inconclusive') return 'inconclusive';
  return 'other';
}

export function toCandidate(d: Deploy, status: string, t?: number): Candidate {
  return {
    id: d.id,
    service: d.service,
    startedAt: d.startedAt,
    strategy: d.strategy,
    weight: reachedWeight(d, t),
    status: candidateStatus(status),
  };
}

/** The registered deploys that started within the attribution window before `now`, as candidates. */
export async function recentCandidates(
  store: { deploysStartedBetween(from: number, to: number): Promise<{ deploy: string; status: string }[]> },
  now: number,
  window: number,
): Promise<{ candidates: Candidate[]; byId: Map<string, Deploy> }> {
  const byId = new Map<string, Deploy>();
  const candidates = (await store.deploysStartedBetween(now - window, now)).map((r) => {
    const d = JSON.parse(r.deploy) as Deploy;
    byId.set(d.id, d);
    return toCandidate(d, r.status);
  });
  return { candidates, byId };
}

/** How far back changes are considered. */
export const ATTRIBUTION_WINDOW = 6 * 3600;

/** Attribution settings from the config: timing halves every 10 minutes (or 4 ticks), one tick of slack. */
export function attributionSettings(config: Config, step: number): AttributionSettings {
  return {
    window: ATTRIBUTION_WINDOW,
    halfLife: Math.max(600, 4 * step),
    slack: 2 * step,
    dependsOn: Object.fromEntries(Object.entries(config.services).map(([k, v]) => [k, v.dependsOn])),
  };
}
