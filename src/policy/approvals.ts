// Humans in the loop (design §4): who must approve a promotion, and whether an approval counts.
import type { ServiceConfig } from '../config/schema.js';
import type { Change } from '../model/deploy.js';

export type Role = 'pipeline' | 'approver' | 'admin';

export interface Approval {
  approver: string;
  role: string;
}

/** Approvals a promotion needs: two distinct people for a critical service, one human for an agent's change. */
export function approvalsRequired(service: ServiceConfig, change: Change | null): { count: number; why: string } {
  if (service.tier === 'critical')
    return { count: 2, why: 'a critical service needs two approvals from distinct people, neither the author' };
  if (change?.authorKind === 'agent')
    return { count: 1, why: 'a change written by an automated agent needs a human approval' };
  return { count: 0, why: '' };
}

export type Refusal = { code: 'FORBIDDEN_ROLE' | 'AUTHOR_CANNOT_APPROVE' | 'ALREADY_APPROVED'; message: string };

/**
 * Whether `approver` may approve this change now; the reason when not. `existing` holds the approvals of the
 * same phase (starting a held plan, or promotion): one person may approve each once.
 */
export function refuseApproval(
  approver: string,
  role: Role,
  change: Change | null,
  existing: readonly Approval[],
): Refusal | null {
  if (role !== 'approver' && role !== 'admin') {
    return {
      code: 'FORBIDDEN_ROLE',
      message: `the ${role} role cannot approve: approvals come from people (an approver or admin token), never from a pipeline or an agent`,
    };
  }
  if (change?.author && change.author === approver) {
    return { code: 'AUTHOR_CANNOT_APPROVE', message: `${approver} wrote this change and cannot approve it` };
  }
  if (existing.some((a) => a.approver === approver)) {
    return {
      code: 'ALREADY_APPROVED',
      message: `${approver} has already approved; a second approval must come from someone else`,
    };
  }
  return null;
}

/** Approvals that count: distinct people, none of them the author. */
export function countingApprovals(change: Change | null, approvals: readonly Approval[]): number {
  return new Set(approvals.filter((a) => !change?.author || a.approver !== change.author).map((a) => a.approver)).size;
}
