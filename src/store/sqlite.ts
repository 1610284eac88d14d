// The embedded store: one SQLite file in WAL mode. synchronous=NORMAL: in WAL mode a committed
// transaction survives a killed process (SIGKILL, a crash); only an OS crash or power loss may drop the
// last transactions, and the pipeline re-registers idempotently. Raw parameterised SQL, small methods.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export interface DeployRow {
  id: string;
  service: string;
  input: string;
  deploy: string;
  status: string;
  reason: string;
  hold: string | null;
  watch: string | null;
  verdict: string | null;
  created_at: number;
  updated_at: number;
  decided_at: number | null;
}

export interface ApprovalRow {
  deploy_id: string;
  approver: string;
  role: string;
  comment: string;
  at: number;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  deploy_id: string | null;
  detail: string;
  prev_hash: string;
  hash: string;
}

export interface OutboxRow {
  id: number;
  key: string;
  deploy_id: string | null;
  kind: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  done_at: number | null;
}

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

export class Store {
  readonly db: Database.Database;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
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

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }

  insertDeploy(r: Omit<DeployRow, 'watch' | 'verdict' | 'decided_at' | 'updated_at'>): void {
    this.db
      .prepare(
        `INSERT INTO deploys (id, service, input, deploy, status, reason, hold, created_at, updated_at)
         VALUES (@id, @service, @input, @deploy, @status, @reason, @hold, @created_at, @created_at)`,
      )
      .run(r);
  }

  getDeploy(id: string): DeployRow | undefined {
    return this.db.prepare('SELECT * FROM deploys WHERE id = ?').get(id) as DeployRow | undefined;
  }

  listDeploys(status?: string, limit = 200): DeployRow[] {
    return (
      status
        ? this.db.prepare('SELECT * FROM deploys WHERE status = ? ORDER BY created_at DESC LIMIT ?').all(status, limit)
        : this.db.prepare('SELECT * FROM deploys ORDER BY created_at DESC LIMIT ?').all(limit)
    ) as DeployRow[];
  }

  /** Deploys started in [from, to]: the candidates for blame. */
  deploysStartedBetween(from: number, to: number): DeployRow[] {
    return this.db
      .prepare("SELECT * FROM deploys WHERE json_extract(deploy, '$.startedAt') BETWEEN ? AND ?")
      .all(from, to) as DeployRow[];
  }

  updateDeploy(
    id: string,
    fields: Partial<Pick<DeployRow, 'deploy' | 'status' | 'reason' | 'hold' | 'watch' | 'verdict' | 'decided_at'>>,
    now: number,
  ): void {
    const keys = Object.keys(fields) as (keyof typeof fields)[];
    if (keys.length === 0) return;
    const set = keys.map((k) => `${k} = @${k}`).join(', ');
    this.db.prepare(`UPDATE deploys SET ${set}, updated_at = @now WHERE id = @id`).run({ ...fields, id, now });
  }

  addApproval(a: ApprovalRow): void {
    this.db
      .prepare(
        'INSERT INTO approvals (deploy_id, approver, role, comment, at) VALUES (@deploy_id, @approver, @role, @comment, @at)',
      )
      .run(a);
  }

  approvals(deployId: string): ApprovalRow[] {
    return this.db.prepare('SELECT * FROM approvals WHERE deploy_id = ? ORDER BY at').all(deployId) as ApprovalRow[];
  }

  appendAudit(at: number, actor: string, action: string, deployId: string | null, detail: unknown): AuditRow {
    const last = this.db.prepare('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1').get() as
      { hash: string } | undefined;
    const prev = last?.hash ?? 'genesis';
    const text = JSON.stringify(detail ?? {});
    const hash = auditHash(prev, at, actor, action, deployId, text);
    const r = this.db
      .prepare('INSERT INTO audit (at, actor, action, deploy_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(at, actor, action, deployId, text, prev, hash);
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
  }

  audit(afterSeq = 0, limit = 1000, deployId?: string): AuditRow[] {
    return (
      deployId
        ? this.db
            .prepare('SELECT * FROM audit WHERE seq > ? AND deploy_id = ? ORDER BY seq LIMIT ?')
            .all(afterSeq, deployId, limit)
        : this.db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit)
    ) as AuditRow[];
  }

  /** Queues an effect once per key; returns false when the key was already queued. */
  enqueue(key: string, kind: string, deployId: string | null, payload: unknown, now: number, dueAt = now): boolean {
    const r = this.db
      .prepare(
        'INSERT OR IGNORE INTO outbox (key, deploy_id, kind, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(key, deployId, kind, JSON.stringify(payload), dueAt, now);
    return r.changes === 1;
  }

  dueEffects(now: number, limit = 50): OutboxRow[] {
    return this.db
      .prepare("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?")
      .all(now, limit) as OutboxRow[];
  }

  effects(deployId: string): OutboxRow[] {
    return this.db.prepare('SELECT * FROM outbox WHERE deploy_id = ? ORDER BY id').all(deployId) as OutboxRow[];
  }

  finishEffect(id: number, status: 'done' | 'failed' | 'skipped', now: number, error: string | null = null): void {
    this.db
      .prepare('UPDATE outbox SET status = ?, done_at = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?')
      .run(status, now, error, id);
  }

  retryEffect(id: number, at: number, error: string): void {
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?')
      .run(at, error, id);
  }
}
