// Numbered schema migrations, each applied once in its own transaction (schema_version records them).
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
];
