// Incremental verification of the audit log. The first check reads the whole chain once (in chunks that
// yield to the event loop, so the gate keeps answering); every later check reads one remembered row (its
// hash must not have changed: a rewrite and recompute anywhere before it changes it) and the entries
// appended since. A request for a page of the log therefore costs the page plus what is new.
//
// What it proves, with a key outside the database (audit/checkpoint.ts):
// - a row altered without recomputing: its hash does not match (the chain);
// - a row altered and the chain recomputed: the signed checkpoints at or after it no longer match;
// - checkpoints deleted with it: a checkpoint is missing where one must be (every `every`-th entry);
// - the newest rows deleted: the table's AUTOINCREMENT counter, the newest checkpoint, and the head this
//   process appended or the last line of the head file (`audit.headFile`) say entries existed beyond.
// Without a key only the chain is checked, and the report says so.
import type { AuditRow, Store } from '../store/types.js';
import { auditHash } from '../store/audit-hash.js';
import { checkpointValid } from './checkpoint.js';

export type AuditSource = Pick<Store, 'audit' | 'auditAt' | 'auditHead' | 'auditSequence' | 'checkpoints'>;

export interface AuditReport {
  ok: boolean;
  entries: number;
  /** the first entry (or checkpoint) that does not match */
  brokenAt: number | null;
  message: string;
  head: { seq: number; hash: string } | null;
  checkpoints: { signed: boolean; verified: number; last: number | null };
}

export interface HeadClaim {
  seq: number;
  hash: string;
  /** where the claim comes from, for the message: "this process", "head file /x line 12" */
  from: string;
}

const CHUNK = 5000;

export class AuditVerifier {
  private seq = 0;
  private hash = 'genesis';
  private verifiedCheckpoints = 0;
  private lastCheckpoint: number | null = null;
  private broken: AuditReport | null = null;
  private running: Promise<AuditReport> | null = null;

  constructor(
    private readonly store: AuditSource,
    private readonly o: { key: Buffer | null; every: number; heads?: () => HeadClaim[] },
  ) {}

  /** Checks what is new since the last check; once broken, stays broken. */
  check(): Promise<AuditReport> {
    if (this.broken) return Promise.resolve(this.broken);
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  private fail(brokenAt: number, message: string): AuditReport {
    this.broken = this.report(false, brokenAt, message);
    return this.broken;
  }

  private report(ok: boolean, brokenAt: number | null, message: string): AuditReport {
    return {
      ok,
      entries: this.seq,
      brokenAt,
      message,
      head: this.seq > 0 ? { seq: this.seq, hash: this.hash } : null,
      checkpoints: { signed: this.o.key !== null, verified: this.verifiedCheckpoints, last: this.lastCheckpoint },
    };
  }

  private async run(): Promise<AuditReport> {
    if (this.seq > 0) {
      const row = await this.store.auditAt(this.seq);
      if (!row || row.hash !== this.hash)
        return this.fail(this.seq, `audit entry ${this.seq} was altered or removed after it was verified`);
    }
    for (;;) {
      const rows = await this.store.audit(this.seq, CHUNK);
      for (const r of rows) {
        // AUTOINCREMENT hands out dense numbers (a rolled-back insert does not use one up): a gap is a removal.
        if (r.seq !== this.seq + 1) return this.fail(this.seq + 1, `audit entry ${this.seq + 1} was removed`);
        const want = auditHash(this.hash, r.at, r.actor, r.action, r.deploy_id, r.detail);
        if (r.prev_hash !== this.hash || r.hash !== want)
          return this.fail(r.seq, `audit entry ${r.seq} was altered or removed: its hash does not match`);
        const cp = await this.checkpointProblem(r);
        if (cp) return this.fail(r.seq, cp);
        this.seq = r.seq;
        this.hash = r.hash;
      }
      if (rows.length < CHUNK) break;
      await new Promise((res) => setImmediate(res));
    }
    const issued = await this.store.auditSequence();
    if (issued > this.seq)
      return this.fail(
        this.seq + 1,
        `audit entries ${this.seq + 1} to ${issued} were removed: the log once reached ${issued}, it now ends at ${this.seq}`,
      );
    const newest = (await this.store.checkpoints(this.seq)).at(0);
    if (newest)
      return this.fail(
        this.seq + 1,
        `audit entries after ${this.seq} were removed: entry ${newest.seq} was checkpointed`,
      );
    for (const h of this.o.heads?.() ?? []) {
      if (h.seq > this.seq)
        return this.fail(
          this.seq + 1,
          `audit entries ${this.seq + 1} to ${h.seq} were removed: ${h.from} saw the log reach ${h.seq}`,
        );
      const row = await this.store.auditAt(h.seq);
      if (!row || row.hash !== h.hash)
        return this.fail(h.seq, `audit entry ${h.seq} does not match the head ${h.from} recorded: rewritten`);
    }
    const keyNote = this.o.key
      ? `, ${this.verifiedCheckpoints} signed checkpoints valid`
      : '; checkpoints not checked: no audit key (audit.key or audit.keyFile)';
    return this.report(true, null, `${this.seq} entries, chain intact${keyNote}`);
  }

  /** The checkpoint an entry must have (every `every`-th), checked against the key and the entry. */
  private async checkpointProblem(r: AuditRow): Promise<string | null> {
    if (!this.o.key || r.seq % this.o.every !== 0) return null;
    const c = (await this.store.checkpoints(r.seq - 1, r.seq))[0];
    if (!c) return `audit checkpoint ${r.seq} is missing: entries up to ${r.seq} cannot be trusted`;
    if (!checkpointValid(this.o.key, c))
      return `audit checkpoint ${r.seq} is not signed by the audit key: the checkpoints were rewritten`;
    if (c.hash !== r.hash)
      return `audit entry ${r.seq} does not match its signed checkpoint: the chain was rewritten and recomputed`;
    this.verifiedCheckpoints++;
    this.lastCheckpoint = r.seq;
    return null;
  }
}
