// Which change most likely caused a regression (design §5). Pure: candidates in, ranked scores out.
// The score multiplies a few independent likelihood-like factors, so each can be explained in a page:
// - timing: changes that started shortly before the onset explain it best; the factor halves every
//   `halfLife` of delay, and a change that started after the onset (beyond one tick of slack) barely can;
// - relation: the service's own change, a change to a service it depends on, or any other service;
// - rollout: a change still rolling out, and its blast radius (an all-at-once deploy reaches everyone,
//   a canary only its weight);
// - own verdict: a change whose own canary already failed in the same direction is the prime suspect.

export interface Candidate {
  id: string;
  service: string;
  startedAt: number;
  strategy: 'canary' | 'all-at-once';
  /** largest traffic weight the change reached so far (1 for all-at-once) */
  weight: number;
  /** the change's own watch status at the time of the incident */
  status: 'watching' | 'fail' | 'pass' | 'inconclusive' | 'other';
}

export interface Incident {
  service: string;
  onset: number;
  detectedAt: number;
}

export interface RankedCandidate {
  id: string;
  score: number;
  factors: { timing: number; relation: number; rollout: number; verdict: number };
}

export interface AttributionSettings {
  /** how far back changes are considered, seconds */
  window: number;
  /** timing factor halves every halfLife seconds between the change and the onset */
  halfLife: number;
  /** a change may start up to this long after the estimated onset (the onset estimate is coarse) */
  slack: number;
  dependsOn: Record<string, readonly string[]>;
}

export function rankCandidates(
  incident: Incident,
  candidates: readonly Candidate[],
  s: AttributionSettings,
): RankedCandidate[] {
  const ranked: RankedCandidate[] = [];
  for (const c of candidates) {
    if (c.startedAt > incident.detectedAt) continue;
    const lead = incident.onset - c.startedAt; // > 0: the change came first
    if (lead > s.window) continue;
    const timing = lead >= -s.slack ? Math.pow(0.5, Math.max(0, lead) / s.halfLife) : 0.05;
    const relation =
      c.service === incident.service ? 1 : (s.dependsOn[incident.service] ?? []).includes(c.service) ? 0.8 : 0.4;
    const rollout = (c.status === 'watching' ? 1 : 0.7) * (0.3 + 0.7 * Math.min(1, Math.max(0, c.weight)));
    const verdict = c.status === 'fail' ? 3 : c.status === 'pass' ? 0.5 : 1;
    ranked.push({
      id: c.id,
      score: timing * relation * rollout * verdict,
      factors: { timing, relation, rollout, verdict },
    });
  }
  return ranked.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
}
