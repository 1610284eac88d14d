// What a page says: the change blamed, the evidence, what Navigator already did, and where to look.
import type { Deploy } from '../model/deploy.js';
import type { Evidence } from '../model/verdict.js';

export interface Page {
  /** stable identity: the same incident always maps to the same dedup key / alias / label set */
  key: string;
  action: 'trigger' | 'resolve';
  severity: 'critical' | 'error' | 'warning' | 'info';
  service: string;
  signal: string | null;
  summary: string;
  details: Record<string, string>;
  links: { href: string; text: string }[];
  deploy: Pick<Deploy, 'id' | 'service' | 'version' | 'baselineVersion' | 'strategy'> | null;
  change: Deploy['change'];
  evidence: Evidence | null;
  done: string[];
  at: number;
  /** buttons a chat page carries for its deploy (Slack; see http/slack.ts): acknowledge, and approve for a deploy that waits */
  actions?: ('approve' | 'acknowledge')[];
}

export function describeChange(change: Deploy['change']): string {
  if (!change) return 'no change details registered';
  return `${change.id}${change.title ? ` "${change.title}"` : ''}${change.author ? ` by ${change.author}` : ''}${change.commit ? ` (${change.commit.slice(0, 12)})` : ''}`;
}

export function pageDetails(p: Page): Record<string, string> {
  return {
    service: p.service,
    ...(p.signal ? { signal: p.signal } : {}),
    ...(p.deploy
      ? {
          deploy: p.deploy.id,
          version: p.deploy.version,
          baseline: p.deploy.baselineVersion ?? '',
          strategy: p.deploy.strategy,
        }
      : {}),
    change: describeChange(p.change),
    ...(p.change?.url ? { change_url: p.change.url } : {}),
    ...(p.evidence
      ? {
          evidence: p.evidence.sentence,
          effect: p.evidence.effect.estimate.toFixed(4),
          statistic: p.evidence.statistic.toFixed(2),
          threshold: p.evidence.threshold.toFixed(2),
        }
      : {}),
    already_done: p.done.join('; ') || 'nothing yet',
    ...p.details,
  };
}
