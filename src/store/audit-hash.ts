// The audit chain's hash, shared by both engines and the verifiers.
import { createHash } from 'node:crypto';

/** The audit chain: each row's hash covers its content and the previous row's hash. */
export function auditHash(
  prev: string,
  at: number,
  actor: string,
  action: string,
  deployId: string | null,
  detail: string,
): string {
  return createHash('sha256')
    .update(JSON.stringify([prev, at, actor, action, deployId, detail]))
    .digest('hex');
}
