// The deploy service: registration, stages, the watch of each deploy, the gate, approvals, overrides and
// the audit trail. The judge decides; this decides what that means for the pipeline, with policy.
import type { Config } from '../config/schema.js';
import { toDeploy, type Deploy, type DeployInput } from '../model/deploy.js';
import { validateDeployInput } from '../model/validate.js';
import { approvalsRequired, countingApprovals, refuseApproval, type Role } from '../policy/approvals.js';
import { activeFreeze } from '../policy/freeze.js';
import { planNeedsApproval } from '../policy/plan.js';
import type { MetricSource } from '../sources/types.js';
import type { DeployRow, Store } from '../store/sqlite.js';
import { signalVerdicts, type DeployWatch } from '../watch/deploy-watch.js';
import { Watcher, type Logger } from '../watch/watcher.js';
import { restoreWatch, serializeWatch } from '../watch/persist.js';
import { AppError, badRequest, conflict, forbidden, notFound } from './errors.js';
import { iso, type DeployStatus, type DeployView } from './view.js';

export interface Actor {
  name: string;
  role: Role;
}

export interface GateAnswer {
  httpStatus: 200 | 409 | 423;
  decision: 'proceed' | 'wait' | 'halt';
  status: DeployStatus;
  reason: string;
  retryAfter?: number;
}

export interface DecisionEvent {
  deploy: Deploy;
  status: DeployStatus;
  reason: string;
  watch: DeployWatch | null;
  at: number;
}

export interface ServiceEvents {
  /** a deploy changed status through a decision (halted, passed, rolled back, overridden) */
  decision?(e: DecisionEvent): void;
  /** a deploy was registered */
  registered?(deploy: Deploy): void;
  /** a watch could not see its data this tick */
  blind?(deployId: string, error: Error): void;
  tick?(seconds: number, watches: number): void;
}

const SYSTEM: Actor = { name: 'navigator', role: 'admin' };
/** Watch rows saved per transaction after a tick. */
const PERSIST_CHUNK = 100;

export class DeployService {
  readonly watcher: Watcher;
  private readonly listeners: ServiceEvents[] = [];
  private decided: DeployWatch[] = [];

  constructor(
    private readonly deps: { config: Config; store: Store; source: MetricSource; now: () => number; log?: Logger },
  ) {
    this.watcher = new Watcher({
      config: deps.config,
      source: deps.source,
      log: deps.log,
      events: {
        decided: (w) => this.decided.push(w),
        blind: (w, err) => this.listeners.forEach((l) => l.blind?.(w.deploy.id, err)),
      },
    });
  }

  on(events: ServiceEvents): void {
    this.listeners.push(events);
  }

  /** Resumes every open watch from the store: a restart continues where it stopped. */
  restore(): number {
    let n = 0;
    for (const row of this.deps.store.listDeploys('watching', 100_000)) {
      if (row.watch) this.watcher.resume(restoreWatch(row.watch, JSON.parse(row.deploy) as Deploy));
      else this.watcher.watch(JSON.parse(row.deploy) as Deploy);
      n++;
    }
    return n;
  }

  register(body: unknown, actor: Actor): { created: boolean; view: DeployView } {
    const v = validateDeployInput(body);
    if (!v.ok) {
      const p = v.problems[0] as { path: string; message: string };
      throw badRequest(p.path || 'body', p.message);
    }
    const input: DeployInput = v.value;
    const existing = this.deps.store.getDeploy(input.id);
    if (existing) return { created: false, view: this.toView(existing) };
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
    const freeze = activeFreeze(this.deps.config.freezes, deploy.service, now);
    const plan = planNeedsApproval(deploy, service);
    const hold = freeze ? 'freeze' : plan ? 'plan' : null;
    const status: DeployStatus = hold ? 'pending_approval' : 'watching';
    const reason = freeze
      ? `held by the freeze window "${freeze.reason}" until ${iso(freeze.until)}: an admin may break the glass with a reason`
      : plan
        ? `waiting for a human before it starts: ${plan}`
        : 'watching';
    this.deps.store.transaction(() => {
      this.deps.store.insertDeploy({
        id: deploy.id,
        service: deploy.service,
        input: JSON.stringify(body),
        deploy: JSON.stringify(deploy),
        status,
        reason,
        hold,
        created_at: now,
      });
      this.deps.store.appendAudit(now, actor.name, 'register', deploy.id, { status, reason, change: deploy.change });
    });
    if (status === 'watching') this.startWatch(deploy);
    this.listeners.forEach((l) => l.registered?.(deploy));
    return { created: true, view: this.view(deploy.id) };
  }

  private startWatch(deploy: Deploy): void {
    const w = this.watcher.watch(deploy);
    this.deps.store.updateDeploy(deploy.id, { watch: serializeWatch(w) }, this.deps.now());
  }

  addStage(id: string, weight: unknown, actor: Actor, at?: unknown): DeployView {
    if (typeof weight !== 'number' || !(weight >= 0 && weight <= 1))
      throw badRequest('weight', 'must be a number from 0 to 1');
    const row = this.row(id);
    if (['halted', 'rolled_back', 'ended'].includes(row.status))
      throw conflict('DEPLOY_CLOSED', `deploy ${id} is ${row.status}; no more stages`);
    const now = this.deps.now();
    let t = now;
    if (at !== undefined) {
      if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) throw badRequest('at', 'must be an ISO 8601 time');
      t = Date.parse(at) / 1000;
    }
    const deploy = JSON.parse(row.deploy) as Deploy;
    deploy.stages.push({ at: t, weight });
    deploy.stages.sort((a, b) => a.at - b.at);
    const w = this.watcher.get(id);
    if (w) w.deploy.stages = deploy.stages;
    this.deps.store.transaction(() => {
      this.deps.store.updateDeploy(
        id,
        { deploy: JSON.stringify(deploy), ...(w ? { watch: serializeWatch(w) } : {}) },
        now,
      );
      this.deps.store.appendAudit(now, actor.name, 'stage', id, { weight, at: iso(t) });
    });
    return this.view(id);
  }

  /** Judges every open watch up to `t` and persists the result in one transaction per tick. */
  async tick(t: number): Promise<void> {
    const started = process.hrtime.bigint();
    await this.watcher.tick(t);
    const decided = this.decided;
    this.decided = [];
    const now = this.deps.now();
    const events: DecisionEvent[] = [];
    // Each watch's row is saved whole; rows go in chunks of transactions with yields between them, so
    // persisting thousands of watches does not hold up the API. Decisions go in one transaction.
    const open = this.watcher.watches();
    for (let i = 0; i < open.length; i += PERSIST_CHUNK) {
      if (i > 0) await new Promise((r) => setImmediate(r));
      this.deps.store.transaction(() => {
        for (const w of open.slice(i, i + PERSIST_CHUNK)) {
          this.deps.store.updateDeploy(w.deploy.id, { watch: serializeWatch(w) }, now);
        }
      });
    }
    this.deps.store.transaction(() => {
      for (const w of decided) {
        const e = this.applyVerdict(w, now);
        if (e) events.push(e);
      }
    });
    for (const e of events) this.emit(e);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.listeners.forEach((l) => l.tick?.(seconds, this.watcher.watches().length));
  }

  private applyVerdict(w: DeployWatch, now: number): DecisionEvent | null {
    const row = this.deps.store.getDeploy(w.deploy.id);
    if (!row || row.status !== 'watching') return null;
    let status: DeployStatus;
    let reason = w.reason;
    if (w.status === 'fail') {
      status = 'halted';
    } else {
      const need = this.approvalsNeeded(w.deploy);
      const have = countingApprovals(w.deploy.change, this.deps.store.approvals(w.deploy.id));
      if (w.status === 'inconclusive') {
        status = 'awaiting_approval';
        reason = `${w.reason}; a human must decide`;
      } else if (have < need.count) {
        status = 'awaiting_approval';
        reason = `judged good (${w.reason}); ${need.why}: ${have} of ${need.count} so far`;
      } else {
        status = 'passed';
      }
    }
    const failing = signalVerdicts(w).find((s) => s.signal === w.failedSignal);
    this.deps.store.updateDeploy(
      w.deploy.id,
      {
        status,
        reason,
        watch: serializeWatch(w),
        verdict: JSON.stringify({ outcome: w.status, signal: w.failedSignal, evidence: failing?.evidence ?? null }),
        decided_at: w.decidedAt,
      },
      now,
    );
    this.deps.store.appendAudit(now, SYSTEM.name, w.status === 'fail' ? 'halt' : `verdict:${w.status}`, w.deploy.id, {
      status,
      reason,
      signal: w.failedSignal,
      evidence: failing?.evidence ?? null,
    });
    return { deploy: w.deploy, status, reason, watch: w, at: now };
  }

  private approvalsNeeded(deploy: Deploy) {
    const service = this.deps.config.services[deploy.service];
    return service ? approvalsRequired(service, deploy.change) : { count: 0, why: '' };
  }

  approve(id: string, actor: Actor, comment: unknown): DeployView {
    if (comment !== undefined && typeof comment !== 'string') throw badRequest('comment', 'must be a string');
    const row = this.row(id);
    const deploy = JSON.parse(row.deploy) as Deploy;
    const existing = this.deps.store.approvals(id);
    const refusal = refuseApproval(actor.name, actor.role, deploy.change, existing);
    if (refusal)
      throw refusal.code === 'ALREADY_APPROVED'
        ? conflict(refusal.code, refusal.message)
        : forbidden(refusal.code, refusal.message);
    if (['halted', 'rolled_back', 'ended'].includes(row.status))
      throw conflict('DEPLOY_CLOSED', `deploy ${id} is ${row.status}`);
    const now = this.deps.now();
    let event: DecisionEvent | null = null;
    this.deps.store.transaction(() => {
      this.deps.store.addApproval({
        deploy_id: id,
        approver: actor.name,
        role: actor.role,
        comment: comment ?? '',
        at: now,
      });
      this.deps.store.appendAudit(now, actor.name, 'approve', id, { comment: comment ?? '' });
      if (row.status === 'pending_approval' && row.hold === 'plan') {
        // The plan may start now: its timeline starts at the approval, since nothing rolled out before.
        deploy.startedAt = Math.max(deploy.startedAt, now);
        for (const s of deploy.stages) s.at = Math.max(s.at, now);
        this.deps.store.updateDeploy(
          id,
          {
            deploy: JSON.stringify(deploy),
            status: 'watching',
            hold: null,
            reason: `approved by ${actor.name}; watching`,
          },
          now,
        );
      } else if (row.status === 'awaiting_approval') {
        const need = this.approvalsNeeded(deploy);
        const have = countingApprovals(deploy.change, this.deps.store.approvals(id));
        if (have >= need.count) {
          const reason = `approved by ${this.deps.store
            .approvals(id)
            .map((a) => a.approver)
            .join(' and ')}`;
          this.deps.store.updateDeploy(id, { status: 'passed', reason }, now);
          event = { deploy, status: 'passed', reason, watch: null, at: now };
        } else {
          this.deps.store.updateDeploy(id, { reason: `${need.why}: ${have} of ${need.count} so far` }, now);
        }
      }
    });
    if (row.status === 'pending_approval' && row.hold === 'plan') this.startWatch(deploy);
    if (event) this.emit(event);
    return this.view(id);
  }

  override(id: string, actor: Actor, action: unknown, reason: unknown): DeployView {
    if (action !== 'proceed' && action !== 'halt') throw badRequest('action', 'must be "proceed" or "halt"');
    if (typeof reason !== 'string' || reason.trim().length < 3)
      throw badRequest('reason', 'an override needs a reason a human can read');
    if (actor.role !== 'admin' && !(action === 'halt' && actor.role === 'approver')) {
      throw forbidden(
        'FORBIDDEN_ROLE',
        `the ${actor.role} role cannot force ${action}; ${action === 'halt' ? 'an approver or admin' : 'an admin'} can`,
      );
    }
    const row = this.row(id);
    const deploy = JSON.parse(row.deploy) as Deploy;
    const now = this.deps.now();
    let status: DeployStatus;
    const text = `${action === 'proceed' ? 'forced to proceed' : 'forced to halt'} by ${actor.name}: ${reason}`;
    if (action === 'halt') status = 'halted';
    else if (row.status === 'pending_approval') status = 'watching';
    else status = 'passed';
    this.watcher.close(id);
    this.deps.store.transaction(() => {
      this.deps.store.updateDeploy(
        id,
        { status, reason: text, hold: null, ...(status === 'watching' ? {} : { decided_at: now }) },
        now,
      );
      this.deps.store.appendAudit(now, actor.name, `override:${action}`, id, { reason, from: row.status, to: status });
    });
    if (status === 'watching') {
      deploy.startedAt = Math.max(deploy.startedAt, now);
      for (const s of deploy.stages) s.at = Math.max(s.at, now);
      this.deps.store.updateDeploy(id, { deploy: JSON.stringify(deploy) }, now);
      this.startWatch(deploy);
    } else {
      this.emit({ deploy, status, reason: text, watch: null, at: now });
    }
    return this.view(id);
  }

  end(id: string, actor: Actor): DeployView {
    const row = this.row(id);
    const now = this.deps.now();
    this.watcher.close(id);
    this.deps.store.transaction(() => {
      if (!['halted', 'rolled_back', 'passed'].includes(row.status))
        this.deps.store.updateDeploy(id, { status: 'ended', reason: `ended by ${actor.name}` }, now);
      this.deps.store.appendAudit(now, actor.name, 'end', id, { from: row.status });
    });
    return this.view(id);
  }

  /** Marks a halted deploy rolled back (the rollback hook succeeded). */
  markRolledBack(id: string, detail: string): void {
    const now = this.deps.now();
    this.deps.store.transaction(() => {
      this.deps.store.updateDeploy(id, { status: 'rolled_back', reason: detail }, now);
      this.deps.store.appendAudit(now, SYSTEM.name, 'rolled_back', id, { detail });
    });
  }

  gate(id: string): GateAnswer {
    const row = this.row(id);
    const status = row.status as DeployStatus;
    const retryAfter = Math.max(1, Math.round(this.watcher.settings.step));
    switch (status) {
      case 'passed':
        return { httpStatus: 200, decision: 'proceed', status, reason: row.reason || 'judged good' };
      case 'halted':
      case 'rolled_back':
        return { httpStatus: 409, decision: 'halt', status, reason: row.reason };
      case 'ended':
        return { httpStatus: 409, decision: 'halt', status, reason: row.reason || 'ended by the pipeline' };
      default: {
        const w = this.watcher.get(id);
        const blind =
          w?.blindSince != null ? ` (blind: the metric source has not answered since ${iso(w.blindSince)})` : '';
        return { httpStatus: 423, decision: 'wait', status, reason: `${row.reason}${blind}`, retryAfter };
      }
    }
  }

  view(id: string): DeployView {
    return this.toView(this.row(id));
  }

  list(status?: string): DeployView[] {
    return this.deps.store.listDeploys(status).map((r) => this.toView(r));
  }

  private row(id: string): DeployRow {
    const row = this.deps.store.getDeploy(id);
    if (!row) throw notFound(`deploy ${id}`);
    return row;
  }

  private toView(row: DeployRow): DeployView {
    const deploy = JSON.parse(row.deploy) as Deploy;
    const w = this.watcher.get(row.id) ?? (row.watch ? restoreWatch(row.watch, deploy) : null);
    const approvals = this.deps.store.approvals(row.id);
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
      decidedAt: row.decided_at ? iso(row.decided_at) : null,
      verdict: w?.status ?? 'watching',
      failedSignal: w?.failedSignal ?? null,
      verdicts: w ? signalVerdicts(w) : [],
      blind: w?.blindSince != null,
      blindSince: w?.blindSince != null ? iso(w.blindSince) : null,
      ticks: w?.signals[0]?.ticks ?? 0,
      approvals: approvals.map((a) => ({ approver: a.approver, role: a.role, comment: a.comment, at: iso(a.at) })),
      approvalsRequired: this.approvalsNeeded(deploy).count,
      effects: this.deps.store
        .effects(row.id)
        .map((e) => ({ kind: e.kind, status: e.status, attempts: e.attempts, lastError: e.last_error })),
    };
  }

  private emit(e: DecisionEvent): void {
    for (const l of this.listeners) {
      try {
        l.decision?.(e);
      } catch (err) {
        this.deps.log?.error({ err, deploy: e.deploy.id }, 'decision listener failed');
      }
    }
  }
}

export { AppError };
