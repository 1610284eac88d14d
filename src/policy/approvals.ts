// Humans in the loop (design §4): who must approve a promotion, and whether an approval counts.
import type { ServiceConfig } from '../config/schema.js';
import type { Change } from '../model/deploy.js';
import { identitySet, samePerson } from './identity.js';

export type Role = 'pipeline' | 'approver' | 'admin';

export interface Approval {
  approver: string;
  role: string;
  /** the approver's other identities (login, e-mail) from their token; compared normalised */
  identities?: readonly string[];
}

const who = (a: Approval) => [a.approver, ...(a.identities ?? [])];
const authorOf = (change: Change | null) => (change?.author ? [change.author] : []);

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
 * same phase (starting a held plan, or promotion): one person may approve each once. `identities` are the
 * approver's other names (their token's `identities`): the author check and the repeat check cover all of
 * them, compared after normalisation (policy/identity.ts).
 */
export function refuseApproval(
  approver: string,
  role: Role,
  change: Change | null,
  existing: readonly Approval[],
  identities: readonly string[] = [],
): Refusal | null {
  const me = [approver, ...identities];
  if (role !== 'approver' && role !== 'admin') {
    return {
      code: 'FORBIDDEN_ROLE',
      message: `the ${role} role cannot approve: approvals come from people (an approver or admin token), never from a pipeline or an agent`,
    };
  }
  if (samePerson(authorOf(change), me)) {
    return {
      code: 'AUTHOR_CANNOT_APPROVE',
      message: `${approver} wrote this change (author "${change?.author ?? ''}") and cannot approve it`,
    };
  }
  if (existing.some((a) => samePerson(who(a), me))) {
    return {
      code: 'ALREADY_APPROVED',
      message: `${approver} has already approved; a second approval must come from someone else`,
    };
  }
  return null;
}

/** Approvals that count: distinct people (no shared identity), none of them the author. */
export function countingApprovals(change: Change | null, approvals: readonly Approval[]): number {
  const seen = new Set(identitySet(authorOf(change)));
  let n = 0;
  for (const a of approvals) {
    const ids = identitySet(who(a));
    if (ids.length === 0 || ids.some((x) => seen.has(x))) {
      ids.forEach((x) => seen.add(x));
      continue;
    }
    ids.forEach((x) => seen.add(x));
    n++;
  }
  return n;
}
