// The default audit sink: plain rows in the store's hash-chained audit table, stamped with the injected
// clock. Writing through the store keeps every entry inside the caller's transaction.
import type { AuditEntry, AuditSink, Store } from './types.js';

export function storeAuditSink(store: Pick<Store, 'appendAudit'>, now: () => number): AuditSink {
  return {
    append: async (e: AuditEntry) => {
      await store.appendAudit(now(), e.actor, e.action, e.deployId, e.detail ?? {});
    },
  };
}
