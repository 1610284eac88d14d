// The outbox (design §4): every effect of a decision (halt hook, rollback hook, page, resolve) is written
// durably with a unique key, then carried out by a worker with retries and backoff. Killed between the
// decision and the delivery, Navigator delivers after the restart; the key (and the providers' own dedup
// keys, alias and label identity) make it happen once. Outcomes are recorded on the deploy.
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { DecisionEvent, DeployService } from '../deploys/service.js';
import type { Deploy } from '../model/deploy.js';
import type { Evidence } from '../model/verdict.js';
import { describeChange, type Page } from '../paging/page.js';
import { routeRequests, type OutgoingRequest } from '../paging/providers.js';
import type { OutboxRow, Store } from '../store/sqlite.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { DeployWatch } from '../watch/deploy-watch.js';
import { signalVerdicts } from '../watch/deploy-watch.js';
import { syncRegion, type GrafanaRegion } from './grafana.js';
import { hookRequest, runCommandHook, type HookContext } from './hooks.js';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

type Payload =
  | GrafanaRegion
  | { type: 'request'; request: OutgoingRequest; then?: 'rolled_back' }
  | { type: 'command'; context: HookContext; then?: 'rolled_back' };

const MAX_ATTEMPTS = 8;

export class Effects {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly fetch: typeof fetch;

  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      service: DeployService;
      now: () => number;
      log: Log;
      metrics: Metrics;
      fetch?: typeof fetch;
    },
  ) {
    this.fetch = d.fetch ?? fetch;
  }

  /** Turns a decision into queued effects, in the store, before anything is sent. */
  onDecision(e: DecisionEvent): void {
    const svc = this.d.config.services[e.deploy.service];
    if (!svc) return;
    const id = e.deploy.id;
    const ev = e.watch ? failingEvidence(e.watch) : null;
    // The region ends at the tick the judge decided on (its data), else when a human or the pipeline did.
    this.annotate(
      e.deploy,
      e.status,
      `deploy ${id} ${e.status}: ${e.reason}`.slice(0, 2000),
      e.watch?.decidedAt ?? e.at,
    );
    if (e.status === 'halted') {
      const done: string[] = [];
      if (svc.hooks.halt) {
        this.queueHook(
          `halt:${id}`,
          'halt',
          svc.hooks.halt,
          { action: 'halt', deploy: e.deploy, reason: e.reason },
          svc.dryRun,
        );
        done.push(svc.dryRun ? 'halt hook recorded (dry run)' : 'rollout halted through the halt hook');
      } else done.push('gate answers halt');
      if (svc.rollback === 'automatic' && svc.hooks.rollback) {
        this.queueHook(
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
      this.page(e.deploy, 'trigger', ev, done, e.reason, 'regression', e.watch?.failedSignal ?? null);
    } else if (e.status === 'rolled_back' || (e.status === 'passed' && e.reason.startsWith('forced'))) {
      this.page(e.deploy, 'resolve', ev, [e.reason], e.reason);
    }
    this.kick();
  }

  /** Grafana annotation for a deploy's start (region closed on its decision), when Grafana is configured. */
  onRegister(deploy: Deploy): void {
    this.annotate(
      deploy,
      'registered',
      `deploy ${deploy.id}: ${deploy.service} ${deploy.version} (${describeChange(deploy.change)})`,
    );
    this.kick();
  }

  /**
   * The deploy's Grafana annotation region, from its start to its decision (src/actions/grafana.ts):
   * registration creates it, each decision sets its end, text and tags.
   */
  private annotate(deploy: Deploy, event: string, text: string, at = this.d.now()): void {
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
    this.d.store.enqueue(`annotation:${deploy.id}:${event}`, 'annotation', deploy.id, region, this.d.now());
  }

  /** A human acknowledged the deploy's page: resolve it everywhere now (once: the resolve keys are shared). */
  acknowledge(deploy: Deploy, by: string, comment: string): number {
    const before = this.d.store.effects(deploy.id).length;
    const why = `acknowledged by ${by}${comment ? `: ${comment}` : ''}`;
    this.page(deploy, 'resolve', null, [why], why, 'regression', null, deploy.service, true);
    this.kick();
    return this.d.store.effects(deploy.id).length - before;
  }

  /** Pages an always-watched signal's regression with the change blamed (or none fits). */
  pageIncident(
    deploy: Deploy | null,
    service: string,
    signal: string,
    summary: string,
    ev: Evidence,
    candidates: string[],
    onset: number,
  ): void {
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
    this.page(
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
  pageAlert(deploy: Deploy, alertname: string, summary: string, candidates: string[], identity: string): void {
    this.page(
      deploy,
      'trigger',
      null,
      [`attributed the alert to ${deploy.id} (candidates: ${candidates.join(', ')})`],
      `alert ${alertname}: ${summary}`,
      `alert:${identity}`,
    );
    this.kick();
  }

  /** Pages once for a watch that has been blind longer than paging.blindAfter: a guard that cannot see says so. */
  checkBlind(watches: readonly DeployWatch[]): void {
    const limit = parseDuration(this.d.config.paging.blindAfter);
    for (const w of watches) {
      if (w.blindSince === null || this.d.now() - w.blindSince < limit) continue;
      this.page(
        w.deploy,
        'trigger',
        null,
        ['still watching, blind'],
        `Navigator cannot see ${w.deploy.service}'s metrics since ${new Date(w.blindSince * 1000).toISOString()}: deploy ${w.deploy.id} is not being judged`,
        `blind:${w.blindSince}`,
      );
    }
  }

  private queueHook(
    key: string,
    kind: string,
    hook: NonNullable<Config['services'][string]['hooks']['halt']>,
    c: HookContext,
    dryRun: boolean,
    then?: 'rolled_back',
  ): void {
    const payload: Payload =
      'url' in hook
        ? { type: 'request', request: hookRequest(hook, c), ...(then ? { then } : {}) }
        : { type: 'command', context: c, ...(then ? { then } : {}) };
    const now = this.d.now();
    if (this.d.store.enqueue(key, kind, c.deploy.id, payload, now) && dryRun)
      this.skip(key, 'dry run: recorded, not sent');
  }

  private page(
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
  ): void {
    const svc = this.d.config.services[routeService];
    if (!svc) return;
    const base = this.d.config.server.publicUrl ?? `http://${this.d.config.server.listen}`;
    const p: Page = {
      key: `navigator/${deploy.service}/${deploy.id}/${suffix}`,
      action,
      severity: svc.tier === 'critical' ? 'critical' : 'error',
      service: deploy.service,
      signal,
      summary:
        action === 'trigger'
          ? `${deploy.service}: ${suffix === 'regression' ? 'regression' : 'blind'} after deploy ${deploy.id} (${describeChange(deploy.change)}): ${reason}`.slice(
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
    for (const route of svc.page) {
      const cfg = this.d.config.paging.routes[route];
      if (!cfg) continue;
      for (const req of routeRequests(cfg, p)) {
        const key = `page:${route}:${req.provider}:${p.key}:${action}`;
        if (
          this.d.store.enqueue(
            key,
            `page:${req.provider}:${action}`,
            deploy.id,
            { type: 'request', request: req } satisfies Payload,
            this.d.now(),
            // A resolve waits a little: the on-call sees the page, and the baseline has the traffic back.
            action === 'resolve' && !resolveNow
              ? this.d.now() + parseDuration(this.d.config.paging.resolveAfter)
              : this.d.now(),
          ) &&
          svc.dryRun
        ) {
          this.skip(key, 'dry run: recorded, not sent');
        }
      }
    }
  }

  private skip(key: string, why: string): void {
    const row = this.d.store.db.prepare('SELECT id FROM outbox WHERE key = ?').get(key) as { id: number } | undefined;
    if (row) this.d.store.finishEffect(row.id, 'skipped', this.d.now(), why);
  }

  start(): void {
    const loop = () => {
      this.timer = setTimeout(() => {
        this.running = this.drain().finally(() => {
          this.running = null;
          loop();
        });
      }, 500);
      this.timer.unref();
    };
    loop();
  }

  /** Delivers soon, without waiting for the next poll. */
  private kick(): void {
    void this.drain();
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
  }

  private chain: Promise<void> = Promise.resolve();

  /**
   * Carries out every due effect once; failures are retried with exponential backoff. Drains run one at a
   * time (chained), so two callers never send the same row twice.
   */
  drain(): Promise<void> {
    if (this.stopped) return this.chain;
    this.chain = this.chain.then(async () => {
      if (this.stopped) return;
      for (const row of this.d.store.dueEffects(this.d.now())) await this.deliver(row);
    });
    return this.chain;
  }

  private async deliver(row: OutboxRow): Promise<void> {
    const p = JSON.parse(row.payload) as Payload;
    try {
      if (p.type === 'grafana-region') await syncRegion(this.fetch, p);
      else if (p.type === 'request') {
        const res = await this.fetch(p.request.url, {
          method: p.request.method,
          headers: p.request.headers,
          body: p.request.body,
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text().catch(() => '');
        if (!res.ok) {
          const retryable = res.status === 429 || res.status >= 500;
          throw Object.assign(new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`), {
            retryable,
            retryAfter: Number(res.headers.get('retry-after')) || 0,
          });
        }
      } else {
        const svc = this.d.config.services[p.context.deploy.service];
        const hook = p.context.action === 'halt' ? svc?.hooks.halt : svc?.hooks.rollback;
        if (!hook || !('command' in hook))
          throw Object.assign(new Error('command hook no longer configured'), { retryable: false });
        await runCommandHook(hook, p.context);
      }
      this.d.store.finishEffect(row.id, 'done', this.d.now());
      this.d.metrics.pages.inc({ kind: row.kind, status: 'done' });
      this.d.log.info({ effect: row.key, deploy: row.deploy_id }, 'effect delivered');
      if (p.type !== 'grafana-region' && p.then === 'rolled_back' && row.deploy_id) {
        this.d.service.markRolledBack(row.deploy_id, `rolled back to the baseline version by the rollback hook`);
        const deploy = JSON.parse(this.d.store.getDeploy(row.deploy_id)?.deploy ?? 'null') as Deploy | null;
        if (deploy)
          this.onDecision({
            deploy,
            status: 'rolled_back',
            reason: 'rolled back to the baseline version',
            watch: null,
            at: this.d.now(),
          });
      }
    } catch (e) {
      const err = e as Error & { retryable?: boolean; retryAfter?: number };
      const attempts = row.attempts + 1;
      if (err.retryable === false || attempts >= MAX_ATTEMPTS) {
        this.d.store.finishEffect(row.id, 'failed', this.d.now(), err.message);
        this.d.metrics.pages.inc({ kind: row.kind, status: 'failed' });
        this.d.log.warn({ effect: row.key, err: err.message }, 'effect failed for good');
      } else {
        const backoff = Math.max(err.retryAfter ?? 0, Math.min(300, 2 ** attempts));
        this.d.store.retryEffect(row.id, this.d.now() + backoff, err.message);
        this.d.log.warn({ effect: row.key, err: err.message, retryIn: backoff }, 'effect failed; will retry');
      }
    }
  }
}

function failingEvidence(w: DeployWatch): Evidence | null {
  return signalVerdicts(w).find((s) => s.signal === w.failedSignal)?.evidence ?? null;
}
