// The embedded store: one SQLite file in WAL mode, numbered migrations, raw parameterised SQL.
//
// synchronous=NORMAL, not FULL: in WAL mode NORMAL syncs the log at each checkpoint rather than at each
// commit, so a committed transaction survives a killed process (SIGKILL, a crash: the contract we test);
// only an OS crash or a power loss may drop the last few commits. That loss is recoverable by design: a
// lost tick is judged again from the metric source on restart (the judge is deterministic), a lost
// registration is re-sent by the pipeline (registration is idempotent), and outbox keys make a repeated
// effect happen once. FULL would add an fsync to every tick's commit for no gain in those terms.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import type {
  ApprovalPhase,
  ApprovalRow,
  AuditRow,
  DeployFields,
  DeployRow,
  EffectMeta,
  OutboxRow,
  OverrideRow,
  StageRow,
  Store as StoreApi,
  VerdictRow,
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

const DEPLOY_SELECT = 'SELECT d.*, w.state AS watch FROM deploys d LEFT JOIN watches w ON w.deploy_id = d.id';
const DEPLOY_FIELDS = new Set(['deploy', 'status', 'reason', 'hold', 'verdict', 'decided_at']);

export class SqliteStore implements StoreApi {
  readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
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
      this.transaction(() => {
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)')
          .run(m.version, Date.now() / 1000);
      });
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

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  insertDeploy(r: Omit<DeployRow, 'watch' | 'verdict' | 'decided_at' | 'updated_at'>): void {
    this.sql(
      `INSERT INTO deploys (id, service, input, deploy, status, reason, hold, created_at, updated_at)
       VALUES (@id, @service, @input, @deploy, @status, @reason, @hold, @created_at, @created_at)`,
    ).run(r);
  }

  getDeploy(id: string): DeployRow | undefined {
    return this.sql(`${DEPLOY_SELECT} WHERE d.id = ?`).get(id) as DeployRow | undefined;
  }

  listDeploys(status?: string, limit = 200): DeployRow[] {
    return (
      status
        ? this.sql(`${DEPLOY_SELECT} WHERE d.status = ? ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?`).all(
            status,
            limit,
          )
        : this.sql(`${DEPLOY_SELECT} ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?`).all(limit)
    ) as DeployRow[];
  }

  deploysStartedBetween(from: number, to: number): DeployRow[] {
    return this.sql(`${DEPLOY_SELECT} WHERE json_extract(d.deploy, '$.startedAt') BETWEEN ? AND ?`).all(
      from,
      to,
    ) as DeployRow[];
  }

  updateDeploy(id: string, fields: DeployFields & { watch?: string | null }, now: number): void {
    const { watch, ...rest } = fields;
    if (watch !== undefined) {
      if (watch === null) this.sql('DELETE FROM watches WHERE deploy_id = ?').run(id);
      else this.saveWatch(id, watch, now);
    }
    const keys = Object.keys(rest).filter((k) => DEPLOY_FIELDS.has(k));
    if (keys.length === 0) return;
    const set = keys.map((k) => `${k} = @${k}`).join(', ');
    this.sql(`UPDATE deploys SET ${set}, updated_at = @now WHERE id = @id`).run({ ...rest, id, now });
  }

  addStage(r: Omit<StageRow, 'seq'>): void {
    this.sql(
      `INSERT INTO stages (deploy_id, seq, at, weight, actor, created_at)
       VALUES (@deploy_id, (SELECT coalesce(max(seq), 0) + 1 FROM stages WHERE deploy_id = @deploy_id),
               @at, @weight, @actor, @created_at)`,
    ).run(r);
  }

  stages(deployId: string): StageRow[] {
    return this.sql('SELECT * FROM stages WHERE deploy_id = ? ORDER BY seq').all(deployId) as StageRow[];
  }

  saveWatch(deployId: string, state: string, now: number): void {
    this.sql(
      `INSERT INTO watches (deploy_id, state, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (deploy_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    ).run(deployId, state, now);
  }

  saveVerdicts(deployId: string, rows: Omit<VerdictRow, 'deploy_id'>[]): void {
    this.sql('DELETE FROM verdicts WHERE deploy_id = ?').run(deployId);
    const ins = this.sql(
      `INSERT INTO verdicts (deploy_id, signal, outcome, decided_at, evidence, recorded_at)
       VALUES (@deploy_id, @signal, @outcome, @decided_at, @evidence, @recorded_at)`,
    );
    for (const r of rows) ins.run({ ...r, deploy_id: deployId });
  }

  verdicts(deployId: string): VerdictRow[] {
    return this.sql('SELECT * FROM verdicts WHERE deploy_id = ? ORDER BY signal').all(deployId) as VerdictRow[];
  }

  addApproval(a: ApprovalRow): void {
    this.sql(
      `INSERT INTO approvals (deploy_id, approver, role, phase, comment, at)
       VALUES (@deploy_id, @approver, @role, @phase, @comment, @at)`,
    ).run(a);
  }

  approvals(deployId: string, phase?: ApprovalPhase): ApprovalRow[] {
    return (
      phase
        ? this.sql('SELECT * FROM approvals WHERE deploy_id = ? AND phase = ? ORDER BY at, rowid').all(deployId, phase)
        : this.sql('SELECT * FROM approvals WHERE deploy_id = ? ORDER BY at, rowid').all(deployId)
    ) as ApprovalRow[];
  }

  addOverride(o: Omit<OverrideRow, 'id'>): void {
    this.sql(
      `INSERT INTO overrides (deploy_id, actor, action, reason, from_status, to_status, at)
       VALUES (@deploy_id, @actor, @action, @reason, @from_status, @to_status, @at)`,
    ).run(o);
  }

  overrides(deployId: string): OverrideRow[] {
    return this.sql('SELECT * FROM overrides WHERE deploy_id = ? ORDER BY id').all(deployId) as OverrideRow[];
  }

  appendAudit(at: number, actor: string, action: string, deployId: string | null, detail: unknown): AuditRow {
    return this.transaction(() => {
      const last = this.sql('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined;
      const prev = last?.hash ?? 'genesis';
      const text = JSON.stringify(detail ?? {});
      const hash = auditHash(prev, at, actor, action, deployId, text);
      const r = this.sql(
        'INSERT INTO audit (at, actor, action, deploy_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(at, actor, action, deployId, text, prev, hash);
      return {
        seq: Number(r.lastInsertRowid),
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

  audit(afterSeq = 0, limit = 1000, deployId?: string): AuditRow[] {
    return (
      deployId
        ? this.sql('SELECT * FROM audit WHERE seq > ? AND deploy_id = ? ORDER BY seq LIMIT ?').all(
            afterSeq,
            deployId,
            limit,
          )
        : this.sql('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit)
    ) as AuditRow[];
  }

  enqueue(
    key: string,
    kind: string,
    deployId: string | null,
    payload: unknown,
    now: number,
    dueAt = now,
    meta: EffectMeta = {},
  ): boolean {
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
  }

  dueEffects(now: number, limit = 50): OutboxRow[] {
    return this.sql("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?").all(
      now,
      limit,
    ) as OutboxRow[];
  }

  effects(deployId: string): OutboxRow[] {
    return this.sql('SELECT * FROM outbox WHERE deploy_id = ? ORDER BY id').all(deployId) as OutboxRow[];
  }

  finishEffect(id: number, status: 'done' | 'failed' | 'skipped', now: number, error: string | null = null): void {
    this.sql(
      `UPDATE outbox SET status = ?, done_at = ?, last_error = ?, attempts = attempts + 1, refresh_at = NULL,
         claimed_at = NULL WHERE id = ?`,
    ).run(status, now, error, id);
  }

  retryEffect(id: number, at: number, error: string): void {
    this.sql('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?').run(
      at,
      error,
      id,
    );
  }

  effectByKey(key: string): OutboxRow | undefined {
    return this.sql('SELECT * FROM outbox WHERE key = ?').get(key) as OutboxRow | undefined;
  }

  dueLanes(now: number): string[] {
    return (
      this.sql(
        `SELECT DISTINCT coalesce(lane, kind) AS lane FROM outbox
         WHERE (status = 'pending' AND next_attempt_at <= ?) OR (status = 'done' AND refresh_at <= ?)`,
      ).all(now, now) as { lane: string }[]
    ).map((r) => r.lane);
  }

  dueInLane(lane: string, now: number, limit = 20): OutboxRow[] {
    return this.sql(
      `SELECT * FROM outbox WHERE coalesce(lane, kind) = ?
         AND ((status = 'pending' AND next_attempt_at <= ?) OR (status = 'done' AND refresh_at <= ?))
       ORDER BY id LIMIT ?`,
    ).all(lane, now, now, limit) as OutboxRow[];
  }

  claimEffect(id: number, now: number): void {
    this.sql('UPDATE outbox SET claimed_at = ? WHERE id = ?').run(now, id);
  }

  failAttempt(id: number, now: number, nextAt: number, error: string): void {
    this.sql(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
         first_failed_at = coalesce(first_failed_at, ?), claimed_at = NULL WHERE id = ?`,
    ).run(nextAt, error, now, id);
  }

  markEscalated(id: number): void {
    this.sql('UPDATE outbox SET escalated = 1 WHERE id = ?').run(id);
  }

  delivered(id: number, now: number, refreshAt: number | null): void {
    this.sql(
      `UPDATE outbox SET status = 'done', done_at = coalesce(done_at, ?), attempts = attempts + 1,
         sends = sends + 1, refresh_at = ?, claimed_at = NULL WHERE id = ?`,
    ).run(now, refreshAt, id);
  }

  rescheduleRefresh(id: number, at: number, error: string): void {
    this.sql('UPDATE outbox SET refresh_at = ?, last_error = ? WHERE id = ?').run(at, error, id);
  }

  supersede(pageKey: string, route: string | null, provider: string | null, now: number): void {
    this.sql(
      `UPDATE outbox SET refresh_at = NULL,
         status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END,
         last_error = CASE WHEN status = 'pending' THEN 'resolved before it could be delivered' ELSE last_error END,
         done_at = coalesce(done_at, ?)
       WHERE page_key = ? AND route IS ? AND provider IS ? AND action = 'trigger'`,
    ).run(now, pageKey, route, provider);
  }

  pagesEndingWith(suffix: string): OutboxRow[] {
    return this.sql(
      "SELECT * FROM outbox WHERE action = 'trigger' AND substr(page_key, -length(?)) = ? ORDER BY id",
    ).all(suffix, suffix) as OutboxRow[];
  }

  outboxBacklog(): { pending: number; oldest: number | null } {
    return this.sql(
      "SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox WHERE status = 'pending'",
    ).get() as { pending: number; oldest: number | null };
  }
}

/** The name the rest of the code has used for the SQLite store. */
export { SqliteStore as Store };
