import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../config/schema.js';
import type { Change, Deploy } from '../model/deploy.js';
import { approvalsRequired, countingApprovals, refuseApproval } from './approvals.js';
import { activeFreeze } from './freeze.js';
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
