// The deploy service: registration, stages, the watch of each deploy, the gate, approvals, overrides and
// the audit trail. The judge decides; policy (src/policy/lifecycle.ts) says what that means for the
// pipeline; this reads the store, asks policy, and writes the answer in one transaction.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Config } from '../config/schema.js';
import { toDeploy, type Deploy, type DeployInput } from '../model/deploy.js';
import { instantProblem, validateDeployInput } from '../model/validate.js';
import { countingApprovals, refuseApproval, type Approval, type Role } from '../policy/approvals.js';
import { identitySet } from '../policy/identity.js';
import { activeFreeze } from '../policy/freeze.js';
import {
  admit,
  afterVerdict,
  CLOSED,
  gateOf,
  overrideTarget,
  promotionNeed,
  release,
  type Need,
} from '../policy/lifecycle.js';
import type { MetricSource } from '../sources/types.js';
import { storeAuditSink } from '../store/audit-sink.js';
import { isStoreFault, LeasesLapsed } from '../store/faults.js';
import type { ApprovalRow, AuditSink, DeployRow, Store } from '../store/types.js';
import { blindness, signalVerdicts, type DeployWatch } from '../watch/deploy-watch.js';
import { restoreWatch, serializeWatch } from '../watch/persist.js';
import type { Observer } from '../watch/observer.js';
import { Watcher, type Logger } from '../watch/watcher.js';
import { AppError, badRequest, conflict, forbidden, notFound } from './errors.js';
import { GateView } from './gate-view.js';
import { WatchLog } from './watch-log.js';
import { CHECKPOINT_TICKS, decodeRecord } from '../watch/tick-log.js';
import { iso, type DeployStatus, type DeployView } from './view.js';

export interface Actor {
  name: string;
  role: Role;
  /** the holder's other identities (login, e-mail) from the token's `identities`: the author check covers all */
  identities?: readonly string[];
}

/** Approval rows as the policy compares them: each with the approver's identities. */
function approvalsOf(rows: readonly ApprovalRow[]): Approval[] {
  return rows.map((r) => ({
    approver: r.approver,
    role: r.role,
    identities: JSON.parse(r.identities ?? '[]') as string[],
  }));
}

export interface GateAnswer {
  httpStatus: 200 | 409 | 423;
  decision: 'proceed' | 'wait' | 'halt';
  status: DeployStatus;
  reason: string;
  retryAfter?: number;
}

/** A deploy changed status through a decision: the judge's, a human's (approval, override), the pipeline's. */
export interface DecisionEvent {
  deploy: Deploy;
  /** halted | passed | awaiting_approval | rolled_back | ended */
  status: DeployStatus;
  reason: string;
  /** the judge's final state when the judge decided; null for a human's or the pipeline's decision */
  watch: DeployWatch | null;
  /** who decided: 'navigator' for the judge, else the caller's token name */
  actor?: string;
  at: number;
}

export interface ServiceEvents {
  /**
   * Inside the transaction that records the decision: write outbox rows here, through the same store, and
   * they commit with it (a crash never leaves a decision without its effects). Awaited; an exception
   * is logged and does not undo the decision.
   */
  decisionInTransaction?(e: DecisionEvent): void | Promise<void>;
  /** After the decision committed: logs, metrics, waking a worker. */
  decision?(e: DecisionEvent): void | Promise<void>;
  /** a deploy was registered (not called for a repeated registration) */
  registered?(deploy: Deploy): void | Promise<void>;
  /** a watch could not see its data this tick (the source failed): it stays watching, blind */
  blind?(deployId: string, error: Error): void;
  /** a tick finished and was persisted */
  tick?(seconds: number, watches: number): void | Promise<void>;
  /** a replica's lease round at the start of a tick */
  leases?(round: LeaseRound): void;
}

export interface ServiceLog extends Logger {
  debug?(obj: object, msg: string): void;
}

export interface DeployServiceDeps {
  config: Config;
  store: Store;
  source: MetricSource;
  now: () => number;
  log?: ServiceLog;
  /** where decisions, approvals and overrides are recorded; default: the store's audit table */
  audit?: AuditSink;
  /**
   * One of several replicas on a shared store: each tick judges only the watches this replica holds a
   * lease on (store.leaseWatches), for `lease` seconds unless renewed by the next tick.
   */
  replica?: { id: string; lease: number; info?(obj: object, msg: string): void };
  /** how ticks read the source (watch/observer.ts); default: on this thread, from `source` */
  observer?: Observer;
}

/** What a replica's lease round changed (for metrics and logs). */
export interface LeaseRound {
  held: number;
  taken: string[];
  released: string[];
  lost: string[];
  replicas: number;
}

const SYSTEM: Actor = { name: 'navigator', role: 'admin' };
/** How far from now a live deploy's times may be: history a pipeline may still report, and clock skew. */
const MAX_PAST = 5 * 366 * 86_400;
const MAX_FUTURE = 86_400;

/** Epoch seconds of an API timestamp; a 400 naming the field unless it is a real instant near now. */
function liveInstant(field: string, value: string, now: number): number {
  const problem = instantProblem(value);
  if (problem) throw badRequest(field, problem);
  const t = Date.parse(value) / 1000;
  if (t < now - MAX_PAST) throw badRequest(field, `is more than 5 years in the past (${value})`);
  if (t > now + MAX_FUTURE) throw badRequest(field, `is more than a day in the future (${value})`);
  return t;
}

export class DeployService {
  readonly watcher: Watcher;
  private readonly listeners: ServiceEvents[] = [];
  private readonly audit: AuditSink;
  private decided: DeployWatch[] = [];
  /**
   * Watches opened and closed inside the running transaction: undone in memory when it does not commit.
   * Per transaction (requests overlap now that the store is asynchronous), carried along its awaits.
   */
  private readonly txWatches = new AsyncLocalStorage<{ opened: string[]; closed: DeployWatch[] }>();
  /** the gate's answers from memory, forgotten by every write of a deploy row (gate-view.ts) */
  private readonly gates: GateView;
  /**
   * What each open watch's ticks changed and have not yet written (watch-log.ts). On a shared store too:
   * a replica appends its held watches' records, fenced by its heartbeat (a replica declared dead writes
   * nothing), checkpoints and drops only its own watches' records, and a replica taking a watch over
   * replays its records after its checkpoint (resumeRow).
   */
  private readonly watchLog: WatchLog;

  /** When this replica's leases lapse unless renewed (deps.now() seconds); no leases: never. */
  private leaseUntil = Infinity;
  /** when this replica's last lease round was sent (deps.now() seconds) */
  private lastRound: number | null = null;

  constructor(private readonly deps: DeployServiceDeps) {
    // One process: every write of a deploy row goes through this service and forgets its entry, so the view
    // never expires (a 1 s expiry made nearly every gate of 10,000 polled deploys read the row). Replicas:
    // another one may decide a deploy, so an entry is believed for a second (gate-view.ts).
    this.gates = new GateView(deps.now, deps.replica ? 1 : Infinity);
    // Replicas: the other replicas' decisions reach the view through the store's change feed when it has one.
    if (deps.replica && deps.store.subscribeDeploys)
      deps.store.subscribeDeploys(
        (id) => this.gates.forget(id),
        (live) => this.gates.feed(live),
      );
    this.watchLog = new WatchLog(CHECKPOINT_TICKS);
    this.deps = { ...deps, store: this.gates.watching(deps.store) };
    this.audit = deps.audit ?? storeAuditSink(deps.store, deps.now);
    this.watcher = new Watcher({
      config: deps.config,
      source: deps.source,
      log: deps.log,
      ...(deps.observer ? { observer: deps.observer } : {}),
      events: {
        decided: (w) => this.decided.push(w),
        changed: (w, record) => this.watchLog.changed(w.deploy.id, record),
        blind: (w, err) => this.listeners.forEach((l) => l.blind?.(w.deploy.id, err)),
      },
    });
  }

  on(events: ServiceEvents): () => void {
    this.listeners.push(events);
    return () => {
      const i = this.listeners.indexOf(events);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Calls fn for every decision (halted, passed, awaiting_approval, rolled_back, ended). With
   * `inTransaction`, fn runs inside the transaction that records it (for durable effects); otherwise after
   * the commit. Returns a function that detaches fn.
   */
  onDecision(
    fn: (deploy: Deploy, decision: DecisionEvent) => void | Promise<void>,
    o: { inTransaction?: boolean } = {},
  ): () => void {
    const call = (e: DecisionEvent) => fn(e.deploy, e);
    return this.on(o.inTransaction ? { decisionInTransaction: call } : { decision: call });
  }

  /**
   * One store transaction whose in-memory side effects follow its fate: a watch opened inside it is closed
   * again, and a watch closed inside it is resumed, when the transaction does not commit (a full disk fails
   * the commit after every statement ran). Without this a failed registration left a phantom watch whose
   * rows never existed, and every later tick failed on it.
   */
  private async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.txWatches.getStore()) return this.deps.store.transaction(fn);
    const mark = { opened: [] as string[], closed: [] as DeployWatch[] };
    try {
      return await this.txWatches.run(mark, () => this.deps.store.transaction(fn));
    } catch (e) {
      for (const id of mark.opened) this.watcher.close(id);
      for (const w of mark.closed) this.watcher.resume(w);
      throw e;
    }
  }

  /**
   * Inside a transaction: the deploy row, locked, still has the status the request was checked against
   * (another replica may have decided meanwhile); else 409 and nothing is written.
   */
  private async unchanged(id: string, status: string): Promise<void> {
    const now = await this.deps.store.lockDeploy(id);
    if (now && now.status !== status)
      throw conflict('DEPLOY_CHANGED', `deploy ${id} became ${now.status} meanwhile; look again and retry`);
  }

  /** Stops a watch; inside `tx`, resumed again if the transaction does not commit. */
  private closeWatch(id: string): void {
    const w = this.watcher.get(id);
    if (w) this.txWatches.getStore()?.closed.push(w);
    this.watcher.close(id);
  }

  /**
   * A replica's lease round: renews its watches, takes its share of the free or expired ones (resumed from
   * their persisted state), and lets go of the ones it no longer holds. Until it succeeds again no tick of
   * this replica judges anything: a replica cut off from the database stops judging, and its leases lapse.
   */
  async syncLeases(): Promise<LeaseRound | null> {
    const r = this.deps.replica;
    if (!r) return null;
    const sent = this.deps.now();
    let leases;
    try {
      leases = await this.deps.store.leaseWatches(r.id, sent, r.lease);
    } catch (e) {
      this.leaseUntil = Math.min(this.leaseUntil, sent + r.lease);
      throw e;
    }
    this.leaseUntil = sent + r.lease;
    const held = new Set(leases.held);
    const lost: string[] = [];
    // A watch taken this round is resumed from the store even when it is in memory: this replica's copy is
    // stale (its heartbeat lapsed meanwhile, and another replica may have judged it since).
    const taken = new Set(leases.taken);
    this.decided = this.decided.filter((w) => held.has(w.deploy.id) && !taken.has(w.deploy.id));
    for (const w of this.watcher.watches()) {
      if (held.has(w.deploy.id) && !taken.has(w.deploy.id)) continue;
      this.watcher.close(w.deploy.id);
      this.watchLog.forget(w.deploy.id);
      if (!leases.released.includes(w.deploy.id) && !leases.held.includes(w.deploy.id)) lost.push(w.deploy.id);
    }
    await this.refreshStages(
      leases.held.filter((id) => this.watcher.get(id)),
      sent - r.lease,
    );
    this.lastRound = sent;
    const fresh = leases.held.filter((id) => !this.watcher.get(id));
    const records = new Map<string, string[]>();
    if (fresh.length)
      for (const t of await this.deps.store.watchTicks(fresh)) {
        let list = records.get(t.deploy_id);
        if (!list) records.set(t.deploy_id, (list = []));
        list.push(t.record);
      }
    for (const id of fresh) {
      const row = await this.deps.store.getDeploy(id);
      if (row?.status === 'watching') this.resumeRow(row, records.get(id) ?? []);
    }
    const round: LeaseRound = {
      held: this.watcher.watches().length,
      taken: leases.taken,
      released: leases.released,
      lost,
      replicas: leases.replicas,
    };
    if (leases.taken.length || leases.released.length || lost.length)
      r.info?.({ replica: r.id, ...round }, 'watch leases changed');
    for (const l of this.listeners) l.leases?.(round);
    return round;
  }

  /**
   * Between ticks (a timer, every third of the lease): the heartbeat alone, one row, so the lease can be
   * short (a dead replica's watches move soon) without a slow tick losing them. A heartbeat found lapsed
   * stops this replica recording until its next lease round starts it afresh.
   */
  async heartbeat(): Promise<void> {
    const r = this.deps.replica;
    if (!r || !Number.isFinite(this.leaseUntil) || this.leaseUntil <= 0) return;
    const sent = this.deps.now();
    let ok = false;
    try {
      ok = await this.deps.store.renewHeartbeat(r.id, sent, r.lease);
    } catch {
      return; // unreachable: the leases lapse on their own
    }
    if (ok) this.leaseUntil = Math.max(this.leaseUntil, sent + r.lease);
    else this.leaseUntil = Math.min(this.leaseUntil, sent);
  }

  /**
   * Stages posted to another replica (a pipeline behind a load balancer) reach the watch this replica
   * judges: deploy rows written since its last lease round (less a lease, for the clocks) are read again,
   * and a watch whose stages changed checkpoints at its next write, so its records replay with the stages
   * they were judged with.
   */
  private async refreshStages(kept: string[], floor: number): Promise<void> {
    if (this.lastRound === null || kept.length === 0) return;
    for (const row of await this.deps.store.deploysUpdatedSince(kept, Math.min(this.lastRound, floor))) {
      const w = this.watcher.get(row.id);
      if (!w) continue;
      const stages = (JSON.parse(row.deploy) as Deploy).stages;
      if (JSON.stringify(stages) === JSON.stringify(w.deploy.stages)) continue;
      w.deploy.stages = stages;
      this.watchLog.changed(row.id, null);
    }
  }

  /** Whether this replica may judge and record now: its leases have not lapsed. */
  private leasesLive(): boolean {
    // A tenth of the lease as margin: the record must commit before another replica may take over.
    const margin = (this.deps.replica?.lease ?? 0) / 10;
    return this.deps.now() < this.leaseUntil - margin;
  }

  /** A stopping replica hands its watches and lanes over at once. */
  async releaseLeases(): Promise<void> {
    const r = this.deps.replica;
    if (!r) return;
    this.leaseUntil = 0;
    for (const w of this.watcher.watches()) this.watcher.close(w.deploy.id);
    await this.deps.store.releaseLeases(r.id);
  }

  /** A watch taken over: its checkpoint, its tick records after it replayed; its next write a checkpoint. */
  private resumeRow(row: DeployRow, records: string[]): void {
    const deploy = JSON.parse(row.deploy) as Deploy;
    try {
      if (!row.watch) {
        this.watcher.watch(deploy);
        return;
      }
      let w = restoreWatch(row.watch, deploy);
      try {
        for (const text of records) this.watcher.replay(w, decodeRecord(text));
      } catch (err) {
        this.deps.log?.error({ deploy: row.id, err }, 'cannot replay the tick records; resuming from the checkpoint');
        w = restoreWatch(row.watch, deploy);
      }
      this.watcher.resume(w);
      this.watchLog.restored(row.id, records.length);
      this.watchLog.changed(row.id, null);
    } catch (err) {
      // A service removed from the config: the deploy stays watching (and blind) rather than crash the start.
      this.deps.log?.error({ deploy: row.id, err }, 'cannot resume watch');
    }
  }

  /** Resumes every open watch from the store: a restart continues where it stopped. */
  async restore(): Promise<number> {
    if (this.deps.replica) return (await this.syncLeases())?.held ?? 0;
    let n = 0;
    // Each watch: its checkpoint, then its tick records after it, replayed through the judge (watch-log.ts).
    const records = new Map<string, string[]>();
    for (const r of await this.deps.store.watchTicks()) {
      let list = records.get(r.deploy_id);
      if (!list) records.set(r.deploy_id, (list = []));
      list.push(r.record);
    }
    for (const row of await this.deps.store.listDeploys('watching', 1_000_000)) {
      const deploy = JSON.parse(row.deploy) as Deploy;
      try {
        if (!row.watch) {
          this.watcher.watch(deploy);
          n++;
          continue;
        }
        let w = restoreWatch(row.watch, deploy);
        const list = records.get(row.id) ?? [];
        try {
          for (const text of list) this.watcher.replay(w, decodeRecord(text));
        } catch (err) {
          // Never resume from a state that may be wrong: the checkpoint, re-judged from the source.
          this.deps.log?.error({ deploy: row.id, err }, 'cannot replay the tick records; resuming from the checkpoint');
          w = restoreWatch(row.watch, deploy);
        }
        this.watcher.resume(w);
        this.watchLog.restored(row.id, list.length);
        n++;
      } catch (err) {
        // A service removed from the config: the deploy stays watching (and blind) rather than crash the start.
        this.deps.log?.error({ deploy: row.id, err }, 'cannot resume watch');
      }
    }
    return n;
  }

  async register(body: unknown, actor: Actor): Promise<{ created: boolean; view: DeployView }> {
    const v = validateDeployInput(body);
    if (!v.ok) {
      const p = v.problems[0] as { path: string; message: string };
      throw badRequest(p.path || 'body', p.message);
    }
    const input: DeployInput = v.value;
    const existing = await this.deps.store.getDeploy(input.id);
    if (existing) return { created: false, view: await this.toView(existing) };
    if (input.startedAt !== undefined) liveInstant('startedAt', input.startedAt, this.deps.now());
    input.stages.forEach((s, i) => liveInstant(`stages.${i}.at`, s.at, this.deps.now()));
    const service = this.deps.config.services[input.service];
    if (!service)
      throw badRequest(
        'service',
        `"${input.service}" is not a configured service (${Object.keys(this.deps.config.services).join(', ')})`,
      );
    const now = this.deps.now();
    const deploy = toDeploy(input, now);
    if (deploy.strategy === 'canary' && deploy.stages.length === 0)
      deploy.stages.push({ at: deploy.startedAt, weight: Math.min(0.1, service.maxFirstWeight) });
    const { status, hold, reason } = admit(deploy, service, this.deps.config.freezes, now);
    await this.tx(async () => {
      await this.deps.store.insertDeploy({
        id: deploy.id,
        service: deploy.service,
        input: JSON.stringify(body),
        deploy: JSON.stringify(deploy),
        status,
        reason,
        hold,
        created_at: now,
      });
      for (const s of deploy.stages)
        await this.deps.store.addStage({
          deploy_id: deploy.id,
          at: s.at,
          weight: s.weight,
          actor: actor.name,
          created_at: now,
        });
      await this.audit.append({
        actor: actor.name,
        action: 'register',
        deployId: deploy.id,
        detail: { status, reason, change: deploy.change },
      });
      if (status === 'watching') await this.startWatch(deploy, now);
    });
    for (const l of this.listeners) await l.registered?.(deploy);
    return { created: true, view: await this.view(deploy.id) };
  }

  /** Opens the watch and saves its first state; call inside the transaction that makes the deploy watching. */
  private async startWatch(deploy: Deploy, now: number): Promise<void> {
    const w = this.watcher.watch(deploy);
    this.txWatches.getStore()?.opened.push(deploy.id);
    try {
      await this.deps.store.saveWatch(deploy.id, serializeWatch(w), now);
    } catch (e) {
      this.watcher.close(deploy.id);
      throw e;
    }
  }

  async addStage(id: string, weight: unknown, actor: Actor, at?: unknown): Promise<DeployView> {
    if (typeof weight !== 'number' || !(weight >= 0 && weight <= 1))
      throw badRequest('weight', 'must be a number from 0 to 1');
    const row = await this.row(id);
    if (CLOSED.has(row.status as DeployStatus))
      throw conflict('DEPLOY_CLOSED', `deploy ${id} is ${row.status}; no more stages`);
    const now = this.deps.now();
    let t = now;
    if (at !== undefined) {
      if (typeof at !== 'string') throw badRequest('at', 'must be an ISO 8601 time');
      t = liveInstant('at', at, now);
    }
    const deploy = JSON.parse(row.deploy) as Deploy;
    deploy.stages.push({ at: t, weight });
    deploy.stages.sort((a, b) => a.at - b.at);
    const w = this.watcher.get(id);
    // The whole state is saved with the new stages: the records before it are in it (watch-log.ts).
    const mark = this.watchLog.mark(id);
    await this.tx(async () => {
      await this.deps.store.updateDeploy(id, { deploy: JSON.stringify(deploy) }, now);
      await this.deps.store.addStage({ deploy_id: id, at: t, weight, actor: actor.name, created_at: now });
      if (w) {
        w.deploy.stages = deploy.stages;
        await this.deps.store.saveWatch(id, serializeWatch(w), now);
      }
      await this.audit.append({ actor: actor.name, action: 'stage', deployId: id, detail: { weight, at: iso(t) } });
    });
    if (w) this.watchLog.saved(id, mark);
    return await this.view(id);
  }

  /**
   * Judges every open watch up to `t`, saves every watch's state, then records the decisions (with the
   * listeners' outbox rows) in one transaction, and lets deploys out of freeze windows that have ended.
   */
  async tick(t: number): Promise<void> {
    const started = process.hrtime.bigint();
    // After a store fault, find out whether it can write again even when no watch is open to write.
    if (this.deps.store.health && !this.deps.store.health().writable) await this.deps.store.probe?.();
    await this.syncLeases();
    await this.watcher.tick(t);
    if (this.deps.replica && !this.leasesLive()) {
      // The tick outlasted the leases: another replica may hold these watches now. Record nothing.
      this.decided = [];
      throw new Error('the watch leases lapsed during the tick; nothing of it was recorded');
    }
    const decided = this.decided;
    this.decided = [];
    const now = this.deps.now();
    const events: DecisionEvent[] = [];
    try {
      // What each open watch's ticks changed (a record a tick, a whole state every CHECKPOINT_TICKS:
      // watch-log.ts), in chunks of transactions with yields between them, so persisting thousands of
      // watches does not hold up the API. A crash between chunks leaves some watches one tick behind: they
      // catch up from the source on restart. Decisions go in one transaction.
      const open = this.watcher.watches();
      this.watchLog.prune((id) => this.watcher.get(id) !== undefined);
      await this.watchLog.persist(this.deps.store, open, now, {
        ...(this.deps.replica ? { holder: this.deps.replica.id } : {}),
        isOpen: (id) => this.watcher.get(id) !== undefined,
        exists: async (id) => (await this.deps.store.getDeploy(id)) !== undefined,
        dropped: (id) => {
          this.watcher.close(id);
          this.deps.log?.error({ deploy: id }, 'dropped a watch whose deploy is not in the store');
        },
        isFault: (e) => isStoreFault(e) || e instanceof LeasesLapsed,
      });
      await this.tx(async () => {
        // Fenced like the records: a replica declared dead decides nothing (another one judges these now).
        const r = this.deps.replica;
        if (r && decided.length && !(await this.deps.store.replicaLive(r.id, now))) throw new LeasesLapsed(r.id);
        for (const w of decided) {
          const e = await this.applyVerdict(w, now);
          if (e) events.push(e);
        }
        await this.releaseFrozen(now);
      });
    } catch (err) {
      // Not recorded: keep the decisions for the next tick rather than lose them.
      this.decided.unshift(...decided);
      throw err;
    }
    if (this.deps.replica)
      this.deps.log?.debug?.(
        { replica: this.deps.replica.id, tick: t, watches: this.watcher.watches().map((w) => w.deploy.id) },
        'tick recorded',
      );
    for (const e of events) await this.emit(e);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const l of this.listeners) await l.tick?.(seconds, this.watcher.watches().length);
  }

  private async applyVerdict(w: DeployWatch, now: number): Promise<DecisionEvent | null> {
    // Locked until the decision commits: a human's override on another replica waits, then sees it.
    const row = await this.deps.store.lockDeploy(w.deploy.id);
    if (!row || row.status !== 'watching') return null;
    const outcome = w.status === 'watching' ? 'inconclusive' : w.status;
    const need = this.promotionNeed(w.deploy, outcome);
    const have = countingApprovals(
      w.deploy.change,
      approvalsOf(await this.deps.store.approvals(w.deploy.id, 'promote')),
    );
    const { status, reason } = afterVerdict(outcome, w.reason, need, have);
    const verdicts = signalVerdicts(w);
    const failing = verdicts.find((s) => s.signal === w.failedSignal);
    await this.deps.store.saveWatch(w.deploy.id, serializeWatch(w), now);
    await this.deps.store.saveVerdicts(
      w.deploy.id,
      verdicts.map((v) => ({
        signal: v.signal,
        outcome: v.status,
        decided_at: v.decidedAt,
        evidence: v.evidence ? JSON.stringify(v.evidence) : null,
        recorded_at: now,
      })),
    );
    await this.deps.store.updateDeploy(
      w.deploy.id,
      {
        status,
        reason,
        verdict: JSON.stringify({ outcome, signal: w.failedSignal, evidence: failing?.evidence ?? null }),
        decided_at: w.decidedAt,
      },
      now,
    );
    await this.audit.append({
      actor: SYSTEM.name,
      action: w.status === 'fail' ? 'halt' : `verdict:${outcome}`,
      deployId: w.deploy.id,
      detail: { status, reason, signal: w.failedSignal, evidence: failing?.evidence ?? null },
    });
    return await this.emitInTransaction({ deploy: w.deploy, status, reason, watch: w, actor: SYSTEM.name, at: now });
  }

  /** Deploys held by a freeze window that has ended: they start (or wait for their plan's approval). */
  private async releaseFrozen(now: number): Promise<void> {
    for (const row of await this.deps.store.listDeploys('pending_approval', 10_000)) {
      if (row.hold !== 'freeze' || activeFreeze(this.deps.config.freezes, row.service, now)) continue;
      const deploy = JSON.parse(row.deploy) as Deploy;
      const service = this.deps.config.services[row.service];
      if (!service) continue;
      const next = release(deploy, service);
      if (next.status === 'watching') {
        startTimelineAt(deploy, now);
        await this.deps.store.updateDeploy(
          row.id,
          {
            deploy: JSON.stringify(deploy),
            status: 'watching',
            hold: null,
            reason: 'the freeze window ended; watching',
          },
          now,
        );
        await this.startWatch(deploy, now);
      } else {
        await this.deps.store.updateDeploy(row.id, { hold: next.hold, reason: next.reason }, now);
      }
      await this.audit.append({
        actor: SYSTEM.name,
        action: 'freeze-over',
        deployId: row.id,
        detail: { status: next.status },
      });
    }
  }

  private promotionNeed(deploy: Deploy, outcome: string): Need {
    return promotionNeed(this.deps.config.services[deploy.service], deploy.change, outcome);
  }

  async approve(id: string, actor: Actor, comment: unknown): Promise<DeployView> {
    if (comment !== undefined && typeof comment !== 'string') throw badRequest('comment', 'must be a string');
    const row = await this.row(id);
    const deploy = JSON.parse(row.deploy) as Deploy;
    const status = row.status as DeployStatus;
    if (actor.role !== 'approver' && actor.role !== 'admin') {
      throw forbidden(
        'FORBIDDEN_ROLE',
        (refuseApproval(actor.name, actor.role, deploy.change, []) ?? { message: '' }).message,
      );
    }
    if (CLOSED.has(status)) throw conflict('DEPLOY_CLOSED', `deploy ${id} is ${status}; there is nothing to approve`);
    if (status === 'passed') throw conflict('ALREADY_PASSED', `deploy ${id} has already passed`);
    if (status === 'pending_approval' && row.hold === 'freeze') {
      throw conflict(
        'FROZEN',
        `${row.reason}; an approval does not lift a freeze (POST /v1/deploys/${id}/overrides with action "proceed")`,
      );
    }
    // An approval of a held plan lets it start; any other approval counts toward promotion (given while
    // watching, it is an approval in advance: the judge must still find no regression).
    const phase = status === 'pending_approval' ? 'start' : 'promote';
    const refusal = refuseApproval(
      actor.name,
      actor.role,
      deploy.change,
      approvalsOf(await this.deps.store.approvals(id, phase)),
      actor.identities ?? [],
    );
    if (refusal)
      throw refusal.code === 'ALREADY_APPROVED'
        ? conflict(refusal.code, refusal.message)
        : forbidden(refusal.code, refusal.message);
    const now = this.deps.now();
    let event: DecisionEvent | null = null;
    await this.tx(async () => {
      await this.unchanged(id, row.status);
      await this.deps.store.addApproval({
        deploy_id: id,
        approver: actor.name,
        role: actor.role,
        phase,
        comment: comment ?? '',
        at: now,
        identities: JSON.stringify(identitySet([actor.name, ...(actor.identities ?? [])])),
      });
      await this.audit.append({
        actor: actor.name,
        action: 'approve',
        deployId: id,
        detail: { phase, comment: comment ?? '' },
      });
      if (phase === 'start') {
        // The plan starts now: its timeline starts at the approval, since nothing rolled out before.
        startTimelineAt(deploy, now);
        await this.deps.store.updateDeploy(
          id,
          {
            deploy: JSON.stringify(deploy),
            status: 'watching',
            hold: null,
            reason: `approved by ${actor.name}; watching`,
          },
          now,
        );
        await this.startWatch(deploy, now);
      } else if (status === 'awaiting_approval') {
        const outcome = (JSON.parse(row.verdict ?? '{}') as { outcome?: string }).outcome ?? 'pass';
        const need = this.promotionNeed(deploy, outcome);
        const approvals = await this.deps.store.approvals(id, 'promote');
        const have = countingApprovals(deploy.change, approvalsOf(approvals));
        if (have >= need.count) {
          const reason = `approved by ${approvals.map((a) => a.approver).join(' and ')}`;
          await this.deps.store.updateDeploy(id, { status: 'passed', reason }, now);
          event = await this.emitInTransaction({
            deploy,
            status: 'passed',
            reason,
            watch: null,
            actor: actor.name,
            at: now,
          });
        } else {
          await this.deps.store.updateDeploy(id, { reason: `${need.why}: ${have} of ${need.count} so far` }, now);
        }
      }
    });
    if (event) await this.emit(event);
    return await this.view(id);
  }

  async override(id: string, actor: Actor, action: unknown, reason: unknown): Promise<DeployView> {
    if (action !== 'proceed' && action !== 'halt') throw badRequest('action', 'must be "proceed" or "halt"');
    if (typeof reason !== 'string' || reason.trim().length < 3)
      throw badRequest('reason', 'an override needs a reason a human can read');
    // Forcing a halt is the safe direction: on-call approvers may; forcing a rollout on is for admins.
    if (actor.role !== 'admin' && !(action === 'halt' && actor.role === 'approver')) {
      throw forbidden(
        'FORBIDDEN_ROLE',
        `the ${actor.role} role cannot force ${action}; ${action === 'halt' ? 'an approver or admin' : 'an admin'} can`,
      );
    }
    const row = await this.row(id);
    const from = row.status as DeployStatus;
    const target = overrideTarget(from, action);
    if ('refuse' in target) throw conflict(target.code, `deploy ${id}: ${target.refuse}`);
    const status = target.to;
    const deploy = JSON.parse(row.deploy) as Deploy;
    const now = this.deps.now();
    const text = `${action === 'proceed' ? 'forced to proceed' : 'forced to halt'} by ${actor.name}: ${reason.trim()}`;
    let event: DecisionEvent | null = null;
    await this.tx(async () => {
      await this.unchanged(id, row.status);
      await this.deps.store.addOverride({
        deploy_id: id,
        actor: actor.name,
        action,
        reason: reason.trim(),
        from_status: from,
        to_status: status,
        at: now,
      });
      await this.audit.append({
        actor: actor.name,
        action: `override:${action}`,
        deployId: id,
        detail: { reason: reason.trim(), from, to: status },
      });
      if (status === 'watching') {
        // Breaking the glass on a held deploy: it starts now, judged like any other.
        startTimelineAt(deploy, now);
        await this.deps.store.updateDeploy(
          id,
          { deploy: JSON.stringify(deploy), status, reason: `${text}; watching`, hold: null },
          now,
        );
        await this.startWatch(deploy, now);
      } else {
        this.closeWatch(id);
        await this.deps.store.updateDeploy(id, { status, reason: text, hold: null, decided_at: now }, now);
        event = await this.emitInTransaction({ deploy, status, reason: text, watch: null, actor: actor.name, at: now });
      }
    });
    if (event) await this.emit(event);
    return await this.view(id);
  }

  /** The pipeline is done with the deploy (finished, abandoned, superseded). A decided deploy keeps its status. */
  async end(id: string, actor: Actor): Promise<DeployView> {
    const row = await this.row(id);
    const from = row.status as DeployStatus;
    const now = this.deps.now();
    const deploy = JSON.parse(row.deploy) as Deploy;
    let event: DecisionEvent | null = null;
    await this.tx(async () => {
      await this.unchanged(id, row.status);
      await this.audit.append({ actor: actor.name, action: 'end', deployId: id, detail: { from } });
      if (CLOSED.has(from) || from === 'passed') return;
      this.closeWatch(id);
      const reason = `ended by ${actor.name}`;
      await this.deps.store.updateDeploy(id, { status: 'ended', reason, decided_at: now }, now);
      event = await this.emitInTransaction({
        deploy,
        status: 'ended',
        reason,
        watch: null,
        actor: actor.name,
        at: now,
      });
    });
    if (event) await this.emit(event);
    return await this.view(id);
  }

  /** Marks a halted deploy rolled back (the rollback hook succeeded). */
  async markRolledBack(id: string, detail: string): Promise<void> {
    const now = this.deps.now();
    await this.tx(async () => {
      const row = await this.deps.store.getDeploy(id);
      if (!row || row.status !== 'halted') return;
      await this.deps.store.updateDeploy(id, { status: 'rolled_back', reason: detail }, now);
      await this.audit.append({ actor: SYSTEM.name, action: 'rolled_back', deployId: id, detail: { detail } });
    });
  }

  /** May the pipeline advance? From memory (gate-view.ts): no store read while the view is fresh. */
  async gate(id: string): Promise<GateAnswer> {
    const row = await this.gates.entry(id, async () => {
      const r = await this.deps.store.deployGate(id);
      if (!r) throw notFound(`deploy ${id}`);
      return r;
    });
    const status = row.status as DeployStatus;
    const g = gateOf(status);
    if (g.decision !== 'wait') {
      const fallback = status === 'passed' ? 'judged good' : status === 'ended' ? 'ended by the pipeline' : status;
      return { ...g, status, reason: row.reason || fallback };
    }
    // A regression judged but not yet recorded (the store could not write): halt now, never "wait" on it.
    const unrecorded = this.decided.find((d) => d.deploy.id === id && d.status === 'fail');
    if (unrecorded)
      return {
        httpStatus: 409,
        decision: 'halt',
        status,
        reason: `${unrecorded.reason ?? 'regression'} (not yet recorded: the store cannot write)`,
      };
    const w = this.watcher.get(id);
    const b = w ? blindness(w) : null;
    const blind =
      b?.blind && b.since !== null
        ? ` (blind since ${iso(b.since)}: ${
            b.signals.length
              ? b.signals.map((x) => `${x.signal}: ${x.reason}`).join('; ')
              : 'the metric source does not answer'
          }; it cannot pass while blind)`
        : '';
    const retryAfter = Math.max(1, Math.round(this.watcher.settings.step));
    return { ...g, status, reason: `${row.reason}${blind}`, retryAfter };
  }

  async view(id: string): Promise<DeployView> {
    return await this.toView(await this.row(id));
  }

  async list(status?: string, limit = 200): Promise<DeployView[]> {
    const rows = await this.deps.store.listDeploys(status, limit);
    const views: DeployView[] = [];
    for (const r of rows) views.push(await this.toView(r));
    return views;
  }

  private async row(id: string): Promise<DeployRow> {
    const row = await this.deps.store.getDeploy(id);
    if (!row) throw notFound(`deploy ${id}`);
    return row;
  }

  /**
   * A watch this process does not judge, as the store has it. On a shared store another replica may be
   * judging it: its checkpoint plus the tick records after it, replayed (the holder's state as of its last
   * committed tick), so every replica answers with the same evidence.
   */
  private async storedWatch(row: DeployRow, state: string, deploy: Deploy): Promise<DeployWatch> {
    const w = restoreWatch(state, deploy);
    if (!this.deps.replica || row.status !== 'watching') return w;
    try {
      for (const r of await this.deps.store.watchTicks([row.id])) this.watcher.replay(w, decodeRecord(r.record));
      return w;
    } catch {
      return restoreWatch(state, deploy); // a record that does not fit: the checkpoint, never a wrong state
    }
  }

  private async toView(row: DeployRow): Promise<DeployView> {
    const deploy = JSON.parse(row.deploy) as Deploy;
    const w = this.watcher.get(row.id) ?? (row.watch ? await this.storedWatch(row, row.watch, deploy) : null);
    const approvals = await this.deps.store.approvals(row.id);
    const outcome = (JSON.parse(row.verdict ?? '{}') as { outcome?: string }).outcome ?? 'pass';
    return {
      id: deploy.id,
      service: deploy.service,
      version: deploy.version,
      baselineVersion: deploy.baselineVersion,
      strategy: deploy.strategy,
      startedAt: iso(deploy.startedAt),
      stages: deploy.stages.map((s) => ({ at: iso(s.at), weight: s.weight })),
      change: deploy.change,
      status: row.status as DeployStatus,
      reason: row.reason,
      hold: row.hold,
      decidedAt: row.decided_at ? iso(row.decided_at) : null,
      verdict: w?.status ?? 'watching',
      failedSignal: w?.failedSignal ?? null,
      verdicts: w ? signalVerdicts(w) : [],
      ...blindView(w),
      ticks: w?.signals[0]?.ticks ?? 0,
      lastTick: w?.lastTick != null ? iso(w.lastTick) : null,
      approvals: approvals.map((a) => ({
        approver: a.approver,
        role: a.role,
        phase: a.phase,
        comment: a.comment,
        at: iso(a.at),
      })),
      approvalsRequired: this.promotionNeed(deploy, outcome).count,
      overrides: (await this.deps.store.overrides(row.id)).map((o) => ({
        actor: o.actor,
        action: o.action,
        reason: o.reason,
        from: o.from_status,
        to: o.to_status,
        at: iso(o.at),
      })),
      effects: (await this.deps.store.effects(row.id)).map((e) => ({
        kind: e.kind,
        status: e.status,
        attempts: e.attempts,
        lastError: e.last_error,
      })),
    };
  }

  /** Runs the in-transaction listeners; returns the event for `emit` once the transaction committed. */
  private async emitInTransaction(e: DecisionEvent): Promise<DecisionEvent> {
    for (const l of this.listeners) {
      if (!l.decisionInTransaction) continue;
      try {
        // A savepoint: a listener that fails half-way leaves none of its writes behind.
        await this.deps.store.transaction(async () => l.decisionInTransaction?.(e));
      } catch (err) {
        this.deps.log?.error({ err, deploy: e.deploy.id }, 'decision listener failed');
      }
    }
    return e;
  }

  private async emit(e: DecisionEvent): Promise<void> {
    for (const l of this.listeners) {
      try {
        await l.decision?.(e);
      } catch (err) {
        this.deps.log?.error({ err, deploy: e.deploy.id }, 'decision listener failed');
      }
    }
  }
}

/** A held plan starts when it is let go: nothing rolled out before, so its timeline starts then. */
function startTimelineAt(deploy: Deploy, now: number): void {
  deploy.startedAt = Math.max(deploy.startedAt, now);
  for (const s of deploy.stages) s.at = Math.max(s.at, now);
}

export { AppError };

/** The API's blindness fields: whether, since when, and which signals (with why). */
function blindView(w: DeployWatch | null | undefined): Pick<DeployView, 'blind' | 'blindSince' | 'blindSignals'> {
  const b = w ? blindness(w) : null;
  return {
    blind: b?.blind ?? false,
    blindSince: b?.since != null ? iso(b.since) : null,
    blindSignals: (b?.signals ?? []).map((x) => ({ signal: x.signal, since: iso(x.since), reason: x.reason })),
  };
}
