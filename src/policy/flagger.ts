// What Navigator answers each Flagger webhook, as Flagger reads the status code (fluxcd/flagger @15bd6ad,
// pkg/controller/webhook.go: a status above 202 is an error; scheduler_hooks.go and scheduler.go for what
// each hook type does with it). I/O-free: the route looks the revision's deploy up and sends the answer.
import type { DeployStatus } from './lifecycle.js';

export const FLAGGER_HOOKS = [
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'post-rollout',
  'rollback',
  'event',
] as const;
export type FlaggerHook = (typeof FLAGGER_HOOKS)[number];

/** Phases after which Flagger is done with a revision (post-rollout is sent with one of them). */
export const FINAL_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'Failed']);

/**
 * Whether the payload's checksum is the revision under analysis. Flagger's checksum hashes the canary's
 * status.lastAppliedSpec, which it sets to the new revision only when the analysis starts (SyncStatus with
 * phase Progressing): confirm-rollout, and events sent before that, still carry the previous revision's
 * checksum. Hooks sent during the analysis (pre-rollout, rollout, confirm-traffic-increase,
 * confirm-promotion with phase Progressing; rollback with Progressing or WaitingPromotion) carry the new
 * one, so only they may register the revision's deploy.
 */
export function carriesRevisionUnderAnalysis(hook: FlaggerHook, phase: string): boolean {
  if (hook === 'rollback') return phase === 'Progressing' || phase === 'WaitingPromotion';
  if (
    hook === 'pre-rollout' ||
    hook === 'rollout' ||
    hook === 'confirm-traffic-increase' ||
    hook === 'confirm-promotion'
  )
    return phase === 'Progressing';
  return false;
}

export interface FlaggerAnswer {
  /** 200 tells Flagger yes (advance, or for `rollback`: roll back); 409 a failed check; 423 not now. */
  code: 200 | 409 | 423;
  reason: string;
}

const NAVIGATOR_HALTED: ReadonlySet<DeployStatus | null> = new Set(['halted', 'rolled_back']);

/**
 * The answer for a hook about one revision, from the status of that revision's own deploy (null when
 * Navigator has none). Never from another revision's deploy: each revision is judged on its own.
 */
export function flaggerAnswer(hook: FlaggerHook, status: DeployStatus | null, reason: string): FlaggerAnswer {
  const halted = NAVIGATOR_HALTED.has(status);
  switch (hook) {
    case 'rollback':
      // 2xx makes Flagger roll back (scheduler_hooks.go runRollbackHooks; called every tick while
      // Progressing, Waiting or WaitingPromotion): only for a revision Navigator halted, never for one that
      // passed, merely ended, or that Navigator does not know.
      return halted
        ? { code: 200, reason: `roll back: ${reason}` }
        : { code: 423, reason: `no rollback: ${status ?? 'no deploy of this revision'}` };
    case 'pre-rollout':
    case 'rollout':
      // A non-2xx counts a failed check; at the canary's threshold Flagger rolls back.
      return halted ? { code: 409, reason } : { code: 200, reason: status ? `${status}: ${reason}` : reason };
    case 'confirm-traffic-increase':
      // A non-2xx holds the weight where it is and asks again next tick.
      return halted || status === 'pending_approval' ? { code: 423, reason } : { code: 200, reason };
    case 'confirm-promotion':
      // A non-2xx keeps the canary in WaitingPromotion: promote only what Navigator judged good.
      return status === 'passed' ? { code: 200, reason } : { code: 423, reason: `${status ?? 'unknown'}: ${reason}` };
    case 'confirm-rollout':
      return status === 'pending_approval' || halted ? { code: 423, reason } : { code: 200, reason };
    case 'post-rollout':
    case 'event':
      // Flagger ignores these answers; Navigator reads the phase (the route closes the deploy).
      return { code: 200, reason };
  }
}
