import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../config/schema.js';
import type { Change, Deploy } from '../model/deploy.js';
import { approvalsRequired, countingApprovals, refuseApproval } from './approvals.js';
import { activeFreeze } from './freeze.js';
import { admit, afterVerdict, gateOf, overrideTarget, promotionNeed, STATUSES } from './lifecycle.js';
import { planNeedsApproval } from './plan.js';

const service = (over: Partial<ServiceConfig> = {}): ServiceConfig => ({
  tier: 'standard',
  page: [],
  cohortLabel: 'version',
  watchFor: '30m',
  rollback: 'on-approval',
  maxFirstWeight: 0.5,
  dependsOn: [],
  hooks: {},
  dryRun: false,
  signals: {},
  ...over,
});
const change = (over: Partial<Change> = {}): Change => ({
  id: 'PR-1',
  title: '',
  author: 'dev-a',
  authorKind: 'human',
  commit: '',
  url: '',
  destructive: false,
  ...over,
});
const deploy = (over: Partial<Deploy> = {}): Deploy => ({
  id: 'd',
  service: 's',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  startedAt: 0,
  stages: [{ at: 0, weight: 0.1 }],
  change: change(),
  ...over,
});

describe('approvals', () => {
  it('critical services need two, agents one, others none', () => {
    expect(approvalsRequired(service({ tier: 'critical' }), change()).count).toBe(2);
    expect(approvalsRequired(service(), change({ authorKind: 'agent' })).count).toBe(1);
    expect(approvalsRequired(service(), change()).count).toBe(0);
  });
  it('refuses the author, a repeated approver and a pipeline token', () => {
    expect(refuseApproval('dev-a', 'approver', change(), [])?.code).toBe('AUTHOR_CANNOT_APPROVE');
    expect(refuseApproval('ops-1', 'approver', change(), [{ approver: 'ops-1', role: 'approver' }])?.code).toBe(
      'ALREADY_APPROVED',
    );
    expect(refuseApproval('ci', 'pipeline', change(), [])?.code).toBe('FORBIDDEN_ROLE');
    expect(refuseApproval('ops-1', 'admin', change(), [])).toBeNull();
  });
  it('counts distinct non-authors only', () => {
    expect(
      countingApprovals(change(), [
        { approver: 'a', role: 'approver' },
        { approver: 'a', role: 'admin' },
        { approver: 'dev-a', role: 'admin' },
      ]),
    ).toBe(1);
  });
});

describe('plans that wait for a human', () => {
  it('holds destructive changes, all-at-once critical deploys and oversized first stages', () => {
    expect(planNeedsApproval(deploy({ change: change({ destructive: true }) }), service())).toMatch(/destructive/);
    expect(planNeedsApproval(deploy({ strategy: 'all-at-once', stages: [] }), service({ tier: 'critical' }))).toMatch(
      /critical/,
    );
    expect(planNeedsApproval(deploy({ stages: [{ at: 0, weight: 0.6 }] }), service())).toMatch(/maxFirstWeight/);
    expect(planNeedsApproval(deploy(), service())).toBeNull();
  });
});

describe('freeze windows', () => {
  const freezes = [{ cron: '0 18 * * 5', duration: '62h', reason: 'weekend freeze' }];
  const at = (iso: string) => Date.parse(iso) / 1000;
  it('covers the window after each cron firing, with a fixed clock', () => {
    expect(activeFreeze(freezes, 'checkout', at('2025-11-28T18:00:00Z'))?.reason).toBe('weekend freeze'); // Friday 18:00
    expect(activeFreeze(freezes, 'checkout', at('2025-11-30T12:00:00Z'))).not.toBeNull(); // Sunday
    expect(activeFreeze(freezes, 'checkout', at('2025-12-01T08:00:00Z'))).toBeNull(); // Monday 08:00, after 62 h
    expect(activeFreeze(freezes, 'checkout', at('2025-11-28T17:59:59Z'))).toBeNull();
  });
  it('applies only to the services it names', () => {
    expect(
      activeFreeze([{ ...freezes[0]!, services: ['payments'] }], 'checkout', at('2025-11-29T12:00:00Z')),
    ).toBeNull();
  });
});

describe('the status machine', () => {
  const at = (iso: string) => Date.parse(iso) / 1000;
  const freezes = [{ cron: '0 9 * * *', duration: '2h', reason: 'morning freeze' }];

  it('admits a deploy: freeze first, then a plan too large, else watching', () => {
    expect(admit(deploy(), service(), freezes, at('2025-11-27T09:30:00Z'))).toMatchObject({
      status: 'pending_approval',
      hold: 'freeze',
    });
    expect(admit(deploy(), service(), freezes, at('2025-11-27T09:30:00Z')).reason).toMatch(
      /morning freeze.*until 2025-11-27T11:00:00.000Z/,
    );
    const big = deploy({ stages: [{ at: 0, weight: 0.9 }] });
    expect(admit(big, service(), freezes, at('2025-11-27T11:00:00Z'))).toMatchObject({
      status: 'pending_approval',
      hold: 'plan',
    });
    expect(admit(deploy(), service(), freezes, at('2025-11-27T11:00:00Z'))).toEqual({
      status: 'watching',
      hold: null,
      reason: 'watching',
    });
  });

  it('after the verdict: a failure halts, missing approvals wait, an inconclusive watch needs a human', () => {
    const none = promotionNeed(service(), change(), 'pass');
    expect(afterVerdict('fail', 'orders fell', none, 0)).toEqual({ status: 'halted', reason: 'orders fell' });
    expect(afterVerdict('pass', 'good', none, 0).status).toBe('passed');
    const critical = promotionNeed(service({ tier: 'critical' }), change(), 'pass');
    expect(afterVerdict('pass', 'good', critical, 1)).toMatchObject({ status: 'awaiting_approval' });
    expect(afterVerdict('pass', 'good', critical, 1).reason).toMatch(/1 of 2/);
    expect(afterVerdict('pass', 'good', critical, 2).status).toBe('passed');
    const unsure = promotionNeed(service(), change(), 'inconclusive');
    expect(unsure.count).toBe(1);
    expect(afterVerdict('inconclusive', 'too little data', unsure, 0).status).toBe('awaiting_approval');
    expect(afterVerdict('inconclusive', 'too little data', unsure, 1).status).toBe('passed');
  });

  it('overrides: halt anything open, proceed starts a held plan or passes, closed deploys refuse', () => {
    expect(overrideTarget('watching', 'halt')).toEqual({ to: 'halted' });
    expect(overrideTarget('passed', 'halt')).toEqual({ to: 'halted' });
    expect(overrideTarget('pending_approval', 'proceed')).toEqual({ to: 'watching' });
    expect(overrideTarget('awaiting_approval', 'proceed')).toEqual({ to: 'passed' });
    expect(overrideTarget('halted', 'proceed')).toEqual({ to: 'passed' });
    expect(overrideTarget('halted', 'halt')).toMatchObject({ code: 'ALREADY_HALTED' });
    expect(overrideTarget('ended', 'proceed')).toMatchObject({ code: 'DEPLOY_CLOSED' });
    expect(overrideTarget('rolled_back', 'halt')).toMatchObject({ code: 'DEPLOY_CLOSED' });
  });

  it('the gate follows the status', () => {
    expect(STATUSES.map((s) => gateOf(s).httpStatus)).toEqual([423, 423, 423, 200, 409, 409, 409]);
  });
});
