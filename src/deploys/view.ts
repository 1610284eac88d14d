// What the API, the CLI and the pages show of a deploy: status, reason, verdicts with evidence, approvals.
import type { Deploy } from '../model/deploy.js';
import type { SignalVerdict } from '../model/verdict.js';

import type { DeployStatus } from '../policy/lifecycle.js';

export type { DeployStatus } from '../policy/lifecycle.js';

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
  /** why a pending_approval deploy waits: plan (too large a first step) or freeze */
  hold: string | null;
  decidedAt: string | null;
  /** the judge's outcome: watching, fail, pass or inconclusive */
  verdict: string;
  failedSignal: string | null;
  verdicts: SignalVerdict[];
  /** the deploy cannot see now (contracts §7), since when, and which signals cannot and why */
  blind: boolean;
  blindSince: string | null;
  blindSignals: { signal: string; since: string; reason: string }[];
  ticks: number;
  /** the end of the last judged tick */
  lastTick: string | null;
  /** phase start: let a held plan begin; promote: counts toward approvalsRequired */
  approvals: { approver: string; role: string; phase: string; comment: string; at: string }[];
  approvalsRequired: number;
  overrides: { actor: string; action: string; reason: string; from: string; to: string; at: string }[];
  effects: { kind: string; status: string; attempts: number; lastError: string | null }[];
}

export const iso = (t: number) => new Date(t * 1000).toISOString();
