// The outbox (design §4): every effect of a decision (halt hook, rollback hook, page, resolve, annotation,
// change event) is written durably with a unique key inside the decision's transaction, then carried out.
//
// Delivery never gives up silently (README "Delivery guarantees"):
// - one worker per destination (lane: a route's provider, a service's hooks, Grafana), each attempt bounded
//   by paging.delivery.timeout, so a hung receiver delays only its own lane, never a halt hook;
// - retries with capped exponential backoff and jitter (Retry-After honoured) until delivered, until the
//   page is resolved (a delivered resolve supersedes its trigger), or until paging.delivery.maxAge;
// - a failure that persists (escalateAfter attempts) or a final answer (delivery-policy.ts) sends the page to
//   paging.fallback too, and a "cannot deliver" page to paging.undeliverable; both audited and counted;
// - every HTTP delivery carries an Idempotency-Key (the outbox key: stable across retries and restarts) and,
//   with a secret, a timestamped signature; a row is claimed before each attempt, so a crash between the send
//   and its record is visible (at-least-once; exactly-once where the provider dedups);
// - a delivered firing Alertmanager alert is re-posted every `refresh` with endsAt ahead of now, so
//   Alertmanager never resolves it by itself while the deploy is still halted.
import { createHash } from 'node:crypto';
import { Gauge } from 'prom-client';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { DecisionEvent, DeployService } from '../deploys/service.js';
import type { Deploy } from '../model/deploy.js';
import type { Evidence } from '../model/verdict.js';
import { describeChange, pageDetails, type Page } from '../paging/page.js';
import { pagerDutyChange, routeRequests, signHeaders, type OutgoingRequest } from '../paging/providers.js';
import { detached } from '../store/tx-context.js';
import type { OutboxRow, Store } from '../store/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DeployWatch } from '../watch/deploy-watch.js';
import { signalVerdicts } from '../watch/deploy-watch.js';
import { backoffSeconds, classify, headerSafe, retryAfterSeconds, type Backoff } from './delivery-policy.js';
import { syncRegion, type GrafanaRegion } from './grafana.js';
import { GitHubError } from './github-auth.js';
import { GitHubEffects, type GitHubEffect, type ReviewRequest } from './github.js';
import { hookRequest, runCommandHook, type HookContext } from './hooks.js';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
}

/** Where a signing secret comes from at send time (secrets are never written to the store). */
type SignRef = { route: string } | { hook: { service: string; action: 'halt' | 'rollback' } };

type Payload =
  | GrafanaRegion
  | GitHubEffect
  | {
      type: 'request';
      request: OutgoingRequest;
      then?: 'rolled_back';
      /** the page this request delivers: what the fallback route is sent */
      page?: Page;
      sign?: SignRef;
      /** a "cannot deliver" page or a fallback copy: its own failure is reported, not escalated again */
      noEscalate?: boolean;
    }
  | { type: 'command'; context: HookContext; then?: 'rolled_back' };

class DeliveryError extends Error {
  constructor(
    message: string,
    readonly final: boolean,
    readonly retryAfter = 0,
  ) {
    super(message);
  }
}

/** Attempts that escalate: a page that wakes someone, a hook that halts or rolls back. */
const ESCALATES = new Set(['trigger', 'hook']);
const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 40);

export class Effects {
  private timer: NodeJS.Timeout | null = null;
  private readonly fetch: typeof fetch;
  private readonly workers = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private stopped = false;
  private readonly random: () => number;
  /** deployment statuses and protection rule answers (actions/github.ts); null without a github section */
  readonly github: GitHubEffects | null;

  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      service: DeployService;
      now: () => number;
      log: Log;
      metrics: Metrics;
      fetch?: typeof fetch;
      /** jitter source (tests pin it) */
      random?: () => number;
      /** this replica's id on a shared store: a lane is drained by one replica at a time (a lane lease) */
      replica?: string;
    },
  ) {
    this.fetch = d.fetch ?? fetch;
    this.random = d.random ?? Math.random;
    this.github = d.config.github
      ? new GitHubEffects({ config: d.config, store: d.store, service: d.service, now: d.now, fetch: this.fetch })
      : null;
    const store = d.store;
    new Gauge({
      name: 'navigator_outbox_pending',
      help: 'Effects not yet delivered (pages, hooks, annotations)',
      registers: [d.metrics.registry],
      async collect() {
        if (store.isOpen) this.set((await store.outboxBacklog()).pending);
      },
    });
    const now = d.now;
    new Gauge({
      name: 'navigator_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest effect not yet delivered (0 when none)',
      registers: [d.metrics.registry],
      async collect() {
        if (!store.isOpen) return;
        const o = (await store.outboxBacklog()).oldest;
        this.set(o === null ? 0 : Math.max(0, now() - o));
      },
    });
  }

  private get delivery() {
    return this.d.config.paging.delivery;
  }
  private get scale(): number {
    return this.delivery.timeScale;
  }
  private get backoff(): Backoff {
    return {
      initial: parseDuration(this.delivery.initialBackoff),
      max: parseDuration(this.delivery.maxBackoff),
      scale: this.scale,
    };
  }

  /** Turns a decision into queued effects, in the store, before anything is sent. */
  async onDecision(e: DecisionEvent): Promise<void> {
    const svc = this.d.config.services[e.deploy.service];
    if (!svc) return;
    const id = e.deploy.id;
    const ev = e.watch ? failingEvidence(e.watch) : null;
    // The region ends at the tick the judge decided on (its data), else when a human or the pipeline did.
    await this.annotate(
      e.deploy,
      e.status,
      `deploy ${id} ${e.status}: ${e.reason}`.slice(0, 2000),
      e.watch?.decidedAt ?? e.at,
    );
    if (e.status === 'halted') {
      const done: string[] = [];
      if (svc.hooks.halt) {
        await this.queueHook(
          `halt:${id}`,
          'halt',
          svc.hooks.halt,
          { action: 'halt', deploy: e.deploy, reason: e.reason },
          svc.dryRun,
        );
        done.push(svc.dryRun ? 'halt hook recorded (dry run)' : 'rollout halted through the halt hook');
      } else done.push('gate answers halt');
      if (svc.rollback === 'automatic' && svc.hooks.rollback) {
        await this.queueHook(
          `rollback:${id}`,
          'rollback',
          svc.hooks.rollback,
          { action: 'rollback', deploy: e.deploy, reason: e.reason },
          svc.dryRun,
          'rolled_back',
        );
        done.push(
          svc.dryRun
            ? `rollback to ${e.deploy.baselineVersion ?? 'the baseline'} recorded (dry run)`
            : `rolling back to ${e.deploy.baselineVersion ?? 'the baseline'}`,
        );
      } else if (svc.rollback === 'on-approval') done.push('rollback waits for a human (policy on-approval)');
      await this.page(e.deploy, 'trigger', ev, done, e.reason, 'regression', e.watch?.failedSignal ?? null);
    } else if (e.status === 'rolled_back' || (e.status === 'passed' && e.reason.startsWith('forced'))) {
      await this.page(e.deploy, 'resolve', ev, [e.reason], e.reason);
    }
    await this.githubOnDecision(e.deploy, e.status, svc.dryRun);
    this.kick();
  }

  /**
   * The deploy moved: a status for its GitHub deployment, and the protection rule requests waiting on it are
   * due now (they answer from the gate when they are sent).
   */
  private async githubOnDecision(deploy: Deploy, status: string, dryRun: boolean): Promise<void> {
    if (!this.github) return;
    const key = await this.github.queueStatus(deploy, status);
    if (key && dryRun) await this.skip(key, 'dry run: recorded, not sent');
    const now = this.d.now();
    for (const row of await this.d.store.effects(deploy.id))
      if (row.kind === 'github:review' && row.status === 'pending' && row.next_attempt_at > now)
        await this.d.store.retryEffect(row.id, now, `deploy ${deploy.id} is ${status}`);
  }

  /** A deployment_protection_rule request from GitHub (http/github.ts): answered once the gate decides. */
  async requestReview(r: ReviewRequest): Promise<{ deploy: string | null; key: string }> {
    if (!this.github) throw new Error('github is not configured');
    const out = await this.github.queueReview(r);
    this.kick();
    return out;
  }

  /**
   * A deploy's start: a Grafana annotation (when configured) and a PagerDuty change event on each of the
   * service's routes with PagerDuty, so the deploy is on the service's timeline before anything pages.
   */
  async onRegister(deploy: Deploy): Promise<void> {
    await this.annotate(
      deploy,
      'registered',
      `deploy ${deploy.id}: ${deploy.service} ${deploy.version} (${describeChange(deploy.change)})`,
    );
    const svc = this.d.config.services[deploy.service];
    if (this.github) {
      const key = await this.github.queueStatus(deploy, 'registered');
      if (key && svc?.dryRun) await this.skip(key, 'dry run: recorded, not sent');
    }
    const base = this.publicBase();
    for (const route of svc?.page ?? []) {
      const pd = this.d.config.paging.routes[route]?.pagerduty;
      if (!pd || pd.changeEvents === false) continue;
      const req = pagerDutyChange(pd, {
        summary: `Deploy ${deploy.id}: ${deploy.service} ${deploy.version}${deploy.baselineVersion ? ` (from ${deploy.baselineVersion})` : ''}, ${deploy.strategy}: ${describeChange(deploy.change)}`,
        service: deploy.service,
        at: deploy.startedAt,
        details: {
          deploy: deploy.id,
          version: deploy.version,
          baseline: deploy.baselineVersion ?? '',
          strategy: deploy.strategy,
          change: describeChange(deploy.change),
        },
        links: [
          { href: `${base}/v1/deploys/${encodeURIComponent(deploy.id)}`, text: 'Deploy in Navigator' },
          ...(deploy.change?.url ? [{ href: deploy.change.url, text: `Change ${deploy.change.id}` }] : []),
        ],
      });
      const key = `change:${route}:${deploy.id}`;
      const queued = await this.d.store.enqueue(
        key,
        'change:pagerduty',
        deploy.id,
        { type: 'request', request: req } satisfies Payload,
        this.d.now(),
        this.d.now(),
        { lane: `route:${route}/pagerduty`, route, provider: 'pagerduty-change', action: 'change' },
      );
      if (queued && svc?.dryRun) await this.skip(key, 'dry run: recorded, not sent');
    }
    this.kick();
  }

  private publicBase(): string {
    return this.d.config.server.publicUrl ?? `http://${this.d.config.server.listen}`;
  }

  /**
   * The deploy's Grafana annotation region, from its start to its decision (src/actions/grafana.ts):
   * registration creates it, each decision sets its end, text and tags.
   */
  private async annotate(deploy: Deploy, event: string, text: string, at = this.d.now()): Promise<void> {
    const g = this.d.config.grafana;
    if (!g) return;
    const start = Math.round(deploy.startedAt * 1000);
    const region: GrafanaRegion = {
      type: 'grafana-region',
      mode: event === 'registered' ? 'create' : 'upsert',
      base: g.url,
      token: g.token,
      dashboardUID: g.dashboardUid,
      deployTag: `deploy:${deploy.id}`,
      time: start,
      timeEnd: event === 'registered' ? start : Math.max(start, Math.round(at * 1000)),
      tags: ['navigator', deploy.service, event, `deploy:${deploy.id}`],
      text,
    };
    await this.d.store.enqueue(
      `annotation:${deploy.id}:${event}`,
      'annotation',
      deploy.id,
      region,
      this.d.now(),
      this.d.now(),
      { lane: 'grafana', provider: 'grafana', action: 'annotation' },
    );
  }

  /** A human acknowledged the deploy's page: resolve it everywhere now (once: the resolve keys are shared). */
  async acknowledge(deploy: Deploy, by: string, comment: string): Promise<number> {
    const before = (await this.d.store.effects(deploy.id)).length;
    const why = `acknowledged by ${by}${comment ? `: ${comment}` : ''}`;
    await this.page(deploy, 'resolve', null, [why], why, 'regression', null, deploy.service, true);
    this.kick();
    return (await this.d.store.effects(deploy.id)).length - before;
  }

  /** Pages an always-watched signal's regression with the change blamed (or none fits). */
  async pageIncident(
    deploy: Deploy | null,
    service: string,
    signal: string,
    summary: string,
    ev: Evidence,
    candidates: string[],
    onset: number,
  ): Promise<void> {
    const subject: Deploy = deploy ?? {
      id: 'none',
      service,
      version: '',
      baselineVersion: null,
      strategy: 'all-at-once',
      startedAt: onset,
      stages: [],
      change: null,
    };
    await this.page(
      subject,
      'trigger',
      ev,
      [deploy ? `blamed ${deploy.id} (candidates: ${candidates.join(', ')})` : 'no recent change fits'],
      summary,
      `incident:${service}:${signal}:${onset}`,
      signal,
      service,
    );
    this.kick();
  }

  /** Pages for a firing Alertmanager alert, naming the change blamed for it. */
  async pageAlert(
    deploy: Deploy,
    alertname: string,
    summary: string,
    candidates: string[],
    identity: string,
  ): Promise<void> {
    await this.page(
      deploy,
      'trigger',
      null,
      [`attributed the alert to ${deploy.id} (candidates: ${candidates.join(', ')})`],
      `alert ${alertname}: ${summary}`,
      `alert:${identity}`,
    );
    this.kick();
  }

  /**
   * Alertmanager says an alert Navigator paged for is resolved: resolve those pages at every route they
   * went to, at once. Returns the deploys whose pages were resolved (none when Navigator never paged it).
   */
  async resolveAlert(identity: string, why: string): Promise<string[]> {
    const suffix = `/alert:${identity}`;
    const deploys = new Set<string>();
    for (const row of await this.d.store.pagesEndingWith(suffix)) if (row.deploy_id) deploys.add(row.deploy_id);
    for (const id of deploys) {
      const deploy = JSON.parse((await this.d.store.getDeploy(id))?.deploy ?? 'null') as Deploy | null;
      if (deploy) await this.page(deploy, 'resolve', null, [why], why, `alert:${identity}`, null, deploy.service, true);
    }
    this.kick();
    return [...deploys];
  }

  /** Pages once for a watch that has been blind longer than paging.blindAfter: a guard that cannot see says so. */
  async checkBlind(watches: readonly DeployWatch[]): Promise<void> {
    const limit = parseDuration(this.d.config.paging.blindAfter);
    for (const w of watches) {
      if (w.blindSince === null || this.d.now() - w.blindSince < limit) continue;
      await this.github?.queueStatus(w.deploy, `blind:${w.blindSince}`);
      await this.page(
        w.deploy,
        'trigger',
        null,
        ['still watching, blind'],
        `Navigator cannot see ${w.deploy.service}'s metrics since ${new Date(w.blindSince * 1000).toISOString()}: deploy ${w.deploy.id} is not being judged`,
        `blind:${w.blindSince}`,
      );
    }
  }

  private async queueHook(
    key: string,
    kind: string,
    hook: NonNullable<Config['services'][string]['hooks']['halt']>,
    c: HookContext,
    dryRun: boolean,
    then?: 'rolled_back',
  ): Promise<void> {
    const payload: Payload =
      'url' in hook
        ? {
            type: 'request',
            request: hookRequest(hook, c),
            sign: { hook: { service: c.deploy.service, action: c.action } },
            ...(then ? { then } : {}),
          }
        : { type: 'command', context: c, ...(then ? { then } : {}) };
    const now = this.d.now();
    // One lane per service's hooks: its halt goes before its rollback, and no other lane waits on them.
    const meta = { lane: `hooks:${c.deploy.service}`, provider: `${kind}-hook`, action: 'hook' };
    if ((await this.d.store.enqueue(key, kind, c.deploy.id, payload, now, now, meta)) && dryRun)
      await this.skip(key, 'dry run: recorded, not sent');
  }

  private async page(
    deploy: Deploy,
    action: 'trigger' | 'resolve',
    ev: Evidence | null,
    done: string[],
    reason: string,
    suffix = 'regression',
    signal: string | null = null,
    /** whose routes get the page: the deploy's service, or the service whose always-watched signal regressed */
    routeService = deploy.service,
    /** a resolve a human asked for goes out at once; one after a rollback waits paging.resolveAfter */
    resolveNow = false,
  ): Promise<void> {
    const svc = this.d.config.services[routeService];
    if (!svc) return;
    const base = this.publicBase();
    const what = suffix.startsWith('blind:') ? 'blind' : suffix.startsWith('alert:') ? 'alert' : 'regression';
    const p: Page = {
      key: `navigator/${deploy.service}/${deploy.id}/${suffix}`,
      action,
      severity: svc.tier === 'critical' ? 'critical' : 'error',
      service: deploy.service,
      signal,
      summary:
        action === 'trigger'
          ? `${deploy.service}: ${what} after deploy ${deploy.id} (${describeChange(deploy.change)}): ${reason}`.slice(
              0,
              1000,
            )
          : `${deploy.service}: resolved for deploy ${deploy.id}: ${reason}`,
      details: {},
      links: [
        { href: `${base}/v1/deploys/${encodeURIComponent(deploy.id)}`, text: 'Deploy in Navigator' },
        ...(deploy.change?.url ? [{ href: deploy.change.url, text: `Change ${deploy.change.id}` }] : []),
        ...(this.d.config.paging.dashboardUrl ? [{ href: this.d.config.paging.dashboardUrl, text: 'Dashboard' }] : []),
      ],
      deploy: {
        id: deploy.id,
        service: deploy.service,
        version: deploy.version,
        baselineVersion: deploy.baselineVersion,
        strategy: deploy.strategy,
      },
      change: deploy.change,
      evidence: ev,
      done,
      at: this.d.now(),
    };
    // A resolve goes wherever the trigger went: the service's routes and any fallback route it escalated to.
    const routes = new Set(svc.page);
    if (action === 'resolve')
      for (const r of await this.d.store.pagesEndingWith(p.key))
        if (r.page_key === p.key && r.route) routes.add(r.route);
    // A resolve waits a little after a rollback: the on-call sees the page, and the baseline has the traffic back.
    const due =
      action === 'resolve' && !resolveNow
        ? this.d.now() + parseDuration(this.d.config.paging.resolveAfter)
        : this.d.now();
    await this.sendPage(p, [...routes], due, { dryRun: svc.dryRun });
  }

  /** Queues a page on routes: one outbox row per route and provider, each in its own lane. */
  private async sendPage(
    p: Page,
    routes: string[],
    due: number,
    o: { dryRun?: boolean; noEscalate?: boolean } = {},
  ): Promise<number> {
    let queued = 0;
    for (const route of routes) {
      const cfg = this.d.config.paging.routes[route];
      if (!cfg) continue;
      for (const req of routeRequests(cfg, p)) {
        const key = `page:${route}:${req.provider}:${p.key}:${p.action}`;
        const payload: Payload = {
          type: 'request',
          request: req,
          page: p,
          ...(req.provider === 'webhook' ? { sign: { route } } : {}),
          ...(o.noEscalate ? { noEscalate: true } : {}),
        };
        const meta = { lane: `route:${route}/${req.provider}`, route, provider: req.provider, pageKey: p.key };
        if (
          await this.d.store.enqueue(
            key,
            `page:${req.provider}:${p.action}`,
            p.deploy?.id ?? null,
            payload,
            this.d.now(),
            due,
            {
              ...meta,
              action: p.action,
            },
          )
        ) {
          queued++;
          if (o.dryRun) await this.skip(key, 'dry run: recorded, not sent');
        }
      }
    }
    return queued;
  }

  private async skip(key: string, why: string): Promise<void> {
    const row = await this.d.store.effectByKey(key);
    if (row) {
      await this.d.store.finishEffect(row.id, 'skipped', this.d.now(), why);
      this.count(row, 'skipped');
    }
  }

  async start(): Promise<void> {
    // Registration commits before its listeners run: a crash in between loses a change event or annotation.
    // Queue them again for open watches at start (their keys make this a no-op when they exist).
    for (const row of await this.d.store.listDeploys('watching'))
      await this.onRegister(JSON.parse(row.deploy) as Deploy);
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => this.poll(), 250);
    this.timer.unref();
    this.poll();
  }

  /**
   * Delivers soon, without waiting for the next poll: after the caller's transaction has committed. Outside
   * that transaction's context, so the worker's writes neither join it nor wait for it.
   */
  private kick(): void {
    detached(() => setImmediate(() => this.poll()));
  }

  /** A pump from a timer: a store that fails now is logged, and the next poll tries again. */
  private poll(): void {
    this.pump().catch((err: unknown) => this.d.log.warn({ err }, 'outbox poll failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.abort.abort(); // in-flight attempts stay claimed and pending: sent again after the restart
    await Promise.allSettled([...this.workers.values()]);
  }

  /** Starts a worker for every lane with due effects that has none running. */
  private async pump(): Promise<void> {
    if (this.stopped || !this.d.store.isOpen) return;
    for (const lane of await this.d.store.dueLanes(this.d.now())) {
      if (this.workers.has(lane)) continue;
      const w = this.work(lane).finally(() => this.workers.delete(lane));
      this.workers.set(lane, w);
    }
  }

  /**
   * One lane: its due effects in order, one at a time, until none is due. On a shared store the lane is
   * leased first and the lease renewed before each attempt, so across replicas too one worker drains it
   * (in order: the halt hook before the rollback); a replica that dies mid-send leaves the lane to the
   * others once the lease expires, and the row it claimed is sent again under the same idempotency key.
   */
  private async work(lane: string): Promise<void> {
    const holder = this.d.replica;
    const ttl = 2 * parseDuration(this.delivery.timeout) + 5;
    const lease = async () => !holder || (await this.d.store.claimLane(lane, holder, this.d.now(), ttl));
    if (!(await lease())) return;
    try {
      for (let pass = 0; pass < 100 && !this.stopped; pass++) {
        const rows = await this.d.store.dueInLane(lane, this.d.now());
        if (rows.length === 0) return;
        for (const row of rows) {
          if (this.stopped || !(await lease())) return;
          await this.deliver(row);
        }
      }
    } finally {
      if (holder && !this.stopped) await this.d.store.releaseLane(lane, holder).catch(() => {});
    }
  }

  /**
   * Carries out every due effect (each lane's worker), and what those deliveries queued in turn, then
   * resolves. One worker per lane: two callers never send the same row twice.
   */
  async drain(): Promise<void> {
    for (let i = 0; i < 5 && !this.stopped; i++) {
      await this.pump();
      const running = [...this.workers.values()];
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }

  private count(row: OutboxRow, outcome: string): void {
    this.d.metrics.deliveries.inc({
      route: row.route ?? (row.lane?.startsWith('hooks:') ? 'hooks' : (row.lane ?? row.kind)),
      provider: row.provider ?? row.kind,
      outcome,
    });
  }

  private secretOf(ref: SignRef | undefined): string | undefined {
    if (!ref) return undefined;
    if ('route' in ref) return this.d.config.paging.routes[ref.route]?.webhook?.secret;
    const hook = this.d.config.services[ref.hook.service]?.hooks[ref.hook.action];
    return hook && 'url' in hook ? hook.secret : undefined;
  }

  private refreshEvery(row: OutboxRow): number {
    const r = row.route ? this.d.config.paging.routes[row.route]?.alertmanager?.refresh : undefined;
    return parseDuration(r ?? '1m') * this.scale;
  }

  private isAlertmanagerTrigger(row: OutboxRow, p: Payload): boolean {
    return p.type === 'request' && p.request.provider === 'alertmanager' && row.kind === 'page:alertmanager:trigger';
  }

  /** The request as sent now: endsAt ahead of now for firing Alertmanager alerts, signature, idempotency key. */
  private prepare(row: OutboxRow, p: Extract<Payload, { type: 'request' }>, now: number, refresh: boolean) {
    let body = p.request.body;
    if (this.isAlertmanagerTrigger(row, p)) {
      // Without endsAt, Alertmanager resolves the alert resolve_timeout after the last post; Navigator says how
      // long it stands for instead (four refreshes), and posts again every refresh while the page matters.
      const endsAt = new Date((now + 4 * this.refreshEvery(row)) * 1000).toISOString();
      const alerts = JSON.parse(body) as Record<string, unknown>[];
      body = JSON.stringify(alerts.map((a) => ({ ...a, endsAt })));
    }
    const id = headerSafe(refresh ? `${row.key}#refresh-${row.sends}` : row.key, sha);
    return {
      body,
      headers: { ...p.request.headers, 'idempotency-key': id, ...signHeaders(body, this.secretOf(p.sign), now) },
    };
  }

  private async send(row: OutboxRow, p: Payload, now: number, refresh: boolean): Promise<void> {
    if (p.type === 'grafana-region') {
      try {
        await syncRegion(this.fetch, p);
      } catch (e) {
        const status = Number(/^HTTP (\d+)/.exec((e as Error).message)?.[1] ?? 0);
        const retryAfter = (e as { retryAfter?: number }).retryAfter ?? 0;
        throw new DeliveryError(
          (e as Error).message,
          status > 0 && classify('grafana', status) === 'final',
          retryAfter,
        );
      }
      return;
    }
    if (p.type === 'github-status' || p.type === 'github-review') return this.sendGitHub(p);
    if (p.type === 'command') {
      const svc = this.d.config.services[p.context.deploy.service];
      const hook = p.context.action === 'halt' ? svc?.hooks.halt : svc?.hooks.rollback;
      if (!hook || !('command' in hook)) throw new DeliveryError('command hook no longer configured', true);
      await runCommandHook(hook, p.context);
      return;
    }
    const { body, headers } = this.prepare(row, p, now, refresh);
    const timeout = AbortSignal.timeout(parseDuration(this.delivery.timeout) * 1000);
    const signal = AbortSignal.any([timeout, this.abort.signal]);
    const res = await this.fetch(p.request.url, { method: p.request.method, headers, body, signal });
    const text = await res.text().catch(() => '');
    const verdict = classify(p.request.provider, res.status);
    if (verdict !== 'delivered')
      throw new DeliveryError(
        `HTTP ${res.status}: ${text.slice(0, 200)}`,
        verdict === 'final',
        retryAfterSeconds(res.headers.get('retry-after'), now),
      );
  }

  private async sendGitHub(p: GitHubEffect): Promise<void> {
    const gh = this.github;
    if (!gh) throw new DeliveryError('github is no longer configured', true);
    try {
      if (p.type === 'github-status') return await gh.sendStatus(p);
      const step = await gh.reviewStep(p);
      if (step.kind === 'answer') return await gh.sendReview(p, step);
      throw new DeliveryError(`not ready: ${step.why}`, false);
    } catch (e) {
      if (!(e instanceof GitHubError)) throw e;
      const verdict = e.status === 0 ? 'retry' : classify('github', e.status);
      throw new DeliveryError(e.message, verdict === 'final', e.retryAfter);
    }
  }

  /**
   * A protection rule request that is not ready (no deploy matched yet, or the gate still says wait) is
   * looked at again later without counting as a failed delivery; one that matched a deploy moves to a row
   * of that deploy, which its decisions make due. Returns true when it is handled here.
   */
  private async reviewNotReady(row: OutboxRow, p: Payload, now: number): Promise<boolean> {
    if (p.type !== 'github-review' || !this.github) return false;
    const step = await this.github.reviewStep(p);
    if (step.kind === 'answer') return false;
    if (step.kind === 'moved') {
      await this.d.store.finishEffect(row.id, 'done', now, step.why);
      this.count(row, 'matched');
      this.kick();
    } else {
      await this.d.store.retryEffect(row.id, step.at, step.why);
      this.count(row, 'waiting');
    }
    return true;
  }

  private async deliver(snapshot: OutboxRow): Promise<void> {
    // Re-read: a resolve delivered on another lane may have superseded this row since it was listed.
    const row = await this.d.store.effectByKey(snapshot.key);
    if (!row) return;
    const now = this.d.now();
    const refresh = row.status === 'done';
    if (refresh ? row.refresh_at === null || row.refresh_at > now : row.status !== 'pending') return;
    if (row.next_attempt_at > now && !refresh) return;
    const p = JSON.parse(row.payload) as Payload;
    const maxAge = parseDuration(this.delivery.maxAge) * this.scale;
    if (now - row.created_at > maxAge) return await this.giveUp(row, p, now, maxAge);
    if (!refresh && (await this.reviewNotReady(row, p, now))) return;
    if (!refresh) {
      if (row.claimed_at !== null) {
        // The last attempt started and never finished: the process died mid-send. The receiver may have it;
        // the idempotency key (and the provider's dedup key) lets it drop this copy.
        this.count(row, 'maybe_duplicate');
        this.d.log.warn({ effect: row.key }, 'sending again an effect that was maybe sent before a crash');
      }
      await this.d.store.claimEffect(row.id, now);
    }
    try {
      await this.send(row, p, now, refresh);
    } catch (e) {
      if (this.abort.signal.aborted) return; // stopping: left claimed, sent again after the restart
      const err = e instanceof DeliveryError ? e : new DeliveryError((e as Error).message, false);
      return refresh ? await this.refreshFailed(row, err) : await this.failed(row, p, err);
    }
    const t = this.d.now();
    const stillMatters = t - row.created_at < maxAge;
    const refreshAt =
      this.isAlertmanagerTrigger(row, p) && stillMatters
        ? t + this.refreshEvery(row) * (0.9 + 0.1 * this.random())
        : null;
    await this.d.store.delivered(row.id, t, refreshAt);
    if (refresh) {
      this.count(row, 'refreshed');
      return;
    }
    this.count(row, 'delivered');
    this.d.metrics.pages.inc({ kind: row.kind, status: 'done' });
    this.d.log.info({ effect: row.key, deploy: row.deploy_id, attempts: row.attempts + 1 }, 'effect delivered');
    if (row.action === 'resolve' && row.page_key) {
      await this.d.store.supersede(row.page_key, row.route, row.provider, t);
    }
    if (row.escalated) await this.resolveUndeliverable(row, p);
    if ((p.type === 'request' || p.type === 'command') && p.then === 'rolled_back' && row.deploy_id) {
      await this.d.service.markRolledBack(row.deploy_id, `rolled back to the baseline version by the rollback hook`);
      const deploy = JSON.parse((await this.d.store.getDeploy(row.deploy_id))?.deploy ?? 'null') as Deploy | null;
      if (deploy)
        await this.onDecision({
          deploy,
          status: 'rolled_back',
          reason: 'rolled back to the baseline version',
          watch: null,
          at: this.d.now(),
        });
    }
  }

  private async failed(row: OutboxRow, p: Payload, err: DeliveryError): Promise<void> {
    const now = this.d.now();
    const attempts = row.attempts + 1;
    if (err.final) {
      await this.d.store.finishEffect(row.id, 'failed', now, err.message);
      this.d.metrics.pages.inc({ kind: row.kind, status: 'failed' });
      this.count(row, 'failed');
      this.d.log.warn({ effect: row.key, err: err.message }, 'effect refused for good by its receiver');
      await this.escalate(row, p, err.message, attempts, 'refused by the receiver');
      return;
    }
    const wait = backoffSeconds(attempts, this.backoff, this.random(), err.retryAfter);
    await this.d.store.failAttempt(row.id, now, now + wait, err.message);
    this.count(row, 'retry');
    this.d.log.warn({ effect: row.key, err: err.message, attempts, retryIn: wait }, 'effect failed; will retry');
    if (attempts >= this.delivery.escalateAfter) await this.escalate(row, p, err.message, attempts, 'still failing');
  }

  private async refreshFailed(row: OutboxRow, err: DeliveryError): Promise<void> {
    const now = this.d.now();
    // A refresh that fails is tried again soon: the alert stands for four refreshes, so a few may fail.
    const wait = Math.min(this.refreshEvery(row), backoffSeconds(1, this.backoff, this.random(), err.retryAfter));
    await this.d.store.rescheduleRefresh(row.id, now + wait, err.message);
    this.count(row, 'refresh_failed');
    this.d.log.warn({ effect: row.key, err: err.message }, 'alert refresh failed; will retry');
  }

  private async giveUp(row: OutboxRow, p: Payload, now: number, maxAge: number): Promise<void> {
    const why = `not delivered within paging.delivery.maxAge (${Math.round(maxAge)} s)`;
    await this.d.store.finishEffect(row.id, 'failed', now, `${row.last_error ?? 'never attempted'}; ${why}`);
    this.d.metrics.pages.inc({ kind: row.kind, status: 'failed' });
    this.count(row, 'gave_up');
    this.d.log.warn({ effect: row.key, err: row.last_error }, `effect given up: ${why}`);
    await this.escalate({ ...row, escalated: 0 }, p, `${row.last_error ?? ''}; ${why}`, row.attempts, 'given up');
  }

  /**
   * A page or hook that cannot be delivered: the page also goes to paging.fallback, and a "cannot deliver"
   * page to paging.undeliverable (hooks: to the service's routes when no undeliverable route is set). Once
   * per effect (and once more when it is given up); audited, counted, logged.
   */
  private async escalate(row: OutboxRow, p: Payload, error: string, attempts: number, state: string): Promise<void> {
    if (row.escalated || !ESCALATES.has(row.action ?? '') || (p.type === 'request' && p.noEscalate)) {
      if (p.type === 'request' && p.noEscalate && state !== 'still failing')
        this.d.log.error?.({ effect: row.key, err: error }, 'a fallback or "cannot deliver" page failed too');
      return;
    }
    await this.d.store.markEscalated(row.id);
    const { fallback, undeliverable } = this.d.config.paging;
    const page = p.type === 'request' ? p.page : undefined;
    const now = this.d.now();
    let toFallback = 0;
    if (page && fallback && row.route !== fallback) {
      toFallback = await this.sendPage({ ...page, at: page.at }, [fallback], now, { noEscalate: true });
      this.count(row, 'fallback');
    }
    const deploy = p.type === 'command' ? p.context.deploy : row.deploy_id ? await this.deployOf(row.deploy_id) : null;
    const service = page?.service ?? deploy?.service ?? null;
    const svc = service ? this.d.config.services[service] : undefined;
    const target = undeliverable
      ? [undeliverable]
      : row.action === 'hook' && svc
        ? svc.page.filter((r) => r !== row.route)
        : [];
    const what =
      row.action === 'hook'
        ? `the ${row.provider ?? row.kind} for deploy ${row.deploy_id ?? '?'} (the rollout may not be ${row.kind === 'rollback' ? 'rolled back' : 'halted'})`
        : `a page for deploy ${row.deploy_id ?? '?'} to route ${row.route ?? '?'} (${row.provider ?? row.kind})`;
    const summary = `Navigator cannot deliver ${what}: ${state} after ${attempts} attempt(s): ${error}`.slice(0, 1000);
    let toUndeliverable = 0;
    if (target.length > 0) {
      toUndeliverable = await this.sendPage(
        this.undeliverablePage(row, page, deploy, service, summary, 'trigger'),
        target,
        now,
        {
          noEscalate: true,
        },
      );
      this.count(row, 'undeliverable');
    }
    if (toFallback + toUndeliverable === 0)
      this.d.log.error?.(
        { effect: row.key, err: error },
        `${summary} (no paging.fallback or paging.undeliverable route)`,
      );
    else this.d.log.warn({ effect: row.key, fallback: toFallback, undeliverable: toUndeliverable }, summary);
    await this.d.store.appendAudit(now, 'navigator', 'delivery-escalated', row.deploy_id, {
      effect: row.key,
      route: row.route,
      provider: row.provider,
      state,
      attempts,
      error,
      fallback: toFallback > 0 ? fallback : null,
      undeliverable: toUndeliverable > 0 ? target : [],
    });
    this.kick();
  }

  /** Delivered after all: the "cannot deliver" page it raised is resolved. */
  private async resolveUndeliverable(row: OutboxRow, p: Payload): Promise<void> {
    const page = p.type === 'request' ? p.page : undefined;
    const deploy = p.type === 'command' ? p.context.deploy : row.deploy_id ? await this.deployOf(row.deploy_id) : null;
    const service = page?.service ?? deploy?.service ?? null;
    const key = this.undeliverableKey(row, service);
    const routes = new Set<string>();
    for (const r of await this.d.store.pagesEndingWith(key)) if (r.page_key === key && r.route) routes.add(r.route);
    if (routes.size === 0) return;
    const summary = `delivered after ${row.attempts + 1} attempt(s): ${row.key}`;
    await this.sendPage(
      this.undeliverablePage(row, page, deploy, service, summary, 'resolve'),
      [...routes],
      this.d.now(),
      {
        noEscalate: true,
      },
    );
    await this.d.store.appendAudit(this.d.now(), 'navigator', 'delivery-recovered', row.deploy_id, {
      effect: row.key,
      attempts: row.attempts + 1,
    });
  }

  private undeliverableKey(row: OutboxRow, service: string | null): string {
    return `navigator/${service ?? 'navigator'}/${row.deploy_id ?? 'none'}/undeliverable:${sha(row.key)}`;
  }

  private undeliverablePage(
    row: OutboxRow,
    page: Page | undefined,
    deploy: Deploy | null,
    service: string | null,
    summary: string,
    action: 'trigger' | 'resolve',
  ): Page {
    const base: Page = page ?? {
      key: '',
      action,
      severity: 'critical',
      service: service ?? 'navigator',
      signal: null,
      summary,
      details: {},
      links: deploy
        ? [{ href: `${this.publicBase()}/v1/deploys/${encodeURIComponent(deploy.id)}`, text: 'Deploy in Navigator' }]
        : [],
      deploy: deploy
        ? {
            id: deploy.id,
            service: deploy.service,
            version: deploy.version,
            baselineVersion: deploy.baselineVersion,
            strategy: deploy.strategy,
          }
        : null,
      change: deploy?.change ?? null,
      evidence: null,
      done: [],
      at: this.d.now(),
    };
    return {
      ...base,
      key: this.undeliverableKey(row, service),
      action,
      severity: 'critical',
      summary: action === 'resolve' ? `Navigator ${summary}` : summary,
      details: {
        undelivered_effect: row.key,
        undelivered_route: row.route ?? '',
        undelivered_provider: row.provider ?? row.kind,
        ...(page ? { original_summary: page.summary, original: pageDetails(page).already_done } : {}),
      },
      at: this.d.now(),
    };
  }

  private async deployOf(id: string): Promise<Deploy | null> {
    return JSON.parse((await this.d.store.getDeploy(id))?.deploy ?? 'null') as Deploy | null;
  }
}

function failingEvidence(w: DeployWatch): Evidence | null {
  return signalVerdicts(w).find((s) => s.signal === w.failedSignal)?.evidence ?? null;
}
