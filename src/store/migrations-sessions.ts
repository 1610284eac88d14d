// Migration 42 (both engines, the same SQL): the on-call page's sign-in sessions (ui/session.ts), in the
// store so that every replica behind a load balancer knows a browser signed in on another one, and a
// restart signs nobody out. `id` is the SHA-256 of the cookie's session id, never the id itself (a copy of
// the database gives no live cookie); the identity is the actor's name, role and identities, never a token.
export const SESSIONS_MIGRATION = {
  version: 42,
  sql: `
    CREATE TABLE IF NOT EXISTS ui_sessions (
      id TEXT PRIMARY KEY,
      actor TEXT NOT NULL,          -- JSON: { name, role, identities }
      csrf TEXT NOT NULL,
      flash TEXT,                   -- the next page's one-time message
      created_at DOUBLE PRECISION NOT NULL,
      expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ui_sessions_expires ON ui_sessions(expires_at);
  `,
};
