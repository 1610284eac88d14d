// Wires the audit log's proofs into a running Navigator: the checkpoint key (outside the store), signed
// checkpoints on append, the exported head (log lines, gauge, head file), and the incremental verifier
// that GET /v1/audit reports from.
import type { Config } from '../config/schema.js';
import type { Store } from '../store/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import { loadAuditKey } from './checkpoint.js';
import { headExporter, headGauge, readHeadFile, type HeadLog } from './head.js';
import { AuditVerifier, type HeadClaim } from './verifier.js';

export async function attachAudit(o: {
  config: Config;
  store: Store;
  metrics: Metrics;
  log?: HeadLog;
}): Promise<AuditVerifier> {
  const { config, store } = o;
  const every = config.audit?.checkpointEvery ?? 100;
  const headFile = config.audit?.headFile;
  // Replicas on a shared store must sign with one key (audit.key or audit.keyFile, e.g. a Kubernetes
  // secret): none is made up per process, and without one only the chain is checked.
  const shared = store.shared && !config.audit?.key && !config.audit?.keyFile;
  if (shared)
    o.log?.error(
      { store: store.path },
      'no audit.key or audit.keyFile on a shared store: audit checkpoints are not signed',
    );
  const key = shared
    ? null
    : loadAuditKey({ key: config.audit?.key, keyFile: config.audit?.keyFile, storePath: store.path }, true);
  // The head as the file recorded it before this process started: read (and its signatures checked) once.
  const before: HeadClaim | null = headFile ? readHeadFile(headFile, key?.key ?? null) : null;
  const backfilled = await store.setAuditSigner(
    key ? { key: key.key, every, onCheckpoint: headExporter({ headFile, log: o.log }) } : null,
  );
  if (backfilled) o.log?.info({ checkpoints: backfilled }, 'signed audit checkpoints for entries written before');
  headGauge(o.metrics.registry, async () => store.appendedHead ?? (store.isOpen ? await store.auditHead() : null));
  return new AuditVerifier(store, {
    key: key?.key ?? null,
    every,
    heads: () => {
      const claims: HeadClaim[] = before ? [before] : [];
      if (store.appendedHead) claims.push({ ...store.appendedHead, from: 'this process' });
      return claims;
    },
  });
}
