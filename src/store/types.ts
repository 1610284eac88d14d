// What the deploy service, the outbox and the audit log need from a store. The SQLite implementation
// (sqlite.ts) is the embedded default; a PostgreSQL one can come later behind the same interface.
// Every method is synchronous: a `transaction(fn)` runs fn and commits all its writes at once (or none),
// so a decision, its verdicts, its audit entry and its outbox rows are never half-written.
// Times are epoch seconds (REAL); JSON columns are strings.

export interface DeployRow {
  id: string;
  service: string;
  /** the registration as received (contracts §2), JSON */
  input: string;
  /** the normalised deploy (model/deploy.ts `Deploy`), JSON; its stages grow */
  deploy: string;
  status: string;
  reason: string;
  /** why a pending_approval deploy waits: 'plan' (too large a first step) or 'freeze' */
  hold: string | null;
  /** the judge's state after the last tick (watch/deploy-watch.ts), JSON: a restart resumes it */
  watch: string | null;
  /** the deciding verdict and its evidence, JSON */
  verdict: string | null;
  created_at: number;
  updated_at: number;
  decided_at: number | null;
}

export type DeployFields = Partial<Pick<DeployRow, 'deploy' | 'status' | 'reason' | 'hold' | 'verdict' | 'decided_at'>>;

export interface StageRow {
  deploy_id: string;
  seq: number;
  /** when the traffic moved */
  at: number;
  weight: number;
  actor: string;
  /** when Navigator heard of it */
  created_at: number;
}

export interface VerdictRow {
  deploy_id: string;
  signal: string;
  /** watching | pass | fail | inconclusive */
  outcome: string;
  decided_at: number | null;
  /** the signal's evidence (model/verdict.ts `Evidence`), JSON, or null before its first tick */
  evidence: string | null;
  recorded_at: number;
}

/** start: lets a plan that waits in pending_approval begin; promote: counts toward promotion. */
export type ApprovalPhase = 'start' | 'promote';

export interface ApprovalRow {
  deploy_id: string;
  approver: string;
  role: string;
  phase: ApprovalPhase;
  comment: string;
  at: number;
}

export interface OverrideRow {
  id: number;
  deploy_id: string;
  actor: string;
  action: 'proceed' | 'halt';
  reason: string;
  from_status: string;
  to_status: string;
  at: number;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  deploy_id: string | null;
  /** JSON */
  detail: string;
  prev_hash: string;
  hash: string;
}

export interface OutboxRow {
  id: number;
  /** idempotency key: an effect decided twice is carried out once */
  key: string;
  deploy_id: string | null;
  kind: string;
  /** JSON */
  payload: string;
  /** pending | done | failed | skipped */
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  done_at: number | null;
  /** the destination whose worker carries it out (route/provider, or the hook) */
  lane: string | null;
  route: string | null;
  provider: string | null;
  /** the page's identity (Page.key) for pages; null for hooks and annotations */
  page_key: string | null;
  /** trigger | resolve | change | hook | annotation | escalation */
  action: string | null;
  /** when the last attempt started: a pending row with it set was maybe sent before a crash */
  claimed_at: number | null;
  first_failed_at: number | null;
  /** 1 once the fallback and undeliverable routes were paged for it */
  escalated: number;
  /** when a delivered firing Alertmanager alert is posted again (null: never) */
  refresh_at: number | null;
  /** how many times it was sent successfully (refreshes included) */
  sends: number;
}

/** Where an effect goes, for per-destination workers and page bookkeeping (outbox columns of migration 20). */
export interface EffectMeta {
  lane?: string;
  route?: string | null;
  provider?: string | null;
  pageKey?: string | null;
  action?: string;
}

export interface Store {
  /** Runs fn in one transaction: every write inside commits together or not at all. Nests (savepoints). */
  transaction<T>(fn: () => T): T;
  close(): void;

  insertDeploy(r: Omit<DeployRow, 'watch' | 'verdict' | 'decided_at' | 'updated_at'>): void;
  getDeploy(id: string): DeployRow | undefined;
  /** Newest first. */
  listDeploys(status?: string, limit?: number): DeployRow[];
  /** Deploys started in [from, to] (epoch seconds): the candidates for blame. */
  deploysStartedBetween(from: number, to: number): DeployRow[];
  updateDeploy(id: string, fields: DeployFields, now: number): void;

  addStage(r: Omit<StageRow, 'seq'>): void;
  stages(deployId: string): StageRow[];

  /** The judge's state after a tick; `watch` on DeployRow reads it back. */
  saveWatch(deployId: string, state: string, now: number): void;

  /** Replaces the per-signal verdicts of a deploy. */
  saveVerdicts(deployId: string, rows: Omit<VerdictRow, 'deploy_id'>[]): void;
  verdicts(deployId: string): VerdictRow[];

  addApproval(a: ApprovalRow): void;
  approvals(deployId: string, phase?: ApprovalPhase): ApprovalRow[];

  addOverride(o: Omit<OverrideRow, 'id'>): void;
  overrides(deployId: string): OverrideRow[];

  /** Appends to the hash-chained audit log (see auditHash in sqlite.ts). */
  appendAudit(at: number, actor: string, action: string, deployId: string | null, detail: unknown): AuditRow;
  audit(afterSeq?: number, limit?: number, deployId?: string): AuditRow[];

  /** Queues an effect once per key; false when the key was already queued. */
  enqueue(
    key: string,
    kind: string,
    deployId: string | null,
    payload: unknown,
    now: number,
    dueAt?: number,
    meta?: EffectMeta,
  ): boolean;
  dueEffects(now: number, limit?: number): OutboxRow[];
  effects(deployId: string): OutboxRow[];
  finishEffect(id: number, status: 'done' | 'failed' | 'skipped', now: number, error?: string | null): void;
  retryEffect(id: number, at: number, error: string): void;
  effectByKey(key: string): OutboxRow | undefined;
  /** Destinations with effects due now (and due refreshes). */
  dueLanes(now: number): string[];
  dueInLane(lane: string, now: number, limit?: number): OutboxRow[];
  /** Records that an attempt starts now (committed before the request goes out). */
  claimEffect(id: number, now: number): void;
  /** A failed attempt: counts it, remembers when failures began, schedules the next one. */
  failAttempt(id: number, now: number, nextAt: number, error: string): void;
  markEscalated(id: number): void;
  /** Delivered: done now, sent once more, and (for a firing Alertmanager alert) when to post it again. */
  delivered(id: number, now: number, refreshAt: number | null): void;
  /** A refresh that failed: try it again at `at`. */
  rescheduleRefresh(id: number, at: number, error: string): void;
  /** A delivered resolve: its trigger's retries and refreshes stop. */
  supersede(pageKey: string, route: string | null, provider: string | null, now: number): void;
  /** Trigger rows of pages whose key ends with suffix (an Alertmanager alert's pages). */
  pagesEndingWith(suffix: string): OutboxRow[];
  /** Pending effects and the oldest one's creation time, for /metrics. */
  outboxBacklog(): { pending: number; oldest: number | null };
}

/** One audit entry as the domain writes it; the sink adds the time, the sequence and the hash chain. */
export interface AuditEntry {
  actor: string;
  action: string;
  deployId: string | null;
  detail?: unknown;
}

/**
 * Where every decision, approval, override and action is recorded. `append` is synchronous and writes
 * through the same store, so an entry joins the caller's transaction and commits with what it records.
 */
export interface AuditSink {
  append(e: AuditEntry): void;
}
