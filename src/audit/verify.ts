// The audit log is hash-chained: each entry's hash covers its content and the previous hash, so a rewrite
// anywhere breaks every later link. This checks the chain.
import { auditHash } from '../store/audit-hash.js';
import type { AuditRow } from '../store/types.js';

export interface ChainCheck {
  ok: boolean;
  entries: number;
  /** the first entry whose hash or link does not match */
  brokenAt: number | null;
  message: string;
}

export function verifyAuditChain(rows: readonly AuditRow[]): ChainCheck {
  let prev = 'genesis';
  for (const r of rows) {
    const want = auditHash(prev, r.at, r.actor, r.action, r.deploy_id, r.detail);
    if (r.prev_hash !== prev || r.hash !== want) {
      return {
        ok: false,
        entries: rows.length,
        brokenAt: r.seq,
        message: `audit entry ${r.seq} was altered or removed: its hash does not match`,
      };
    }
    prev = r.hash;
  }
  return { ok: true, entries: rows.length, brokenAt: null, message: `${rows.length} entries, chain intact` };
}
