// What the API, the CLI and the pages show of a deploy: status, reason, verdicts with evidence, approvals.
import type { Deploy } from '../model/deploy.js';
import type { SignalVerdict } from '../model/verdict.js';

export type DeployStatus =
  'pending_approval' | 'watching' | 'awaiting_approval' | 'passed' | 'halted' | 'rolled_back' | 'ended';

export interface DeployView {
  id: string;
  service: string;
  version: string;
  baselineVersion: string | null;
  strategy: Deploy['strategy'];
  startedAt: string;
  stages: { at: string; weight: number }[];
  change: Deploy['change'];
  status: DeployStatus;
  reason: string;
  decidedAt: string | null;
  /** the judge's outcome: watching, fail, pass or inconclusive */
  verdict: string;
  failedSignal: string | null;
  verdicts: SignalVerdict[];
  blind: boolean;
  blindSince: string | null;
  ticks: number;
  approvals: { approver: string; role: string; comment: string; at: string }[];
  approvalsRequired: number;
  effects: { kind: string; status: string; attempts: number; lastError: string | null }[];
}

export const iso = (t: number) => new Date(t * 1000).toISOString();
