// The PostgreSQL schema: the same numbered migrations as SQLite (migrations.ts), each version's tables in
// PostgreSQL's dialect, recorded in schema_version. A migration that only moved SQLite data between tables
// (version 2 from version 1) is the resulting schema here: a PostgreSQL store never held version-1 data.
// Epoch seconds are double precision (as SQLite's REAL), JSON columns text (the store hands strings on).
// `ord` columns keep insertion order where SQLite used its rowid.
import { SESSIONS_MIGRATION } from './migrations-sessions.js';

export const PG_MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE deploys (
        id TEXT PRIMARY KEY,
        ord BIGSERIAL NOT NULL,
        service TEXT NOT NULL,
        input TEXT NOT NULL,
        deploy TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        hold TEXT,
        verdict TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        decided_at DOUBLE PRECISION
      );
      CREATE INDEX deploys_status ON deploys(status);
      CREATE INDEX deploys_started ON deploys(((deploy::jsonb ->> 'startedAt')::double precision));
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        deploy_id TEXT,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      -- The audit sequence: one row, locked by each append until it commits, so concurrent replicas write
      -- one chain, and the numbers stay dense (a rolled-back append rolls its number back).
      CREATE TABLE audit_counter (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
      INSERT INTO audit_counter VALUES (1, 0);
      CREATE TABLE outbox (
        id SERIAL PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        deploy_id TEXT,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL,
        last_error TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        done_at DOUBLE PRECISION
      );
      CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    `,
  },
  {
    version: 2,
    sql: `
      CREATE TABLE watches (
        deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
        state TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
      );
      CREATE TABLE stages (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        seq INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        weight DOUBLE PRECISION NOT NULL,
        actor TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (deploy_id, seq)
      );
      CREATE TABLE verdicts (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        signal TEXT NOT NULL,
        outcome TEXT NOT NULL,
        decided_at DOUBLE PRECISION,
        evidence TEXT,
        recorded_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (deploy_id, signal)
      );
      CREATE TABLE overrides (
        id SERIAL PRIMARY KEY,
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        from_status TEXT NOT NULL,
        to_status TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL
      );
      CREATE INDEX overrides_deploy ON overrides(deploy_id);
      CREATE TABLE approvals (
        deploy_id TEXT NOT NULL REFERENCES deploys(id),
        approver TEXT NOT NULL,
        role TEXT NOT NULL,
        phase TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        at DOUBLE PRECISION NOT NULL,
        ord BIGSERIAL NOT NULL,
        PRIMARY KEY (deploy_id, phase, approver)
      );
      CREATE INDEX audit_deploy ON audit(deploy_id, seq);
      CREATE INDEX outbox_deploy ON outbox(deploy_id);
    `,
  },
  {
    version: 10,
    sql: `
      CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, pad BYTEA NOT NULL, at DOUBLE PRECISION NOT NULL);
      ALTER TABLE approvals ADD COLUMN identities TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 11,
    sql: `
      CREATE TABLE IF NOT EXISTS audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        mac TEXT NOT NULL
      );
    `,
  },
  {
    version: 20,
    sql: `
      ALTER TABLE outbox ADD COLUMN lane TEXT;
      ALTER TABLE outbox ADD COLUMN route TEXT;
      ALTER TABLE outbox ADD COLUMN provider TEXT;
      ALTER TABLE outbox ADD COLUMN page_key TEXT;
      ALTER TABLE outbox ADD COLUMN action TEXT;
      ALTER TABLE outbox ADD COLUMN claimed_at DOUBLE PRECISION;
      ALTER TABLE outbox ADD COLUMN first_failed_at DOUBLE PRECISION;
      ALTER TABLE outbox ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE outbox ADD COLUMN refresh_at DOUBLE PRECISION;
      ALTER TABLE outbox ADD COLUMN sends INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX outbox_lane_due ON outbox(status, lane, next_attempt_at);
      CREATE INDEX outbox_page ON outbox(page_key, route, provider);
      CREATE INDEX outbox_refresh ON outbox(refresh_at) WHERE refresh_at IS NOT NULL;
    `,
  },
  {
    version: 30,
    sql: `
      CREATE TABLE replicas (
        holder TEXT PRIMARY KEY,
        seen_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
      );
      CREATE TABLE watch_leases (
        deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
        holder TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        taken_at DOUBLE PRECISION NOT NULL
      );
      CREATE INDEX watch_leases_holder ON watch_leases(holder);
      CREATE TABLE lane_leases (
        lane TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
      );
    `,
  },
  {
    // Watch state in proportion to change (watch/tick-log.ts): one compact record per watch-tick, appended
    // in seq order, dropped as a prefix; `watches.state` is the checkpoint they replay onto (sqlite: 40).
    version: 40,
    sql: `
      CREATE TABLE watch_ticks (
        seq BIGSERIAL PRIMARY KEY,
        deploy_id TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        record TEXT NOT NULL
      );
    `,
  },
  {
    // Replicas read one watch's records: the one taking it over, and every replica answering for it
    // (DeployService.storedWatch). SQLite's 41 is empty: one process holds every watch in memory.
    version: 41,
    sql: `CREATE INDEX watch_ticks_deploy ON watch_ticks (deploy_id, seq);`,
  },
  SESSIONS_MIGRATION,
  {
    // The gate's view across replicas (deploys/gate-view.ts): every committed change of a deploy's status or
    // reason, by whichever replica (or an operator's SQL) made it, is announced on one channel, so each
    // replica forgets that deploy's entry at once instead of re-reading every polled deploy each second.
    // NOTIFY is sent at commit and not at all on rollback: exactly the writes a reader can see.
    version: 43,
    sql: `
      CREATE OR REPLACE FUNCTION navigator_deploy_changed() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify('navigator_deploys', NEW.id);
        RETURN NULL;
      END
      $$ LANGUAGE plpgsql;
      CREATE TRIGGER deploys_changed AFTER INSERT ON deploys
        FOR EACH ROW EXECUTE FUNCTION navigator_deploy_changed();
      CREATE TRIGGER deploys_gate_changed AFTER UPDATE ON deploys
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.reason IS DISTINCT FROM NEW.reason)
        EXECUTE FUNCTION navigator_deploy_changed();
    `,
  },
];
