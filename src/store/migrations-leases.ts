// Migration 30 (both engines): leases for several replicas on one store (store/types.ts `leaseWatches`,
// `claimLane`). replicas: each live process's heartbeat, so a replica takes its fair share of the open
// watches; watch_leases: which replica judges a watch, until when; lane_leases: which replica's worker
// drains an outbox lane (one at a time, so a lane keeps its order: the halt hook before the rollback).
// On SQLite one process owns the file and takes no leases, but the tables exist so that one contract
// test suite runs against both engines.
export const LEASES_MIGRATION = {
  version: 30,
  sql: `
    CREATE TABLE IF NOT EXISTS replicas (
      holder TEXT PRIMARY KEY,
      seen_at REAL NOT NULL,
      expires_at REAL NOT NULL
    );
    CREATE TABLE IF NOT EXISTS watch_leases (
      deploy_id TEXT PRIMARY KEY REFERENCES deploys(id),
      holder TEXT NOT NULL,
      expires_at REAL NOT NULL,
      taken_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS watch_leases_holder ON watch_leases(holder);
    CREATE TABLE IF NOT EXISTS lane_leases (
      lane TEXT PRIMARY KEY,
      holder TEXT NOT NULL,
      expires_at REAL NOT NULL
    );
  `,
};
