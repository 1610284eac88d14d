// Migration 20 (numbered high so that other store migrations can take the low numbers): what the outbox
// needs to deliver per destination and never give up silently.
//  - lane: the destination (route/provider, or the hook) whose worker carries the effect out: a hung
//    receiver holds only its own lane;
//  - route, provider, page_key, action: which page an effect belongs to, so a delivered resolve supersedes
//    its trigger's retries and stops its Alertmanager refreshes, and a resolved alert finds its pages;
//  - claimed_at: set just before each attempt; a pending row with it set was maybe sent before a crash;
//  - first_failed_at, escalated: when a failing effect went to the fallback and undeliverable routes;
//  - refresh_at, sends: when a delivered firing Alertmanager alert is posted again, and how often it was.
export const OUTBOX_MIGRATION = {
  version: 20,
  sql: `
    ALTER TABLE outbox ADD COLUMN lane TEXT;
    ALTER TABLE outbox ADD COLUMN route TEXT;
    ALTER TABLE outbox ADD COLUMN provider TEXT;
    ALTER TABLE outbox ADD COLUMN page_key TEXT;
    ALTER TABLE outbox ADD COLUMN action TEXT;
    ALTER TABLE outbox ADD COLUMN claimed_at REAL;
    ALTER TABLE outbox ADD COLUMN first_failed_at REAL;
    ALTER TABLE outbox ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN refresh_at REAL;
    ALTER TABLE outbox ADD COLUMN sends INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox SET lane = kind WHERE lane IS NULL;
    CREATE INDEX outbox_lane_due ON outbox(status, lane, next_attempt_at);
    CREATE INDEX outbox_page ON outbox(page_key, route, provider);
    CREATE INDEX outbox_refresh ON outbox(refresh_at) WHERE refresh_at IS NOT NULL;
  `,
};
