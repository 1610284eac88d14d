// A plan too large for its first step waits for a human before it starts (design §4).
import type { ServiceConfig } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';

/** Why the plan must wait for approval before it starts, or null. */
export function planNeedsApproval(deploy: Deploy, service: ServiceConfig): string | null {
  if (deploy.change?.destructive) return 'the change is marked destructive (it replaces or deletes infrastructure)';
  if (deploy.strategy === 'all-at-once' && service.tier === 'critical') {
    return 'an all-at-once deploy of a critical service reaches everyone at once';
  }
  const first = deploy.stages[0];
  if (deploy.strategy === 'canary' && first && first.weight > service.maxFirstWeight) {
    return `the first stage sends ${Math.round(first.weight * 100)}% of traffic, above this service's maxFirstWeight of ${Math.round(service.maxFirstWeight * 100)}%`;
  }
  return null;
}
