// What the deploy service, the outbox and the audit log need from a store. Two engines implement it: SQLite
// (sqlite.ts, the embedded default) and PostgreSQL (postgres.ts, shared state for several replicas).
// Every method is asynchronous (PostgreSQL is a network round trip); `transaction(fn)` runs fn and commits
// all its writes at once (or none), so a decision, its verdicts, its audit entry and its outbox rows are
// never half-written. Inside fn, calls on the same store object join the transaction (the engine tracks it
// through AsyncLocalStorage), so the audit sink and the decision listeners need no transaction handle.
// Times are epoch seconds (REAL / double precision); JSON columns are strings.

import type { Checkpoint } from '../audit/checkpoint.js';

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

export interface WatchTickRow {
  seq: number;
  deploy_id: string;
  at: number;
  /** JSON (watch/tick-log.ts) */
  record: string;
}

/** A sign-in session of the on-call page (ui/session.ts); `id` is the SHA-256 of the cookie's id. */
export interface SessionRow {
  id: string;
  /** JSON: { name, role, identities } */
  actor: string;
  csrf: string;
  flash: string | null;
  created_at: number;
  expires_at: number;
}

export interface WatchTicksWrite {
  ticks: { deployId: string; at: number; record: string }[];
  checkpoints: { deployId: string; state: string }[];
  dropThrough: number | null;
  /**
   * The writer's open watches: on a shared store only their records (and closed deploys') are dropped, so
   * one replica's checkpoints never drop another replica's records.
   */
  dropFor?: string[];
  /**
   * The writing replica on a shared store: the write is fenced by its heartbeat (leaseWatches). When the
   * heartbeat has lapsed, or another replica has declared it dead, nothing is written and the write fails
   * with LeasesLapsed; otherwise the heartbeat stays locked until the commit, so no replica can take over
   * (and read the records) in between.
   */
  holder?: string;
  now: number;
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
  /** every identity of the approver's token, normalised (policy/identity.ts), JSON array; '[]' before v10 */
  identities?: string;
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
  /**
   * Runs fn in one transaction: every write inside commits together or not at all. Nests (savepoints).
   * While it is open no other write of this process interleaves (SQLite: one connection behind a mutex;
   * PostgreSQL: one pooled client for the transaction).
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Whether the store is open (closed stores are not read by /metrics collectors). */
  readonly isOpen: boolean;
  /** Whether the store can write (store/faults.ts); a store without it is assumed writable. Cheap, no I/O. */
  health?(): { writable: boolean; error: string | null; since: number | null };
  /** After a fault: a small write that tells whether the store can write again. */
  probe?(): Promise<boolean>;

  insertDeploy(r: Omit<DeployRow, 'watch' | 'verdict' | 'decided_at' | 'updated_at'>): Promise<void>;
  getDeploy(id: string): Promise<DeployRow | undefined>;
  /** A deploy's status and reason only: the gate's read, without the judge's state getDeploy joins in. */
  deployGate(id: string): Promise<Pick<DeployRow, 'status' | 'reason'> | undefined>;
  /**
   * Shared stores (several replicas): onChange(id) whenever any process commits a change of a deploy's
   * status or reason; onLive(false) while changes may be missed (then onLive(true) again). Returns stop.
   */
  subscribeDeploys?(onChange: (id: string) => void, onLive: (live: boolean) => void): () => void;
  /** Newest first. */
  listDeploys(status?: string, limit?: number): Promise<DeployRow[]>;
  /** Deploys started in [from, to] (epoch seconds): the candidates for blame. */
  deploysStartedBetween(from: number, to: number): Promise<DeployRow[]>;
  updateDeploy(id: string, fields: DeployFields, now: number): Promise<void>;

  addStage(r: Omit<StageRow, 'seq'>): Promise<void>;
  stages(deployId: string): Promise<StageRow[]>;

  /** The judge's state after a tick; `watch` on DeployRow reads it back. */
  saveWatch(deployId: string, state: string, now: number): Promise<void>;

  /**
   * Watch state in proportion to change (watch/tick-log.ts), in one transaction: appends tick records,
   * replaces whole states (checkpoints, as saveWatch), and drops the records with seq <= dropThrough (which
   * every open watch's checkpoint has superseded). Returns the highest seq ever appended.
   */
  saveWatchTicks(p: WatchTicksWrite): Promise<number>;
  /**
   * Every tick record, in append order: a restart replays them onto the checkpoints. With deployIds, only
   * those watches' records (a replica taking watches over).
   */
  watchTicks(deployIds?: readonly string[]): Promise<WatchTickRow[]>;

  // The on-call page's sessions (migration 42): shared by every replica, gone once expired.
  /** Stores a new session; drops the expired ones and, beyond `keep` sessions, the oldest. */
  createSession(s: SessionRow, now: number, keep: number): Promise<void>;
  /** The session unless it expired by now. */
  session(id: string, now: number): Promise<SessionRow | undefined>;
  setSessionFlash(id: string, flash: string | null): Promise<void>;
  deleteSession(id: string): Promise<void>;

  /** Replaces the per-signal verdicts of a deploy. */
  saveVerdicts(deployId: string, rows: Omit<VerdictRow, 'deploy_id'>[]): Promise<void>;
  verdicts(deployId: string): Promise<VerdictRow[]>;

  addApproval(a: ApprovalRow): Promise<void>;
  approvals(deployId: string, phase?: ApprovalPhase): Promise<ApprovalRow[]>;

  addOverride(o: Omit<OverrideRow, 'id'>): Promise<void>;
  overrides(deployId: string): Promise<OverrideRow[]>;

  /** Appends to the hash-chained audit log (see auditHash in audit-hash.ts): one chain, even across replicas. */
  /**
   * Inside a transaction the entry may be written when it commits (PostgreSQL: appends are serialised on
   * the chain's head, taken last so that no lock order can deadlock); it commits or rolls back with it.
   */
  appendAudit(at: number, actor: string, action: string, deployId: string | null, detail: unknown): Promise<unknown>;
  audit(afterSeq?: number, limit?: number, deployId?: string): Promise<AuditRow[]>;

  /** Queues an effect once per key; false when the key was already queued. */
  enqueue(
    key: string,
    kind: string,
    deployId: string | null,
    payload: unknown,
    now: number,
    dueAt?: number,
    meta?: EffectMeta,
  ): Promise<boolean>;
  dueEffects(now: number, limit?: number): Promise<OutboxRow[]>;
  effects(deployId: string): Promise<OutboxRow[]>;
  finishEffect(id: number, status: 'done' | 'failed' | 'skipped', now: number, error?: string | null): Promise<void>;
  retryEffect(id: number, at: number, error: string): Promise<void>;
  effectByKey(key: string): Promise<OutboxRow | undefined>;
  /** Destinations with effects due now (and due refreshes). */
  dueLanes(now: number): Promise<string[]>;
  dueInLane(lane: string, now: number, limit?: number): Promise<OutboxRow[]>;
  /** Records that an attempt starts now (committed before the request goes out). */
  claimEffect(id: number, now: number): Promise<void>;
  /** A failed attempt: counts it, remembers when failures began, schedules the next one. */
  failAttempt(id: number, now: number, nextAt: number, error: string): Promise<void>;
  markEscalated(id: number): Promise<void>;
  /** Delivered: done now, sent once more, and (for a firing Alertmanager alert) when to post it again. */
  delivered(id: number, now: number, refreshAt: number | null): Promise<void>;
  /** A refresh that failed: try it again at `at`. */
  rescheduleRefresh(id: number, at: number, error: string): Promise<void>;
  /** A delivered resolve: its trigger's retries and refreshes stop. */
  supersede(pageKey: string, route: string | null, provider: string | null, now: number): Promise<void>;
  /** Trigger rows of pages whose key ends with suffix (an Alertmanager alert's pages). */
  pagesEndingWith(suffix: string): Promise<OutboxRow[]>;
  /** Pending effects and the oldest one's creation time, for /metrics. */
  outboxBacklog(): Promise<{ pending: number; oldest: number | null }>;

  /** The deploy row, locked until the caller's transaction ends (PostgreSQL: FOR UPDATE): one decision at a time. */
  lockDeploy(id: string): Promise<DeployRow | undefined>;

  // Several replicas on one store (migration 30). Lease times are the callers' clocks, epoch seconds.
  /** Several processes may use this store at once (PostgreSQL): watches and outbox lanes go under leases. */
  readonly shared: boolean;
  /**
   * One replica's lease round, in one transaction. A watch's lease lives as long as its holder's heartbeat
   * (one row per replica, renewed here until now + ttl), so a round writes one row however many watches it
   * holds. A heartbeat found lapsed is deleted (its replica is dead: its watches are free) by whichever
   * replica sees it first; the replica itself, when it comes back, finds its heartbeat gone (`lapsed`) and
   * starts afresh. Then: leases of closed watches dropped; free watches taken up to its fair share, and
   * leases beyond it released. The share: open watches / live replicas, the remainder going one each to the
   * first replicas by id (4 over 3 replicas is 2/1/1, never 2/2/0). Returns what it holds until now + ttl.
   */
  leaseWatches(holder: string, now: number, ttl: number): Promise<WatchLeases>;
  /**
   * Inside a transaction: whether holder's heartbeat is live at now, held (PostgreSQL: FOR SHARE) until the
   * transaction ends, so that no other replica can declare it dead and take its watches before the
   * transaction's writes (a decision) commit.
   */
  replicaLive(holder: string, now: number): Promise<boolean>;
  /**
   * Between lease rounds: renews holder's heartbeat until now + ttl while it is still live; false when it
   * lapsed or another replica declared it dead (the next lease round starts it afresh). One row.
   */
  renewHeartbeat(holder: string, now: number, ttl: number): Promise<boolean>;
  /** Of these deploys, the ones whose row was written at or after `since` (a stage posted to another replica). */
  deploysUpdatedSince(ids: readonly string[], since: number): Promise<{ id: string; deploy: string }[]>;
  /** A replica stopping: its watches and lanes are free at once, and it no longer counts as live. */
  releaseLeases(holder: string): Promise<void>;
  /** One worker at a time per outbox lane across replicas: true when holder has it until now + ttl. */
  claimLane(lane: string, holder: string, now: number, ttl: number): Promise<boolean>;
  releaseLane(lane: string, holder: string): Promise<void>;

  // The audit log's proofs (audit/verifier.ts, audit/setup.ts).
  /** Where the store lives, for messages and the default audit key file (a URL's password is never in it). */
  readonly path: string;
  /** The newest audit entry this process appended and committed (the head as this process knows it). */
  readonly appendedHead: { seq: number; hash: string } | null;
  /** Starts signing checkpoints; signs the ones missing for entries written before. Returns how many. */
  setAuditSigner(signer: AuditSigner | null): Promise<number>;
  /** The newest audit entry in the store. */
  auditHead(): Promise<{ seq: number; hash: string } | null>;
  auditAt(seq: number): Promise<AuditRow | undefined>;
  /** The highest sequence number ever handed out (kept after deletes). */
  auditSequence(): Promise<number>;
  /** Signed checkpoints with seq in (after, upTo]. */
  checkpoints(after?: number, upTo?: number): Promise<Checkpoint[]>;
}

export interface WatchLeases {
  /** deploy ids whose watch this replica judges until now + ttl */
  held: string[];
  /**
   * the ones among them taken this round (new, from a dead replica, or its own again after its heartbeat
   * lapsed): whatever the taker had of them in memory is stale, they resume from the store
   */
  taken: string[];
  /** leases given back this round (beyond the fair share) */
  released: string[];
  /** live replicas, this one included */
  replicas: number;
}

/** Signs audit checkpoints (audit/checkpoint.ts); `onCheckpoint` runs after the checkpoint committed. */
export interface AuditSigner {
  key: Buffer;
  every: number;
  onCheckpoint?(c: Checkpoint): void;
}

/** One audit entry as the domain writes it; the sink adds the time, the sequence and the hash chain. */
export interface AuditEntry {
  actor: string;
  action: string;
  deployId: string | null;
  detail?: unknown;
}

/**
 * Where every decision, approval, override and action is recorded. `append` writes through the same
 * store, so an entry joins the caller's transaction and commits with what it records.
 */
export interface AuditSink {
  append(e: AuditEntry): Promise<void>;
}
