// Numbered schema migrations, each applied once in its own transaction (schema_version records them).
// Never edit an applied migration: add the next number.
import { LEASES_MIGRATION } from './migrations-leases.js';
import { OUTBOX_MIGRATION } from './migrations-outbox.js';
import { SESSIONS_MIGRATION } from './migrations-sessions.js';

export const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE deploys (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        input TEXT NOT NULL,          -- the registration as received (contracts §2), JSON
        deploy TEXT NOT NULL,         -- the normalised deploy, JSON (stages grow)
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        hold TEXT,                    -- why a pending deploy waits: plan | freeze
        watch TEXT,                   -- the judge's state after the last tick, JSON: a restart resumes it
        verdict TEXT,                 -- the deciding verdict and its evidence, JSON
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        decided_at REAL
      );
      CREATE INDEX deploys_status ON deploys(status);
      CREATE TABLE approvals (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        approver TEXT NOT NULL,
        role TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        PRIMARY KEY (deploy_id, approver)
      );
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        deploy_id TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,     -- idempotency key: an effect decided twice is carried out once
        deploy_id TEXT,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        created_at REAL NOT NULL,
        done_at REAL
      );
      CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    `,
  },
  {
    // The judge's state gets its own narrow table (rewritten for every open watch each tick, it should not
    // drag the deploy's JSON along); stages, per-signal verdicts and overrides get rows of their own; an
    // approval says what it approves (starting a held plan, or promotion), so one person may do both.
    version: 2,
    sql: `
      CREATE TABLE watches (
        deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
        state TEXT NOT NULL,          -- the DeployWatch after the last tick, JSON
        updated_at REAL NOT NULL
      );
      INSERT INTO watches (deploy_id, state, updated_at)
        SELECT id, watch, updated_at FROM deploys WHERE watch IS NOT NULL;
      ALTER TABLE deploys DROP COLUMN watch;

      CREATE TABLE stages (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        seq INTEGER NOT NULL,
        at REAL NOT NULL,             -- when the traffic moved
        weight REAL NOT NULL,
        actor TEXT NOT NULL,
        created_at REAL NOT NULL,     -- when Navigator heard of it
        PRIMARY KEY (deploy_id, seq)
      );
      INSERT INTO stages (deploy_id, seq, at, weight, actor, created_at)
        SELECT d.id, s.key + 1, json_extract(s.value, '$.at'), json_extract(s.value, '$.weight'), 'pipeline', d.created_at
        FROM deploys d, json_each(d.deploy, '$.stages') s;

      CREATE TABLE verdicts (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        signal TEXT NOT NULL,
        outcome TEXT NOT NULL,
        decided_at REAL,
        evidence TEXT,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (deploy_id, signal)
      );

      CREATE TABLE overrides (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        actor TEXT NOT NULL,
        action TEXT NOT NULL,         -- proceed | halt
        reason TEXT NOT NULL,
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        at REAL NOT NULL
      );
      CREATE INDEX overrides_deploy ON overrides(deploy_id);

      CREATE TABLE approvals_v2 (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        approver TEXT NOT NULL,
        role TEXT NOT NULL,
        phase TEXT NOT NULL,          -- start | promote
        comment TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL,
        PRIMARY KEY (deploy_id, phase, approver)
      );
      INSERT INTO approvals_v2 (deploy_id, approver, role, phase, comment, at)
        SELECT deploy_id, approver, role, 'promote', comment, at FROM approvals;
      DROP TABLE approvals;
      ALTER TABLE approvals_v2 RENAME TO approvals;
      CREATE INDEX audit_deploy ON audit(deploy_id, seq);
      CREATE INDEX outbox_deploy ON outbox(deploy_id);
    `,
  },
  {
    // Numbered 10 and up (hardening) so that other branches' migrations (3..9) merge without renumbering.
    // store_probe: a scratch row the store writes to find out whether it can write again after a fault
    // (a full disk, a read-only remount). approvals.identities: every identity of the approver's token,
    // normalised (policy/identity.ts), so the two-person rule compares people, not spellings.
    version: 10,
    sql: `
      CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, pad BLOB NOT NULL, at REAL NOT NULL);
      ALTER TABLE approvals ADD COLUMN identities TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    // Signed checkpoints of the audit chain (audit/checkpoint.ts): at every `audit.checkpointEvery`-th entry
    // the head's sequence and hash, with an HMAC under a key kept outside this database, so recomputing
    // the chain after a rewrite, or deleting the newest entries below a checkpoint, no longer verifies.
    version: 11,
    sql: `
      CREATE TABLE IF NOT EXISTS audit_checkpoints (
        seq INTEGER PRIMARY KEY,      -- the audit entry the checkpoint signs
        hash TEXT NOT NULL,           -- that entry's chain hash
        at REAL NOT NULL,
        mac TEXT NOT NULL             -- HMAC-SHA256(key, "seq:hash:at"), hex
      );
    `,
  },
  {
    // Watch state written in proportion to what changed (watch/tick-log.ts): each watch-tick appends one
    // compact record here; `watches.state` is the periodic checkpoint the records after it replay onto.
    // Appended in seq order and dropped as a prefix (seq <= the oldest open watch's checkpoint), with no
    // index besides the key, so an append touches the last pages only. Plain rows: the same in PostgreSQL
    // (seq BIGSERIAL, migrations-postgres.ts).
    version: 40,
    sql: `
      CREATE TABLE IF NOT EXISTS watch_ticks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        deploy_id TEXT NOT NULL,
        at REAL NOT NULL,             -- the tick's end (or the failure's time)
        record TEXT NOT NULL          -- JSON (watch/tick-log.ts)
      );
    `,
  },
  {
    // PostgreSQL's 41 indexes watch_ticks by deploy for replicas reading one watch's records; one SQLite
    // process holds every watch in memory and reads the log only whole, at start: nothing to do here.
    version: 41,
    sql: `SELECT 1;`,
  },
  OUTBOX_MIGRATION,
  LEASES_MIGRATION,
  SESSIONS_MIGRATION,
  {
    // PostgreSQL's 43 announces deploy changes to the other replicas' gate views; one SQLite process makes
    // every write itself and forgets the entry as it writes (deploys/gate-view.ts): nothing to do here.
    version: 43,
    sql: `SELECT 1;`,
  },
].sort((a, b) => a.version - b.version); // applied in version order, wherever a merge put them
