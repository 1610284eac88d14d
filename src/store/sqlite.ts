// The embedded store: one SQLite file in WAL mode, numbered migrations, raw parameterised SQL.
//
// synchronous=NORMAL, not FULL: in WAL mode NORMAL syncs the log at each checkpoint rather than at each
// commit, so a committed transaction survives a killed process (SIGKILL, a crash: the contract we test);
// only an OS crash or a power loss may drop the last few commits. That loss is recoverable by design: a
// lost tick is judged again from the metric source on restart (the judge is deterministic), a lost
// registration is re-sent by the pipeline (registration is idempotent), and outbox keys make a repeated
// effect happen once. FULL would add an fsync to every tick's commit for no gain in those terms.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { checkpointMac, type Checkpoint } from '../audit/checkpoint.js';
import { fairShare } from './fair-share.js';
import { faultCode, LeasesLapsed, StoreError, StoreUnavailable } from './faults.js';
import { auditHash } from './audit-hash.js';
import { MIGRATIONS } from './migrations.js';
import { currentTx, Mutex, runInTx, type TxFrame } from './tx-context.js';
import type {
  ApprovalPhase,
  ApprovalRow,
  AuditRow,
  DeployFields,
  AuditSigner,
  DeployRow,
  EffectMeta,
  OutboxRow,
  OverrideRow,
  SessionRow,
  StageRow,
  Store as StoreApi,
  VerdictRow,
  WatchTickRow,
  WatchTicksWrite,
  WatchLeases,
} from './types.js';

export type {
  ApprovalPhase,
  ApprovalRow,
  AuditRow,
  DeployFields,
  DeployRow,
  EffectMeta,
  OutboxRow,
  OverrideRow,
  StageRow,
  VerdictRow,
} from './types.js';

export { auditHash } from './audit-hash.js';

const DEPLOY_SELECT = 'SELECT d.*, w.state AS watch FROM deploys d LEFT JOIN watches w ON w.deploy_id = d.id';
const DEPLOY_FIELDS = new Set(['deploy', 'status', 'reason', 'hold', 'verdict', 'decided_at']);

/** Whether the store can write, and since when it cannot (epoch seconds). */
export interface StoreHealth {
  writable: boolean;
  /** the last fault, e.g. "SQLITE_FULL: database or disk is full" */
  error: string | null;
  since: number | null;
}

export interface OpenOptions {
  /** refuse a missing file instead of creating an empty database (audit verify) */
  mustExist?: boolean;
  /** open read-only: no migrations, no writes (audit verify) */
  readonly?: boolean;
  /** check every page at open (PRAGMA quick_check) when the file is at most this big; default 256 MB */
  checkUpTo?: number;
}

export type { AuditSigner } from './types.js';

export class SqliteStore implements StoreApi {
  readonly db: Database.Database;
  private signer: AuditSigner | null = null;
  /** checkpoints written in the running transaction: announced once it commits, dropped if it does not */
  private pendingCheckpoints: Checkpoint[] = [];
  /** the newest audit entry this process appended and committed (the head as this process knows it) */
  appendedHead: { seq: number; hash: string } | null = null;
  private pendingHead: { seq: number; hash: string } | null = null;
  private readonly stmts = new Map<string, Database.Statement>();
  private fault: { error: string; since: number } | null = null;
  private lastProbe = 0;
  /** One connection: an open transaction holds it, and every statement from outside it waits. */
  private readonly lock = new Mutex();

  constructor(
    readonly path: string,
    o: OpenOptions = {},
  ) {
    const memory = path === ':memory:';
    if (o.mustExist && !memory && !existsSync(path)) throw new StoreError(`store ${path}: no such file`);
    try {
      if (!memory && !o.readonly) mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path, { fileMustExist: o.mustExist ?? false, readonly: o.readonly ?? false });
    } catch (e) {
      throw new StoreError(`store ${path}: cannot open: ${errText(e)}`);
    }
    try {
      // Reading the header and the schema fails at once on a file that is not a database.
      this.db.pragma('schema_version');
      if (!memory && statSync(path).size <= (o.checkUpTo ?? 256 * 2 ** 20)) {
        const check = this.db.pragma('quick_check(3)', { simple: false }) as { quick_check: string }[];
        const problems = check.map((r) => r.quick_check).filter((m) => m !== 'ok');
        if (problems.length) throw new StoreError(`store ${path}: the file is corrupt: ${problems.join('; ')}`);
      }
      if (!o.readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
      }
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      if (!o.readonly) this.migrate();
    } catch (e) {
      this.db.close();
      if (e instanceof StoreError) throw e;
      throw new StoreError(`store ${path}: cannot use it: ${errText(e)}`);
    }
  }

  /** Whether the last write succeeded; a fault stays until a later write (or a probe) succeeds. */
  health(): StoreHealth {
    return { writable: this.fault === null, error: this.fault?.error ?? null, since: this.fault?.since ?? null };
  }

  /**
   * After a fault, tries a small write that allocates pages (so a full disk fails it) and clears the fault
   * when it commits. At most once a second; a healthy store is not probed. Returns whether it can write.
   */
  async probe(now = Date.now() / 1000): Promise<boolean> {
    if (!this.fault) return true;
    if (now - this.lastProbe < 1) return false;
    this.lastProbe = now;
    try {
      await this.transaction(async () => {
        this.sql('INSERT OR REPLACE INTO store_probe (id, pad, at) VALUES (1, randomblob(16384), ?)').run(now);
        this.sql('DELETE FROM store_probe').run();
      });
    } catch {
      return false;
    }
    return this.fault === null;
  }

  /** The schema version after migrating. */
  get version(): number {
    return (this.db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number }).v;
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)');
    const done = new Set(
      (this.db.prepare('SELECT version FROM schema_version').all() as { version: number }[]).map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)')
          .run(m.version, Date.now() / 1000);
      })();
    }
  }

  /** A prepared statement, compiled once: the tick writes every open watch through the same few. */
  private sql(text: string): Database.Statement {
    let s = this.stmts.get(text);
    if (!s) {
      s = this.db.prepare(text);
      this.stmts.set(text, s);
    }
    return s;
  }

  /**
   * Runs a statement (or a few) outside any transaction: at once when no transaction is open (the hot read
   * paths pay nothing), after it otherwise, so no write joins another caller's open transaction. Inside the
   * caller's own transaction it runs at once, as part of it.
   */
  private op<T>(f: () => T): Promise<T> {
    if (!this.lock.locked || currentTx(this)) {
      try {
        return Promise.resolve(f());
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    }
    return this.lock.acquire().then(() => {
      try {
        return f();
      } finally {
        this.lock.release();
      }
    });
  }

  /**
   * Runs fn in a transaction (a savepoint when nested). The connection is held for the whole of fn: other
   * callers' statements wait until it commits or rolls back. A store fault (full disk, read-only, corrupt
   * file) becomes StoreUnavailable and marks the store unwritable; the next outermost transaction that
   * writes and commits marks it writable again.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const open = currentTx(this);
    if (open) return this.savepoint(open, fn);
    await this.lock.acquire();
    const frame: TxFrame = { owner: this, open: true, savepoints: 0, conn: null };
    try {
      const before = this.totalChanges();
      this.db.exec('BEGIN');
      let r: T;
      try {
        r = await runInTx(frame, fn);
        frame.open = false;
        this.db.exec('COMMIT');
      } catch (e) {
        frame.open = false;
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
      if (this.fault && this.totalChanges() > before) this.fault = null;
      this.committed();
      return r;
    } catch (e) {
      this.pendingCheckpoints = [];
      this.pendingHead = null;
      throw this.asFault(e, true);
    } finally {
      frame.open = false;
      this.lock.release();
    }
  }

  private async savepoint<T>(frame: TxFrame, fn: () => Promise<T>): Promise<T> {
    const name = `sp${++frame.savepoints}`;
    this.db.exec(`SAVEPOINT ${name}`);
    try {
      const r = await fn();
      this.db.exec(`RELEASE ${name}`);
      return r;
    } catch (e) {
      if (this.db.inTransaction) {
        this.db.exec(`ROLLBACK TO ${name}`);
        this.db.exec(`RELEASE ${name}`);
      }
      throw this.asFault(e, false);
    }
  }

  /** A store fault as StoreUnavailable (noted when outermost); any other error as it is. */
  private asFault(e: unknown, outer: boolean): unknown {
    const code = faultCode(e);
    if (!code) return e;
    const err = e instanceof StoreUnavailable ? e : new StoreUnavailable(this.path, code, errText(e));
    if (outer) this.noteFault(err);
    return err;
  }

  /** Records a fault seen outside a transaction (a single statement's write failed). */
  noteFault(e: unknown): void {
    const code = faultCode(e);
    if (!code) return;
    const error = e instanceof StoreUnavailable ? e.message : `${code}: ${errText(e)}`;
    this.fault = { error, since: this.fault?.since ?? Date.now() / 1000 };
  }

  private committed(): void {
    // Read back rather than trust what was written: a savepoint inside may have rolled back its part.
    if (this.pendingHead) this.appendedHead = this.head();
    this.pendingHead = null;
    const cps = this.pendingCheckpoints;
    this.pendingCheckpoints = [];
    for (const c of cps) {
      const kept = this.sql('SELECT mac FROM audit_checkpoints WHERE seq = ?').get(c.seq) as
        { mac: string } | undefined;
      if (kept?.mac === c.mac) this.signer?.onCheckpoint?.(c);
    }
  }

  /**
   * Starts signing checkpoints. Entries written before (an older store, or a changed interval) get their
   * missing checkpoints now: trust on first use, said in the README.
   */
  async setAuditSigner(signer: AuditSigner | null): Promise<number> {
    this.signer = signer;
    if (!signer) return 0;
    const head = this.head();
    if (!head) return 0;
    const have = new Set((this.sql('SELECT seq FROM audit_checkpoints').all() as { seq: number }[]).map((r) => r.seq));
    let added = 0;
    await this.transaction(async () => {
      for (let seq = signer.every; seq <= head.seq; seq += signer.every) {
        if (have.has(seq)) continue;
        const row = this.sql('SELECT hash, at FROM audit WHERE seq = ?').get(seq) as
          { hash: string; at: number } | undefined;
        if (!row) continue;
        this.writeCheckpoint(seq, row.hash, row.at);
        added++;
      }
    });
    return added;
  }

  private writeCheckpoint(seq: number, hash: string, at: number): void {
    if (!this.signer) return;
    const c = { seq, hash, at, mac: checkpointMac(this.signer.key, seq, hash, at) };
    this.sql('INSERT OR REPLACE INTO audit_checkpoints (seq, hash, at, mac) VALUES (@seq, @hash, @at, @mac)').run(c);
    this.pendingCheckpoints.push(c);
  }

  private head(): { seq: number; hash: string } | null {
    return (
      (this.sql('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as
        { seq: number; hash: string } | undefined) ?? null
    );
  }

  /** The newest audit entry in the store. */
  auditHead(): Promise<{ seq: number; hash: string } | null> {
    return this.op(() => this.head());
  }

  /** One audit entry by sequence number. */
  auditAt(seq: number): Promise<AuditRow | undefined> {
    return this.op(() => this.sql('SELECT * FROM audit WHERE seq = ?').get(seq) as AuditRow | undefined);
  }

  /** The highest sequence number the audit table ever handed out (AUTOINCREMENT keeps it after deletes). */
  auditSequence(): Promise<number> {
    return this.op(() => {
      const r = this.sql("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").get() as { seq: number } | undefined;
      return r?.seq ?? 0;
    });
  }

  /** Signed checkpoints with seq in (after, upTo]. */
  checkpoints(after = 0, upTo = Number.MAX_SAFE_INTEGER): Promise<Checkpoint[]> {
    return this.op(
      () =>
        this.sql('SELECT * FROM audit_checkpoints WHERE seq > ? AND seq <= ? ORDER BY seq').all(
          after,
          upTo,
        ) as Checkpoint[],
    );
  }

  private totalChanges(): number {
    return (this.sql('SELECT total_changes() AS n').get() as { n: number }).n;
  }

  /** One process owns the file: no leases needed (the lease methods work all the same). */
  readonly shared = false;

  lockDeploy(id: string): Promise<DeployRow | undefined> {
    // The connection's mutex already makes a transaction exclusive.
    return this.getDeploy(id);
  }

  leaseWatches(holder: string, now: number, ttl: number): Promise<WatchLeases> {
    // The same rules as PostgreSQL's (store/types.ts); one connection, so no row locks are needed.
    return this.transaction(async () => {
      const until = now + ttl;
      const renewed = this.sql(
        'UPDATE replicas SET seen_at = ?, expires_at = ? WHERE holder = ? AND expires_at > ?',
      ).run(now, until, holder, now).changes;
      if (renewed === 0) {
        this.sql('DELETE FROM replicas WHERE holder = ?').run(holder);
        this.sql('DELETE FROM watch_leases WHERE holder = ?').run(holder);
        this.sql('INSERT INTO replicas (holder, seen_at, expires_at) VALUES (?, ?, ?)').run(holder, now, until);
      }
      this.sql('DELETE FROM replicas WHERE expires_at <= ? AND holder <> ?').run(now, holder);
      const live = (this.sql('SELECT holder FROM replicas ORDER BY holder').all() as { holder: string }[]).map(
        (r) => r.holder,
      );
      const replicas = Math.max(1, live.length);
      const open = (this.sql("SELECT count(*) AS n FROM deploys WHERE status = 'watching'").get() as { n: number }).n;
      this.sql("DELETE FROM watch_leases WHERE deploy_id IN (SELECT id FROM deploys WHERE status <> 'watching')").run();
      const share = fairShare(open, live, holder);
      const mine = (
        this.sql('SELECT deploy_id FROM watch_leases WHERE holder = ? ORDER BY taken_at, deploy_id').all(holder) as {
          deploy_id: string;
        }[]
      ).map((r) => r.deploy_id);
      const released = replicas > 1 && mine.length > share ? mine.slice(share) : [];
      for (const id of released)
        this.sql('DELETE FROM watch_leases WHERE deploy_id = ? AND holder = ?').run(id, holder);
      const kept = mine.slice(0, mine.length - released.length);
      const orphan = 'NOT EXISTS (SELECT 1 FROM replicas r WHERE r.holder = l.holder)';
      const free = (
        this.sql(
          `SELECT d.id FROM deploys d LEFT JOIN watch_leases l ON l.deploy_id = d.id
           WHERE d.status = 'watching' AND (l.deploy_id IS NULL OR ${orphan})
           ORDER BY d.created_at, d.id LIMIT ?`,
        ).all(Math.max(0, share - kept.length)) as { id: string }[]
      ).map((r) => r.id);
      const take = this.sql(
        `INSERT INTO watch_leases (deploy_id, holder, expires_at, taken_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (deploy_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
           taken_at = excluded.taken_at
           WHERE NOT EXISTS (SELECT 1 FROM replicas r WHERE r.holder = watch_leases.holder)`,
      );
      const taken = free.filter((id) => take.run(id, holder, until, now).changes === 1);
      return { held: [...kept, ...taken], taken, released, replicas };
    });
  }

  deploysUpdatedSince(ids: readonly string[], since: number): Promise<{ id: string; deploy: string }[]> {
    return this.op(() => {
      const want = new Set(ids);
      return (
        this.sql('SELECT id, deploy FROM deploys WHERE updated_at >= ? ORDER BY id').all(since) as {
          id: string;
          deploy: string;
        }[]
      ).filter((r) => want.has(r.id));
    });
  }

  renewHeartbeat(holder: string, now: number, ttl: number): Promise<boolean> {
    return this.op(
      () =>
        this.sql('UPDATE replicas SET seen_at = ?, expires_at = ? WHERE holder = ? AND expires_at > ?').run(
          now,
          now + ttl,
          holder,
          now,
        ).changes === 1,
    );
  }

  replicaLive(holder: string, now: number): Promise<boolean> {
    return this.op(
      () => this.sql('SELECT 1 FROM replicas WHERE holder = ? AND expires_at > ?').get(holder, now) !== undefined,
    );
  }

  releaseLeases(holder: string): Promise<void> {
    return this.transaction(async () => {
      this.sql('DELETE FROM watch_leases WHERE holder = ?').run(holder);
      this.sql('DELETE FROM lane_leases WHERE holder = ?').run(holder);
      this.sql('DELETE FROM replicas WHERE holder = ?').run(holder);
    });
  }

  claimLane(lane: string, holder: string, now: number, ttl: number): Promise<boolean> {
    return this.op(
      () =>
        this.sql(
          `INSERT INTO lane_leases (lane, holder, expires_at) VALUES (?, ?, ?)
           ON CONFLICT (lane) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE lane_leases.holder = excluded.holder OR lane_leases.expires_at <= ?`,
        ).run(lane, holder, now + ttl, now).changes === 1,
    );
  }

  releaseLane(lane: string, holder: string): Promise<void> {
    return this.op(() => {
      this.sql('DELETE FROM lane_leases WHERE lane = ? AND holder = ?').run(lane, holder);
    });
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  async close(): Promise<void> {
    // An open transaction finishes first: closing under it would lose what it wrote.
    if (this.lock.locked) {
      await this.lock.acquire();
      this.lock.release();
    }
    if (this.db.open) this.db.close();
  }

  insertDeploy(r: Omit<DeployRow, 'watch' | 'verdict' | 'decided_at' | 'updated_at'>): Promise<void> {
    return this.op(() => {
      this.sql(
        `INSERT INTO deploys (id, service, input, deploy, status, reason, hold, created_at, updated_at)
         VALUES (@id, @service, @input, @deploy, @status, @reason, @hold, @created_at, @created_at)`,
      ).run(r);
    });
  }

  getDeploy(id: string): Promise<DeployRow | undefined> {
    return this.op(() => {
      return this.sql(`${DEPLOY_SELECT} WHERE d.id = ?`).get(id) as DeployRow | undefined;
    });
  }

  deployGate(id: string): Promise<Pick<DeployRow, 'status' | 'reason'> | undefined> {
    return this.op(() => {
      return this.sql('SELECT status, reason FROM deploys WHERE id = ?').get(id) as
        Pick<DeployRow, 'status' | 'reason'> | undefined;
    });
  }

  listDeploys(status?: string, limit = 200): Promise<DeployRow[]> {
    return this.op(() => {
      return (
        status
          ? this.sql(`${DEPLOY_SELECT} WHERE d.status = ? ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?`).all(
              status,
              limit,
            )
          : this.sql(`${DEPLOY_SELECT} ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?`).all(limit)
      ) as DeployRow[];
    });
  }

  deploysStartedBetween(from: number, to: number): Promise<DeployRow[]> {
    return this.op(() => {
      return this.sql(`${DEPLOY_SELECT} WHERE json_extract(d.deploy, '$.startedAt') BETWEEN ? AND ?`).all(
        from,
        to,
      ) as DeployRow[];
    });
  }

  updateDeploy(id: string, fields: DeployFields & { watch?: string | null }, now: number): Promise<void> {
    return this.op(() => {
      const { watch, ...rest } = fields;
      if (watch !== undefined) {
        if (watch === null) this.sql('DELETE FROM watches WHERE deploy_id = ?').run(id);
        else this.writeWatch(id, watch, now);
      }
      const keys = Object.keys(rest).filter((k) => DEPLOY_FIELDS.has(k));
      if (keys.length === 0) return;
      const set = keys.map((k) => `${k} = @${k}`).join(', ');
      this.sql(`UPDATE deploys SET ${set}, updated_at = @now WHERE id = @id`).run({ ...rest, id, now });
    });
  }

  addStage(r: Omit<StageRow, 'seq'>): Promise<void> {
    return this.op(() => {
      this.sql(
        `INSERT INTO stages (deploy_id, seq, at, weight, actor, created_at)
         VALUES (@deploy_id, (SELECT coalesce(max(seq), 0) + 1 FROM stages WHERE deploy_id = @deploy_id),
                 @at, @weight, @actor, @created_at)`,
      ).run(r);
    });
  }

  stages(deployId: string): Promise<StageRow[]> {
    return this.op(() => {
      return this.sql('SELECT * FROM stages WHERE deploy_id = ? ORDER BY seq').all(deployId) as StageRow[];
    });
  }

  saveWatch(deployId: string, state: string, now: number): Promise<void> {
    return this.op(() => this.writeWatch(deployId, state, now));
  }

  saveWatchTicks(p: WatchTicksWrite): Promise<number> {
    return this.transaction(async () => {
      if (p.holder !== undefined && !(await this.replicaLive(p.holder, p.now))) throw new LeasesLapsed(p.holder);
      const append = this.sql('INSERT INTO watch_ticks (deploy_id, at, record) VALUES (?, ?, ?)');
      for (const r of p.ticks) append.run(r.deployId, r.at, r.record);
      for (const c of p.checkpoints) this.writeWatch(c.deployId, c.state, p.now);
      if (p.dropThrough !== null && p.dropThrough > 0) {
        if (p.dropFor) {
          this.sql(
            `DELETE FROM watch_ticks WHERE seq <= ? AND deploy_id IN (SELECT id FROM deploys WHERE status <> 'watching')`,
          ).run(p.dropThrough);
          const drop = this.sql('DELETE FROM watch_ticks WHERE seq <= ? AND deploy_id = ?');
          for (const id of p.dropFor) drop.run(p.dropThrough, id);
        } else this.sql('DELETE FROM watch_ticks WHERE seq <= ?').run(p.dropThrough);
      }
      const last = this.sql("SELECT seq FROM sqlite_sequence WHERE name = 'watch_ticks'").get() as
        { seq: number } | undefined;
      return last?.seq ?? 0;
    });
  }

  watchTicks(deployIds?: readonly string[]): Promise<WatchTickRow[]> {
    return this.op(() => {
      const all = this.sql('SELECT * FROM watch_ticks ORDER BY seq').all() as WatchTickRow[];
      if (!deployIds) return all;
      const want = new Set(deployIds);
      return all.filter((r) => want.has(r.deploy_id));
    });
  }

  private writeWatch(deployId: string, state: string, now: number): void {
    this.sql(
      `INSERT INTO watches (deploy_id, state, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (deploy_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    ).run(deployId, state, now);
  }

  createSession(r: SessionRow, now: number, keep: number): Promise<void> {
    return this.transaction(async () => {
      this.sql('DELETE FROM ui_sessions WHERE expires_at <= ?').run(now);
      this.sql(
        'DELETE FROM ui_sessions WHERE id IN (SELECT id FROM ui_sessions ORDER BY created_at DESC, id LIMIT -1 OFFSET ?)',
      ).run(Math.max(0, keep - 1));
      this.sql(
        'INSERT INTO ui_sessions (id, actor, csrf, flash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(r.id, r.actor, r.csrf, r.flash, r.created_at, r.expires_at);
    });
  }

  session(id: string, now: number): Promise<SessionRow | undefined> {
    return this.op(
      () =>
        this.sql('SELECT * FROM ui_sessions WHERE id = ? AND expires_at > ?').get(id, now) as SessionRow | undefined,
    );
  }

  setSessionFlash(id: string, flash: string | null): Promise<void> {
    return this.op(() => {
      this.sql('UPDATE ui_sessions SET flash = ? WHERE id = ?').run(flash, id);
    });
  }

  deleteSession(id: string): Promise<void> {
    return this.op(() => {
      this.sql('DELETE FROM ui_sessions WHERE id = ?').run(id);
    });
  }

  saveVerdicts(deployId: string, rows: Omit<VerdictRow, 'deploy_id'>[]): Promise<void> {
    return this.op(() => {
      this.sql('DELETE FROM verdicts WHERE deploy_id = ?').run(deployId);
      const ins = this.sql(
        `INSERT INTO verdicts (deploy_id, signal, outcome, decided_at, evidence, recorded_at)
         VALUES (@deploy_id, @signal, @outcome, @decided_at, @evidence, @recorded_at)`,
      );
      for (const r of rows) ins.run({ ...r, deploy_id: deployId });
    });
  }

  verdicts(deployId: string): Promise<VerdictRow[]> {
    return this.op(() => {
      return this.sql('SELECT * FROM verdicts WHERE deploy_id = ? ORDER BY signal').all(deployId) as VerdictRow[];
    });
  }

  addApproval(a: ApprovalRow): Promise<void> {
    return this.op(() => {
      this.sql(
        `INSERT INTO approvals (deploy_id, approver, role, phase, comment, at, identities)
         VALUES (@deploy_id, @approver, @role, @phase, @comment, @at, @identities)`,
      ).run({ ...a, identities: a.identities ?? '[]' });
    });
  }

  approvals(deployId: string, phase?: ApprovalPhase): Promise<ApprovalRow[]> {
    return this.op(() => {
      return (
        phase
          ? this.sql('SELECT * FROM approvals WHERE deploy_id = ? AND phase = ? ORDER BY at, rowid').all(
              deployId,
              phase,
            )
          : this.sql('SELECT * FROM approvals WHERE deploy_id = ? ORDER BY at, rowid').all(deployId)
      ) as ApprovalRow[];
    });
  }

  addOverride(o: Omit<OverrideRow, 'id'>): Promise<void> {
    return this.op(() => {
      this.sql(
        `INSERT INTO overrides (deploy_id, actor, action, reason, from_status, to_status, at)
         VALUES (@deploy_id, @actor, @action, @reason, @from_status, @to_status, @at)`,
      ).run(o);
    });
  }

  overrides(deployId: string): Promise<OverrideRow[]> {
    return this.op(() => {
      return this.sql('SELECT * FROM overrides WHERE deploy_id = ? ORDER BY id').all(deployId) as OverrideRow[];
    });
  }

  appendAudit(at: number, actor: string, action: string, deployId: string | null, detail: unknown): Promise<AuditRow> {
    return this.transaction(async () => {
      const last = this.sql('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined;
      const prev = last?.hash ?? 'genesis';
      const text = JSON.stringify(detail ?? {});
      const hash = auditHash(prev, at, actor, action, deployId, text);
      const r = this.sql(
        'INSERT INTO audit (at, actor, action, deploy_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(at, actor, action, deployId, text, prev, hash);
      const seq = Number(r.lastInsertRowid);
      if (this.signer && seq % this.signer.every === 0) this.writeCheckpoint(seq, hash, at);
      this.pendingHead = { seq, hash };
      return {
        seq,
        at,
        actor,
        action,
        deploy_id: deployId,
        detail: text,
        prev_hash: prev,
        hash,
      };
    });
  }

  audit(afterSeq = 0, limit = 1000, deployId?: string): Promise<AuditRow[]> {
    return this.op(() => {
      return (
        deployId
          ? this.sql('SELECT * FROM audit WHERE seq > ? AND deploy_id = ? ORDER BY seq LIMIT ?').all(
              afterSeq,
              deployId,
              limit,
            )
          : this.sql('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit)
      ) as AuditRow[];
    });
  }

  enqueue(
    key: string,
    kind: string,
    deployId: string | null,
    payload: unknown,
    now: number,
    dueAt = now,
    meta: EffectMeta = {},
  ): Promise<boolean> {
    return this.op(() => {
      const r = this.sql(
        `INSERT OR IGNORE INTO outbox (key, deploy_id, kind, payload, next_attempt_at, created_at,
                                       lane, route, provider, page_key, action)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        key,
        deployId,
        kind,
        JSON.stringify(payload),
        dueAt,
        now,
        meta.lane ?? kind,
        meta.route ?? null,
        meta.provider ?? null,
        meta.pageKey ?? null,
        meta.action ?? null,
      );
      return r.changes === 1;
    });
  }

  dueEffects(now: number, limit = 50): Promise<OutboxRow[]> {
    return this.op(() => {
      return this.sql("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?").all(
        now,
        limit,
      ) as OutboxRow[];
    });
  }

  effects(deployId: string): Promise<OutboxRow[]> {
    return this.op(() => {
      return this.sql('SELECT * FROM outbox WHERE deploy_id = ? ORDER BY id').all(deployId) as OutboxRow[];
    });
  }

  finishEffect(
    id: number,
    status: 'done' | 'failed' | 'skipped',
    now: number,
    error: string | null = null,
  ): Promise<void> {
    return this.op(() => {
      this.sql(
        `UPDATE outbox SET status = ?, done_at = ?, last_error = ?, attempts = attempts + 1, refresh_at = NULL,
           claimed_at = NULL WHERE id = ?`,
      ).run(status, now, error, id);
    });
  }

  retryEffect(id: number, at: number, error: string): Promise<void> {
    return this.op(() => {
      this.sql('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?').run(
        at,
        error,
        id,
      );
    });
  }

  effectByKey(key: string): Promise<OutboxRow | undefined> {
    return this.op(() => {
      return this.sql('SELECT * FROM outbox WHERE key = ?').get(key) as OutboxRow | undefined;
    });
  }

  dueLanes(now: number): Promise<string[]> {
    return this.op(() => {
      return (
        this.sql(
          `SELECT DISTINCT coalesce(lane, kind) AS lane FROM outbox
           WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'done' AND refresh_at <= ?)`,
        ).all(now, now) as { lane: string }[]
      ).map((r) => r.lane);
    });
  }

  dueInLane(lane: string, now: number, limit = 20): Promise<OutboxRow[]> {
    return this.op(() => {
      return this.sql(
        `SELECT * FROM outbox WHERE coalesce(lane, kind) = ?
           AND ((status = 'pending' AND next_attempt_at <= ?) OR (status = 'done' AND refresh_at <= ?))
         ORDER BY id LIMIT ?`,
      ).all(lane, now, now, limit) as OutboxRow[];
    });
  }

  claimEffect(id: number, now: number): Promise<void> {
    return this.op(() => {
      this.sql('UPDATE outbox SET claimed_at = ? WHERE id = ?').run(now, id);
    });
  }

  failAttempt(id: number, now: number, nextAt: number, error: string): Promise<void> {
    return this.op(() => {
      this.sql(
        `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
           first_failed_at = coalesce(first_failed_at, ?), claimed_at = NULL WHERE id = ?`,
      ).run(nextAt, error, now, id);
    });
  }

  markEscalated(id: number): Promise<void> {
    return this.op(() => {
      this.sql('UPDATE outbox SET escalated = 1 WHERE id = ?').run(id);
    });
  }

  delivered(id: number, now: number, refreshAt: number | null): Promise<void> {
    return this.op(() => {
      this.sql(
        `UPDATE outbox SET status = 'done', done_at = coalesce(done_at, ?), attempts = attempts + 1,
           sends = sends + 1, refresh_at = ?, claimed_at = NULL WHERE id = ?`,
      ).run(now, refreshAt, id);
    });
  }

  rescheduleRefresh(id: number, at: number, error: string): Promise<void> {
    return this.op(() => {
      this.sql('UPDATE outbox SET refresh_at = ?, last_error = ? WHERE id = ?').run(at, error, id);
    });
  }

  supersede(pageKey: string, route: string | null, provider: string | null, now: number): Promise<void> {
    return this.op(() => {
      this.sql(
        `UPDATE outbox SET refresh_at = NULL,
           status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END,
           last_error = CASE WHEN status = 'pending' THEN 'resolved before it could be delivered' ELSE last_error END,
           done_at = coalesce(done_at, ?)
         WHERE page_key = ? AND route IS ? AND provider IS ? AND action = 'trigger'`,
      ).run(now, pageKey, route, provider);
    });
  }

  pagesEndingWith(suffix: string): Promise<OutboxRow[]> {
    return this.op(() => {
      return this.sql(
        "SELECT * FROM outbox WHERE action = 'trigger' AND substr(page_key, -length(?)) = ? ORDER BY id",
      ).all(suffix, suffix) as OutboxRow[];
    });
  }

  outboxBacklog(): Promise<{ pending: number; oldest: number | null }> {
    return this.op(
      () =>
        this.sql(
          "SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox WHERE status = 'pending'",
        ).get() as {
          pending: number;
          oldest: number | null;
        },
    );
  }
}

function errText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' ? `${msg} (${code})` : msg;
}

/** The name the rest of the code has used for the SQLite store. */
export { SqliteStore as Store };
