// The status of a deploy and what moves it (contracts §5, design §4), as pure functions: the deploy
// service reads the store, asks these, and writes the answer. The clock is a parameter.
//
//   pending_approval ──start approval / freeze over / admin override──▶ watching
//   watching ──judge: fail──▶ halted ──rollback hook──▶ rolled_back
//   watching ──judge: pass, approvals complete──▶ passed
//   watching ──judge: pass but approvals missing, or inconclusive──▶ awaiting_approval ──approvals──▶ passed
//   any open status ──override halt──▶ halted;   ──override proceed──▶ passed (watching when it was pending)
//   any open status ──the pipeline ends it──▶ ended
import type { ServiceConfig, Config } from '../config/schema.js';
import type { Change, Deploy } from '../model/deploy.js';
import { approvalsRequired } from './approvals.js';
import { activeFreeze } from './freeze.js';
import { planNeedsApproval } from './plan.js';

export type DeployStatus =
  'pending_approval' | 'watching' | 'awaiting_approval' | 'passed' | 'halted' | 'rolled_back' | 'ended';

export const STATUSES: readonly DeployStatus[] = [
  'pending_approval',
  'watching',
  'awaiting_approval',
  'passed',
  'halted',
  'rolled_back',
  'ended',
];

/** Statuses nothing but an admin's override leaves (ended and rolled_back: not even that). */
export const CLOSED: ReadonlySet<DeployStatus> = new Set(['halted', 'rolled_back', 'ended']);

export type Hold = 'plan' | 'freeze';

export interface Admission {
  status: 'watching' | 'pending_approval';
  hold: Hold | null;
  reason: string;
}

const iso = (t: number) => new Date(t * 1000).toISOString();

/** Where a new deploy starts: held by a freeze window, held because its plan is too large, or watching. */
export function admit(deploy: Deploy, service: ServiceConfig, freezes: Config['freezes'], now: number): Admission {
  const freeze = activeFreeze(freezes, deploy.service, now);
  if (freeze) {
    return {
      status: 'pending_approval',
      hold: 'freeze',
      reason: `held by the freeze window "${freeze.reason}" until ${iso(freeze.until)}: an admin may break the glass with a reason`,
    };
  }
  return release(deploy, service);
}

/** Where a deploy held by a freeze goes once the freeze is over (or for a new deploy with no freeze). */
export function release(deploy: Deploy, service: ServiceConfig): Admission {
  const plan = planNeedsApproval(deploy, service);
  if (plan) {
    return {
      status: 'pending_approval',
      hold: 'plan',
      reason: `waiting for a human before it starts: ${plan}; an approver or admin who is not the author may approve`,
    };
  }
  return { status: 'watching', hold: null, reason: 'watching' };
}

export interface Need {
  count: number;
  why: string;
}

/** Approvals a promotion needs; an inconclusive watch always needs one (a human decides instead of the judge). */
export function promotionNeed(service: ServiceConfig | undefined, change: Change | null, outcome: string): Need {
  const need = service ? approvalsRequired(service, change) : { count: 0, why: '' };
  if (outcome === 'inconclusive' && need.count < 1)
    return { count: 1, why: 'the judge could not decide: a human must approve' };
  return need;
}

/** The status after the judge decided: halted, passed, or awaiting the approvals that are missing. */
export function afterVerdict(
  outcome: 'fail' | 'pass' | 'inconclusive',
  judged: string,
  need: Need,
  have: number,
): { status: DeployStatus; reason: string } {
  if (outcome === 'fail') return { status: 'halted', reason: judged };
  if (have >= need.count) {
    return { status: 'passed', reason: have > 0 ? `${judged}; approved (${have} of ${need.count})` : judged };
  }
  const prefix = outcome === 'inconclusive' ? judged : `judged good (${judged})`;
  return { status: 'awaiting_approval', reason: `${prefix}; ${need.why}: ${have} of ${need.count} so far` };
}

/** The status an override leads to, or why it may not be applied. */
export function overrideTarget(
  from: DeployStatus,
  action: 'proceed' | 'halt',
): { to: DeployStatus } | { refuse: string; code: string } {
  if (from === 'ended' || from === 'rolled_back')
    return { code: 'DEPLOY_CLOSED', refuse: `the deploy is ${from}; nothing to override` };
  if (action === 'halt') {
    return from === 'halted' ? { code: 'ALREADY_HALTED', refuse: 'the deploy is already halted' } : { to: 'halted' };
  }
  if (from === 'passed') return { code: 'ALREADY_PASSED', refuse: 'the deploy has already passed' };
  return { to: from === 'pending_approval' ? 'watching' : 'passed' };
}

export interface Gate {
  httpStatus: 200 | 409 | 423;
  decision: 'proceed' | 'wait' | 'halt';
}

/** What the gate answers for a status (contracts §5). */
export function gateOf(status: DeployStatus): Gate {
  switch (status) {
    case 'passed':
      return { httpStatus: 200, decision: 'proceed' };
    case 'halted':
    case 'rolled_back':
    case 'ended':
      return { httpStatus: 409, decision: 'halt' };
    default:
      return { httpStatus: 423, decision: 'wait' };
  }
}
