// The shared store: PostgreSQL through node-postgres (`pg`), for several replicas on one database
// (`store.url`). The same contract as SQLite (types.ts, contract.ts), the same numbered migrations
// (migrations-postgres.ts), parameterised SQL only.
//
// - A transaction checks one client out of the pool; calls made inside it (tracked by tx-context.ts) run on
//   that client, nested ones as savepoints. Everything else goes through the pool.
// - The audit chain stays one chain under concurrent writers: an append takes the one-row audit_counter
//   (UPDATE ... RETURNING), whose row lock serialises appends across replicas until commit. Inside a
//   transaction the entries are written just before COMMIT, after every other statement, so the chain's lock
//   is always the last one a transaction takes and no lock order between replicas can deadlock.
// - Faults: a connection that fails, times out or is refused, a database that is shutting down, read-only
//   or out of disk is StoreUnavailable (HTTP 503, /readyz not ready) until a later write succeeds.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { checkpointMac, type Checkpoint } from '../audit/checkpoint.js';
import { auditHash } from './audit-hash.js';
import { LeasesLapsed, StoreError, StoreUnavailable } from './faults.js';
import { fairShare } from './fair-share.js';
import { PG_MIGRATIONS } from './migrations-postgres.js';
import { currentTx, runInTx, type TxFrame } from './tx-context.js';
import type {
  ApprovalPhase,
  ApprovalRow,
  AuditRow,
  AuditSigner,
  DeployFields,
  DeployRow,
  EffectMeta,
  OutboxRow,
  OverrideRow,
  SessionRow,
  StageRow,
  Store,
  VerdictRow,
  WatchTickRow,
  WatchTicksWrite,
  WatchLeases,
} from './types.js';

const DEPLOY_SELECT =
  'SELECT d.id, d.service, d.input, d.deploy, d.status, d.reason, d.hold, w.state AS watch, d.verdict, d.created_at, d.updated_at, d.decided_at FROM deploys d LEFT JOIN watches w ON w.deploy_id = d.id';
const DEPLOY_FIELDS = ['deploy', 'status', 'reason', 'hold', 'verdict', 'decided_at'] as const;
const OUTBOX_COLS =
  'id, key, deploy_id, kind, payload, status, attempts, next_attempt_at, last_error, created_at, done_at, lane, route, provider, page_key, action, claimed_at, first_failed_at, escalated, refresh_at, sends';

// count(*) and bigserial are int8: numbers here (they stay far below 2^53).
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresOptions {
  /** connections in the pool (store.pool) */
  pool?: number;
  /** per statement, milliseconds: a database that stops answering is a fault, not a hang */
  statementTimeout?: number;
  /** connecting, milliseconds */
  connectTimeout?: number;
}

interface PendingAudit {
  at: number;
  actor: string;
  action: string;
  deployId: string | null;
  text: string;
  row?: AuditRow;
}

interface Frame extends TxFrame<pg.PoolClient> {
  audit: PendingAudit[];
}

/** SQLSTATE classes that mean the database or the way to it is at fault, not the statement. */
function pgFaultCode(e: unknown): string | null {
  if (e instanceof StoreUnavailable) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^(08|53|57|58|XX)/.test(code) || code === '25006') return `PG_${code}`;
    if (/^E[A-Z]+$/.test(code)) return code; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH...
    if (/^[0-9A-Z]{5}$/.test(code)) return null; // a constraint, a syntax error: the statement's fault
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (/Connection terminated|timeout|connect|Client was closed|Cannot use a pool after calling end/i.test(msg))
    return 'PG_CONNECTION';
  return null;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export class PostgresStore implements Store {
  readonly shared = true;
  readonly path: string;
  appendedHead: { seq: number; hash: string } | null = null;
  /** statements sent (for bench/service's queries per tick and /metrics) */
  queries = 0;
  private readonly pool: pg.Pool;
  private signer: AuditSigner | null = null;
  private fault: { error: string; since: number } | null = null;
  private lastProbe = 0;
  private closed = false;
  private readonly names = new Map<string, string>();
  /** change feeds to stop on close (subscribeDeploys) */
  private readonly feeds = new Set<() => void>();

  private constructor(
    private readonly url: string,
    private readonly o: PostgresOptions,
  ) {
    this.path = redactUrl(url);
    const statementTimeout = o.statementTimeout ?? 10_000;
    this.pool = new pg.Pool({
      connectionString: url,
      max: o.pool ?? 10,
      connectionTimeoutMillis: o.connectTimeout ?? 5_000,
      statement_timeout: statementTimeout,
      query_timeout: statementTimeout + 1_000,
      idle_in_transaction_session_timeout: 60_000,
      keepAlive: true,
      application_name: 'navigator',
      types,
    });
    // An idle client whose connection drops: the pool removes it; the next query reports the fault.
    this.pool.on('error', (err) => this.noteFault(err));
  }

  /** Connects and migrates; a database that cannot be reached or used is StoreError (exit 2 at start). */
  static async open(url: string, o: PostgresOptions = {}): Promise<PostgresStore> {
    const s = new PostgresStore(url, o);
    try {
      await s.migrate();
    } catch (e) {
      await s.pool.end().catch(() => {});
      throw new StoreError(`store ${s.path}: cannot use it: ${errText(e)}`);
    }
    return s;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  health(): { writable: boolean; error: string | null; since: number | null } {
    return { writable: this.fault === null, error: this.fault?.error ?? null, since: this.fault?.since ?? null };
  }

  /** After a fault, at most once a second: a small write; clears the fault when it commits. */
  async probe(now = Date.now() / 1000): Promise<boolean> {
    if (!this.fault) return true;
    if (now - this.lastProbe < 1) return false;
    this.lastProbe = now;
    try {
      await this.transaction(async () => {
        await this.q(
          `INSERT INTO store_probe (id, pad, at) VALUES (1, $1, $2)
           ON CONFLICT (id) DO UPDATE SET pad = excluded.pad, at = excluded.at`,
          [Buffer.alloc(64), now],
        );
        await this.q('DELETE FROM store_probe');
      });
    } catch {
      return false;
    }
    return this.fault === null;
  }

  noteFault(e: unknown): void {
    const code = pgFaultCode(e);
    if (!code) return;
    const error = e instanceof StoreUnavailable ? e.message : `${code}: ${errText(e)}`;
    this.fault = { error, since: this.fault?.since ?? Date.now() / 1000 };
  }

  private asFault(e: unknown, note: boolean): unknown {
    const code = pgFaultCode(e);
    if (!code) return e;
    const err = e instanceof StoreUnavailable ? e : new StoreUnavailable(this.path, code, errText(e));
    if (note) this.noteFault(err);
    return err;
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      // Replicas starting together migrate one at a time.
      await c.query('SELECT pg_advisory_lock(726100001)');
      try {
        await c.query(
          'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)',
        );
        const done = new Set(
          (await c.query<{ version: number }>('SELECT version FROM schema_version')).rows.map((r) => r.version),
        );
        for (const m of PG_MIGRATIONS) {
          if (done.has(m.version)) continue;
          await c.query('BEGIN');
          try {
            await c.query(m.sql);
            await c.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)', [
              m.version,
              Date.now() / 1000,
            ]);
            await c.query('COMMIT');
          } catch (e) {
            await c.query('ROLLBACK');
            throw e;
          }
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock(726100001)');
      }
    } finally {
      c.release();
    }
  }

  /** The schema version after migrating. */
  async version(): Promise<number> {
    const [r] = await this.q<{ v: number }>('SELECT max(version) AS v FROM schema_version');
    return r?.v ?? 0;
  }

  /** One statement, on the caller's transaction's client when inside one; prepared once per connection. */
  private async q<R extends object = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
    this.queries++;
    let name = this.names.get(text);
    if (!name) {
      name = `n${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
      this.names.set(text, name);
    }
    const f = currentTx<pg.PoolClient>(this);
    try {
      const r = f
        ? await f.conn.query<R>({ name, text, values: params })
        : await this.pool.query<R>({ name, text, values: params });
      // A write that succeeded outside a transaction: the database can write again.
      if (!f && this.fault && !/^\s*SELECT/i.test(text)) this.fault = null;
      return r.rows;
    } catch (e) {
      throw this.asFault(e, !f);
    }
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    const open = currentTx<pg.PoolClient>(this) as Frame | undefined;
    if (open) return this.savepoint(open, fn);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.asFault(e, true);
    }
    const frame: Frame = { owner: this, open: true, savepoints: 0, conn: client, audit: [] };
    let broken = false;
    try {
      this.queries++;
      await client.query('BEGIN');
      const r = await runInTx(frame, fn);
      const cps = await this.flushAudit(frame);
      frame.open = false;
      this.queries++;
      await client.query('COMMIT');
      this.fault = null;
      const last = frame.audit.at(-1)?.row;
      if (last) this.appendedHead = { seq: last.seq, hash: last.hash };
      for (const c of cps) this.signer?.onCheckpoint?.(c);
      return r;
    } catch (e) {
      frame.open = false;
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw this.asFault(e, true);
    } finally {
      frame.open = false;
      client.release(broken);
    }
  }

  private async savepoint<T>(frame: Frame, fn: () => Promise<T>): Promise<T> {
    const name = `sp${++frame.savepoints}`;
    const mark = frame.audit.length;
    await frame.conn.query(`SAVEPOINT ${name}`);
    try {
      const r = await fn();
      await frame.conn.query(`RELEASE SAVEPOINT ${name}`);
      return r;
    } catch (e) {
      frame.audit.length = mark; // its audit entries roll back with it
      await frame.conn.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {});
      await frame.conn.query(`RELEASE SAVEPOINT ${name}`).catch(() => {});
      throw this.asFault(e, false);
    }
  }

  /** Writes the transaction's audit entries on the chain's head (locked until commit). */
  private async flushAudit(frame: Frame): Promise<Checkpoint[]> {
    const cps: Checkpoint[] = [];
    if (frame.audit.length === 0) return cps;
    const c = frame.conn;
    for (const e of frame.audit) {
      this.queries += 3;
      const n = (await c.query<{ n: number }>('UPDATE audit_counter SET n = n + 1 WHERE id = 1 RETURNING n')).rows[0];
      if (!n) throw new Error('audit_counter is missing its row');
      const last = (await c.query<{ hash: string }>('SELECT hash FROM audit ORDER BY seq DESC LIMIT 1')).rows[0];
      const prev = last?.hash ?? 'genesis';
      const hash = auditHash(prev, e.at, e.actor, e.action, e.deployId, e.text);
      await c.query(
        'INSERT INTO audit (seq, at, actor, action, deploy_id, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [n.n, e.at, e.actor, e.action, e.deployId, e.text, prev, hash],
      );
      e.row = {
        seq: n.n,
        at: e.at,
        actor: e.actor,
        action: e.action,
        deploy_id: e.deployId,
        detail: e.text,
        prev_hash: prev,
        hash,
      };
      if (this.signer && n.n % this.signer.every === 0) cps.push(await this.writeCheckpoint(c, n.n, hash, e.at));
    }
    return cps;
  }

  private async writeCheckpoint(c: pg.PoolClient, seq: number, hash: string, at: number): Promise<Checkpoint> {
    const key = this.signer?.key;
    if (!key) throw new Error('no audit signer');
    const cp = { seq, hash, at, mac: checkpointMac(key, seq, hash, at) };
    this.queries++;
    await c.query(
      `INSERT INTO audit_checkpoints (seq, hash, at, mac) VALUES ($1, $2, $3, $4)
       ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, at = excluded.at, mac = excluded.mac`,
      [cp.seq, cp.hash, cp.at, cp.mac],
    );
    return cp;
  }

  async setAuditSigner(signer: AuditSigner | null): Promise<number> {
    this.signer = signer;
    if (!signer) return 0;
    const head = await this.auditHead();
    if (!head) return 0;
    const have = new Set((await this.q<{ seq: number }>('SELECT seq FROM audit_checkpoints')).map((r) => r.seq));
    let added = 0;
    const cps: Checkpoint[] = [];
    await this.transaction(async () => {
      const c = currentTx<pg.PoolClient>(this)?.conn;
      if (!c) throw new Error('not in a transaction');
      for (let seq = signer.every; seq <= head.seq; seq += signer.every) {
        if (have.has(seq)) continue;
        const [row] = await this.q<{ hash: string; at: number }>('SELECT hash, at FROM audit WHERE seq = $1', [seq]);
        if (!row) continue;
        cps.push(await this.writeCheckpoint(c, seq, row.hash, row.at));
        added++;
      }
    });
    for (const cp of cps) signer.onCheckpoint?.(cp);
    return added;
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    const [r] = await this.q<{ seq: number; hash: string }>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
    return r ?? null;
  }

  async auditAt(seq: number): Promise<AuditRow | undefined> {
    const [r] = await this.q<AuditRow>('SELECT * FROM audit WHERE seq = $1', [seq]);
    return r;
  }

  async auditSequence(): Promise<number> {
    const [r] = await this.q<{ n: number }>('SELECT n FROM audit_counter WHERE id = 1');
    return r?.n ?? 0;
  }

  async checkpoints(after = 0, upTo = 2_147_483_647): Promise<Checkpoint[]> {
    return this.q<Checkpoint>('SELECT * FROM audit_checkpoints WHERE seq > $1 AND seq <= $2 ORDER BY seq', [
      after,
      Math.min(upTo, 2_147_483_647),
    ]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.feeds]) stop();
    await this.pool.end();
  }

  /**
   * The deploys' change feed (migration 43): one dedicated connection LISTENing on `navigator_deploys`;
   * onChange(id) for every committed change of a deploy's status or reason by any process. onLive(true)
   * once listening; onLive(false) as soon as the connection fails or stops answering a heartbeat (every
   * second, 2 s allowed: a black-holed connection is noticed, not trusted for hours of TCP keepalive),
   * then reconnects every second. While not live, changes may be missed: the caller must not believe what
   * it cached (gate-view.ts falls back to a 1 s expiry and forgets everything at each transition).
   */
  subscribeDeploys(onChange: (id: string) => void, onLive: (live: boolean) => void): () => void {
    let stopped = false;
    let current: pg.Client | null = null;
    let retry: NodeJS.Timeout | undefined;
    let beat: NodeJS.Timeout | undefined;
    const drop = (c: pg.Client) => {
      if (current !== c) return;
      current = null;
      clearInterval(beat);
      onLive(false);
      c.end().catch(() => {});
      if (!stopped) (retry = setTimeout(connect, 1000)).unref();
    };
    const connect = () => {
      if (stopped) return;
      const c = new pg.Client({
        connectionString: this.url,
        application_name: 'navigator-deploy-feed',
        connectionTimeoutMillis: this.o.connectTimeout ?? 5_000,
        keepAlive: true,
      });
      current = c;
      c.on('error', () => drop(c));
      c.on('end', () => drop(c));
      c.on('notification', (m) => {
        if (m.channel === 'navigator_deploys' && m.payload) onChange(m.payload);
      });
      c.connect()
        .then(() => c.query('LISTEN navigator_deploys'))
        .then(() => {
          if (current !== c) return;
          onLive(true);
          let pending = 0;
          beat = setInterval(() => {
            if (pending && Date.now() - pending > 2_000) return drop(c);
            if (pending) return;
            pending = Date.now();
            c.query('SELECT 1').then(
              () => (pending = 0),
              () => drop(c),
            );
          }, 1_000);
          beat.unref();
        })
        .catch(() => drop(c));
    };
    connect();
    const stop = () => {
      stopped = true;
      this.feeds.delete(stop);
      clearTimeout(retry);
      const c = current;
      if (c) {
        current = null;
        clearInterval(beat);
        c.end().catch(() => {});
      }
    };
    this.feeds.add(stop);
    return stop;
  }

  async insertDeploy(r: Omit<DeployRow, 'watch' | 'verdict' | 'decided_at' | 'updated_at'>): Promise<void> {
    await this.q(
      `INSERT INTO deploys (id, service, input, deploy, status, reason, hold, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
      [r.id, r.service, r.input, r.deploy, r.status, r.reason, r.hold, r.created_at],
    );
  }

  async getDeploy(id: string): Promise<DeployRow | undefined> {
    const [r] = await this.q<DeployRow>(`${DEPLOY_SELECT} WHERE d.id = $1`, [id]);
    return r;
  }

  async deployGate(id: string): Promise<Pick<DeployRow, 'status' | 'reason'> | undefined> {
    const [r] = await this.q<Pick<DeployRow, 'status' | 'reason'>>('SELECT status, reason FROM deploys WHERE id = $1', [
      id,
    ]);
    return r;
  }

  async lockDeploy(id: string): Promise<DeployRow | undefined> {
    if (!currentTx(this)) return this.getDeploy(id);
    await this.q('SELECT id FROM deploys WHERE id = $1 FOR UPDATE', [id]);
    return this.getDeploy(id);
  }

  async listDeploys(status?: string, limit = 200): Promise<DeployRow[]> {
    return status
      ? this.q<DeployRow>(`${DEPLOY_SELECT} WHERE d.status = $1 ORDER BY d.created_at DESC, d.ord DESC LIMIT $2`, [
          status,
          limit,
        ])
      : this.q<DeployRow>(`${DEPLOY_SELECT} ORDER BY d.created_at DESC, d.ord DESC LIMIT $1`, [limit]);
  }

  async deploysStartedBetween(from: number, to: number): Promise<DeployRow[]> {
    return this.q<DeployRow>(
      `${DEPLOY_SELECT} WHERE (d.deploy::jsonb ->> 'startedAt')::double precision BETWEEN $1 AND $2`,
      [from, to],
    );
  }

  async updateDeploy(id: string, fields: DeployFields & { watch?: string | null }, now: number): Promise<void> {
    const { watch, ...rest } = fields;
    if (watch !== undefined) {
      if (watch === null) await this.q('DELETE FROM watches WHERE deploy_id = $1', [id]);
      else await this.saveWatch(id, watch, now);
    }
    const keys = DEPLOY_FIELDS.filter((k) => k in rest);
    if (keys.length === 0) return;
    const set = keys.map((k, i) => `${k} = $${i + 3}`).join(', ');
    await this.q(`UPDATE deploys SET ${set}, updated_at = $2 WHERE id = $1`, [
      id,
      now,
      ...keys.map((k) => (rest as Record<string, unknown>)[k] ?? null),
    ]);
  }

  async addStage(r: Omit<StageRow, 'seq'>): Promise<void> {
    await this.q(
      `INSERT INTO stages (deploy_id, seq, at, weight, actor, created_at)
       VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM stages WHERE deploy_id = $1), $2, $3, $4, $5)`,
      [r.deploy_id, r.at, r.weight, r.actor, r.created_at],
    );
  }

  async stages(deployId: string): Promise<StageRow[]> {
    return this.q<StageRow>('SELECT * FROM stages WHERE deploy_id = $1 ORDER BY seq', [deployId]);
  }

  async saveWatch(deployId: string, state: string, now: number): Promise<void> {
    await this.q(
      `INSERT INTO watches (deploy_id, state, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (deploy_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      [deployId, state, now],
    );
  }

  saveWatchTicks(p: WatchTicksWrite): Promise<number> {
    return this.transaction(async () => {
      // Fenced: a replica whose heartbeat is gone writes nothing (another one may be judging its watches).
      if (p.holder !== undefined && !(await this.replicaLive(p.holder, p.now))) throw new LeasesLapsed(p.holder);
      if (p.ticks.length)
        await this.q(
          `INSERT INTO watch_ticks (deploy_id, at, record)
           SELECT d, a, r FROM unnest($1::text[], $2::double precision[], $3::text[]) WITH ORDINALITY AS u(d, a, r, i)
           ORDER BY i`,
          [p.ticks.map((r) => r.deployId), p.ticks.map((r) => r.at), p.ticks.map((r) => r.record)],
        );
      if (p.checkpoints.length)
        await this.q(
          `INSERT INTO watches (deploy_id, state, updated_at)
           SELECT d, s, $3 FROM unnest($1::text[], $2::text[]) AS u(d, s)
           ON CONFLICT (deploy_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
          [p.checkpoints.map((c) => c.deployId), p.checkpoints.map((c) => c.state), p.now],
        );
      if (p.dropThrough !== null && p.dropThrough > 0)
        await this.q(
          p.dropFor
            ? `DELETE FROM watch_ticks WHERE seq <= $1 AND (deploy_id = ANY($2::text[])
                 OR deploy_id IN (SELECT id FROM deploys WHERE status <> 'watching'))`
            : 'DELETE FROM watch_ticks WHERE seq <= $1',
          p.dropFor ? [p.dropThrough, p.dropFor] : [p.dropThrough],
        );
      const [row] = await this.q<{ seq: string | null }>('SELECT max(seq) AS seq FROM watch_ticks');
      return row?.seq != null ? Number(row.seq) : (p.dropThrough ?? 0);
    });
  }

  async watchTicks(deployIds?: readonly string[]): Promise<WatchTickRow[]> {
    const rows = deployIds
      ? await this.q<WatchTickRow & { seq: string | number }>(
          'SELECT * FROM watch_ticks WHERE deploy_id = ANY($1::text[]) ORDER BY seq',
          [deployIds],
        )
      : await this.q<WatchTickRow & { seq: string | number }>('SELECT * FROM watch_ticks ORDER BY seq');
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  createSession(r: SessionRow, now: number, keep: number): Promise<void> {
    return this.transaction(async () => {
      await this.q('DELETE FROM ui_sessions WHERE expires_at <= $1', [now]);
      await this.q(
        'DELETE FROM ui_sessions WHERE id IN (SELECT id FROM ui_sessions ORDER BY created_at DESC, id OFFSET $1)',
        [Math.max(0, keep - 1)],
      );
      await this.q(
        `INSERT INTO ui_sessions (id, actor, csrf, flash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [r.id, r.actor, r.csrf, r.flash, r.created_at, r.expires_at],
      );
    });
  }

  async session(id: string, now: number): Promise<SessionRow | undefined> {
    const [r] = await this.q<SessionRow>('SELECT * FROM ui_sessions WHERE id = $1 AND expires_at > $2', [id, now]);
    return r;
  }

  async setSessionFlash(id: string, flash: string | null): Promise<void> {
    await this.q('UPDATE ui_sessions SET flash = $2 WHERE id = $1', [id, flash]);
  }

  async deleteSession(id: string): Promise<void> {
    await this.q('DELETE FROM ui_sessions WHERE id = $1', [id]);
  }

  async saveVerdicts(deployId: string, rows: Omit<VerdictRow, 'deploy_id'>[]): Promise<void> {
    await this.q('DELETE FROM verdicts WHERE deploy_id = $1', [deployId]);
    for (const r of rows)
      await this.q(
        `INSERT INTO verdicts (deploy_id, signal, outcome, decided_at, evidence, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [deployId, r.signal, r.outcome, r.decided_at, r.evidence, r.recorded_at],
      );
  }

  async verdicts(deployId: string): Promise<VerdictRow[]> {
    return this.q<VerdictRow>('SELECT * FROM verdicts WHERE deploy_id = $1 ORDER BY signal', [deployId]);
  }

  async addApproval(a: ApprovalRow): Promise<void> {
    await this.q(
      `INSERT INTO approvals (deploy_id, approver, role, phase, comment, at, identities)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [a.deploy_id, a.approver, a.role, a.phase, a.comment, a.at, a.identities ?? '[]'],
    );
  }

  async approvals(deployId: string, phase?: ApprovalPhase): Promise<ApprovalRow[]> {
    const cols = 'deploy_id, approver, role, phase, comment, at, identities';
    return phase
      ? this.q<ApprovalRow>(`SELECT ${cols} FROM approvals WHERE deploy_id = $1 AND phase = $2 ORDER BY at, ord`, [
          deployId,
          phase,
        ])
      : this.q<ApprovalRow>(`SELECT ${cols} FROM approvals WHERE deploy_id = $1 ORDER BY at, ord`, [deployId]);
  }

  async addOverride(o: Omit<OverrideRow, 'id'>): Promise<void> {
    await this.q(
      `INSERT INTO overrides (deploy_id, actor, action, reason, from_status, to_status, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [o.deploy_id, o.actor, o.action, o.reason, o.from_status, o.to_status, o.at],
    );
  }

  async overrides(deployId: string): Promise<OverrideRow[]> {
    return this.q<OverrideRow>('SELECT * FROM overrides WHERE deploy_id = $1 ORDER BY id', [deployId]);
  }

  async appendAudit(
    at: number,
    actor: string,
    action: string,
    deployId: string | null,
    detail: unknown,
  ): Promise<AuditRow | undefined> {
    const entry: PendingAudit = { at, actor, action, deployId, text: JSON.stringify(detail ?? {}) };
    const open = currentTx<pg.PoolClient>(this) as Frame | undefined;
    if (open) {
      open.audit.push(entry); // written at commit, on the chain's head
      return undefined;
    }
    await this.transaction(async () => {
      (currentTx<pg.PoolClient>(this) as Frame).audit.push(entry);
    });
    return entry.row;
  }

  async audit(afterSeq = 0, limit = 1000, deployId?: string): Promise<AuditRow[]> {
    return deployId
      ? this.q<AuditRow>('SELECT * FROM audit WHERE seq > $1 AND deploy_id = $2 ORDER BY seq LIMIT $3', [
          afterSeq,
          deployId,
          limit,
        ])
      : this.q<AuditRow>('SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit]);
  }

  async enqueue(
    key: string,
    kind: string,
    deployId: string | null,
    payload: unknown,
    now: number,
    dueAt = now,
    meta: EffectMeta = {},
  ): Promise<boolean> {
    const n = await this.q(
      `INSERT INTO outbox (key, deploy_id, kind, payload, next_attempt_at, created_at, lane, route, provider, page_key, action)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (key) DO NOTHING RETURNING id`,
      [
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
      ],
    );
    return n.length === 1;
  }

  async dueEffects(now: number, limit = 50): Promise<OutboxRow[]> {
    return this.q<OutboxRow>(
      `SELECT ${OUTBOX_COLS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY id LIMIT $2`,
      [now, limit],
    );
  }

  async effects(deployId: string): Promise<OutboxRow[]> {
    return this.q<OutboxRow>(`SELECT ${OUTBOX_COLS} FROM outbox WHERE deploy_id = $1 ORDER BY id`, [deployId]);
  }

  async finishEffect(
    id: number,
    status: 'done' | 'failed' | 'skipped',
    now: number,
    error: string | null = null,
  ): Promise<void> {
    await this.q(
      `UPDATE outbox SET status = $1, done_at = $2, last_error = $3, attempts = attempts + 1, refresh_at = NULL,
         claimed_at = NULL WHERE id = $4`,
      [status, now, error, id],
    );
  }

  async retryEffect(id: number, at: number, error: string): Promise<void> {
    await this.q('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3', [
      at,
      error,
      id,
    ]);
  }

  async effectByKey(key: string): Promise<OutboxRow | undefined> {
    const [r] = await this.q<OutboxRow>(`SELECT ${OUTBOX_COLS} FROM outbox WHERE key = $1`, [key]);
    return r;
  }

  async dueLanes(now: number): Promise<string[]> {
    return (
      await this.q<{ lane: string }>(
        `SELECT DISTINCT coalesce(lane, kind) AS lane FROM outbox
         WHERE (status = 'pending' AND next_attempt_at <= $1) OR (status = 'done' AND refresh_at <= $1)`,
        [now],
      )
    ).map((r) => r.lane);
  }

  async dueInLane(lane: string, now: number, limit = 20): Promise<OutboxRow[]> {
    return this.q<OutboxRow>(
      `SELECT ${OUTBOX_COLS} FROM outbox WHERE coalesce(lane, kind) = $1
         AND ((status = 'pending' AND next_attempt_at <= $2) OR (status = 'done' AND refresh_at <= $2))
       ORDER BY id LIMIT $3`,
      [lane, now, limit],
    );
  }

  async claimEffect(id: number, now: number): Promise<void> {
    await this.q('UPDATE outbox SET claimed_at = $1 WHERE id = $2', [now, id]);
  }

  async failAttempt(id: number, now: number, nextAt: number, error: string): Promise<void> {
    await this.q(
      `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,
         first_failed_at = coalesce(first_failed_at, $3), claimed_at = NULL WHERE id = $4`,
      [nextAt, error, now, id],
    );
  }

  async markEscalated(id: number): Promise<void> {
    await this.q('UPDATE outbox SET escalated = 1 WHERE id = $1', [id]);
  }

  async delivered(id: number, now: number, refreshAt: number | null): Promise<void> {
    await this.q(
      `UPDATE outbox SET status = 'done', done_at = coalesce(done_at, $1), attempts = attempts + 1,
         sends = sends + 1, refresh_at = $2, claimed_at = NULL WHERE id = $3`,
      [now, refreshAt, id],
    );
  }

  async rescheduleRefresh(id: number, at: number, error: string): Promise<void> {
    await this.q('UPDATE outbox SET refresh_at = $1, last_error = $2 WHERE id = $3', [at, error, id]);
  }

  async supersede(pageKey: string, route: string | null, provider: string | null, now: number): Promise<void> {
    await this.q(
      `UPDATE outbox SET refresh_at = NULL,
         status = CASE WHEN status = 'pending' THEN 'skipped' ELSE status END,
         last_error = CASE WHEN status = 'pending' THEN 'resolved before it could be delivered' ELSE last_error END,
         done_at = coalesce(done_at, $1)
       WHERE page_key = $2 AND route IS NOT DISTINCT FROM $3 AND provider IS NOT DISTINCT FROM $4
         AND action = 'trigger'`,
      [now, pageKey, route, provider],
    );
  }

  async pagesEndingWith(suffix: string): Promise<OutboxRow[]> {
    return this.q<OutboxRow>(
      `SELECT ${OUTBOX_COLS} FROM outbox WHERE action = 'trigger' AND right(page_key, length($1)) = $1 ORDER BY id`,
      [suffix],
    );
  }

  async outboxBacklog(): Promise<{ pending: number; oldest: number | null }> {
    const [r] = await this.q<{ pending: number; oldest: number | null }>(
      "SELECT count(*) AS pending, min(created_at) AS oldest FROM outbox WHERE status = 'pending'",
    );
    return r ?? { pending: 0, oldest: null };
  }

  leaseWatches(holder: string, now: number, ttl: number): Promise<WatchLeases> {
    return this.transaction(async () => {
      const until = now + ttl;
      // The heartbeat first: renewed only while still live. A replica that finds it gone or lapsed was
      // declared dead (or was): whatever it held is void, it starts again with nothing (what it takes
      // again is `taken`, resumed from the store).
      const renewed = await this.q(
        'UPDATE replicas SET seen_at = $2, expires_at = $3 WHERE holder = $1 AND expires_at > $2 RETURNING holder',
        [holder, now, until],
      );
      if (renewed.length === 0) {
        await this.q('DELETE FROM replicas WHERE holder = $1', [holder]);
        await this.q('DELETE FROM watch_leases WHERE holder = $1', [holder]);
        await this.q('INSERT INTO replicas (holder, seen_at, expires_at) VALUES ($1, $2, $3)', [holder, now, until]);
      }
      // Dead replicas' heartbeats go: their watches are free. A heartbeat being renewed right now is locked
      // by its owner and skipped (it is alive), so no two rounds ever wait on each other.
      await this.q(
        `DELETE FROM replicas WHERE holder IN (
           SELECT holder FROM replicas WHERE expires_at <= $1 AND holder <> $2 FOR UPDATE SKIP LOCKED)`,
        [now, holder],
      );
      const live = (await this.q<{ holder: string }>('SELECT holder FROM replicas ORDER BY holder')).map(
        (r) => r.holder,
      );
      const [counts] = await this.q<{ open: number }>(
        "SELECT count(*)::int AS open FROM deploys WHERE status = 'watching'",
      );
      const replicas = Math.max(1, live.length);
      const share = fairShare(counts?.open ?? 0, live, holder);
      // Leases of watches that closed: gone (any replica may clear them).
      await this.q(
        `DELETE FROM watch_leases l USING deploys d
         WHERE l.holder = $1 AND d.id = l.deploy_id AND d.status <> 'watching'`,
        [holder],
      );
      // Held as long as the heartbeat lives: nothing to renew per watch.
      const mine = (
        await this.q<{ deploy_id: string }>(
          'SELECT deploy_id FROM watch_leases WHERE holder = $1 ORDER BY taken_at, deploy_id',
          [holder],
        )
      ).map((r) => r.deploy_id);
      const released = replicas > 1 && mine.length > share ? mine.slice(share) : [];
      if (released.length)
        await this.q('DELETE FROM watch_leases WHERE holder = $1 AND deploy_id = ANY($2::text[])', [holder, released]);
      const kept = mine.slice(0, mine.length - released.length);
      const want = Math.max(0, share - kept.length);
      // Free watches (no lease, or a lease whose holder's heartbeat is gone), up to the fair share; rows
      // another replica is taking right now are skipped.
      const taken =
        want === 0
          ? []
          : (
              await this.q<{ deploy_id: string }>(
                `WITH free AS (
                   SELECT d.id FROM deploys d LEFT JOIN watch_leases l ON l.deploy_id = d.id
                   WHERE d.status = 'watching'
                     AND (l.deploy_id IS NULL OR NOT EXISTS (SELECT 1 FROM replicas r WHERE r.holder = l.holder))
                   ORDER BY d.created_at, d.id LIMIT $4
                   FOR UPDATE OF d SKIP LOCKED)
                 INSERT INTO watch_leases (deploy_id, holder, expires_at, taken_at)
                   SELECT id, $1, $3, $2 FROM free
                 ON CONFLICT (deploy_id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
                   taken_at = excluded.taken_at
                   WHERE NOT EXISTS (SELECT 1 FROM replicas r WHERE r.holder = watch_leases.holder)
                 RETURNING deploy_id`,
                [holder, now, until, want],
              )
            ).map((r) => r.deploy_id);
      return { held: [...kept, ...taken], taken, released, replicas };
    });
  }

  async deploysUpdatedSince(ids: readonly string[], since: number): Promise<{ id: string; deploy: string }[]> {
    if (ids.length === 0) return [];
    return this.q<{ id: string; deploy: string }>(
      'SELECT id, deploy FROM deploys WHERE id = ANY($1::text[]) AND updated_at >= $2 ORDER BY id',
      [ids, since],
    );
  }

  async renewHeartbeat(holder: string, now: number, ttl: number): Promise<boolean> {
    const r = await this.q(
      'UPDATE replicas SET seen_at = $2, expires_at = $3 WHERE holder = $1 AND expires_at > $2 RETURNING holder',
      [holder, now, now + ttl],
    );
    return r.length === 1;
  }

  async replicaLive(holder: string, now: number): Promise<boolean> {
    const r = await this.q('SELECT 1 FROM replicas WHERE holder = $1 AND expires_at > $2 FOR SHARE', [holder, now]);
    return r.length === 1;
  }

  releaseLeases(holder: string): Promise<void> {
    return this.transaction(async () => {
      await this.q('DELETE FROM watch_leases WHERE holder = $1', [holder]);
      await this.q('DELETE FROM lane_leases WHERE holder = $1', [holder]);
      await this.q('DELETE FROM replicas WHERE holder = $1', [holder]);
    });
  }

  async claimLane(lane: string, holder: string, now: number, ttl: number): Promise<boolean> {
    const r = await this.q(
      `INSERT INTO lane_leases (lane, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (lane) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE lane_leases.holder = excluded.holder OR lane_leases.expires_at <= $4
       RETURNING lane`,
      [lane, holder, now + ttl, now],
    );
    return r.length === 1;
  }

  async releaseLane(lane: string, holder: string): Promise<void> {
    await this.q('DELETE FROM lane_leases WHERE lane = $1 AND holder = $2', [lane, holder]);
  }
}
