// The composition root: builds the store, the metric source, the deploy service with its judge, the live
// loop, the effects and the HTTP app from one config. `navigator serve`, the demo and the tests use it.
import type { FastifyInstance } from 'fastify';
import { parseDuration } from './config/duration.js';
import type { Config } from './config/schema.js';
import { DeployService } from './deploys/service.js';
import { Auth, listenAddress } from './http/auth.js';
import { buildHttp } from './http/app.js';
import { prometheusFromConfig } from './sources/prometheus-config.js';
import { ScrapeBoundChecks } from './sources/histogram-bounds.js';
import { Scraper } from './sources/scraper.js';
import type { MetricSource } from './sources/types.js';
import { openStore } from './store/open.js';
import { replicaMetrics, replicaOf } from './store/replica.js';
import type { Store } from './store/types.js';
import { attachTelemetry } from './telemetry/attach.js';
import { createMetrics, type Metrics } from './telemetry/metrics.js';
import { LiveLoop } from './watch/live.js';
import { WorkerObserver } from './watch/worker-observer.js';
import { selectorsOf } from './watch/inputs.js';
import { Effects } from './actions/effects.js';
import { ATTRIBUTION_WINDOW, attributionSettings, recentCandidates } from './attribution/candidates.js';
import { rankCandidates } from './attribution/rank.js';
import { AlwaysWatches } from './watch/always-live.js';
import { integrationRoutes } from './http/integrations.js';
import { attachAudit } from './audit/setup.js';
import { peopleRoutes } from './http/people.js';
import { slackApprovalRequests } from './http/slack-approvals.js';
import { alwaysRoutes } from './http/always.js';
import { githubRoutes } from './http/github.js';

export interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const silent: Log = { info() {}, warn() {}, error() {} };

export interface Navigator {
  config: Config;
  store: Store;
  source: MetricSource;
  scraper: Scraper | null;
  service: DeployService;
  effects: Effects;
  loop: LiveLoop;
  always: AlwaysWatches;
  http: FastifyInstance;
  /** the same fastify instance as `http` */
  app: FastifyInstance;
  metrics: Metrics;
  start(): Promise<{ url: string }>;
  close(): Promise<void>;
}

export async function buildNavigator(o: {
  config: Config;
  now?: () => number;
  source?: MetricSource;
  /** pino or anything with info/warn/error; `logger` is the same */
  log?: Log;
  logger?: Log;
  fetch?: typeof fetch;
  /**
   * Seconds to wait after a tick ends before judging it, so its last samples have landed (see watch/live.ts).
   * Default: a quarter step up to 2 s for the embedded scraper, half a step up to 10 s for Prometheus.
   */
  settle?: number;
  /**
   * With `metrics.source: prometheus` (and no `source` passed in), ticks read Prometheus in a worker thread
   * so the API's event loop only judges (watch/observer.ts). Default true (NAVIGATOR_OBSERVE_WORKER=0: false);
   * false reads on this thread.
   */
  observeInWorker?: boolean;
}): Promise<Navigator> {
  const { config } = o;
  const now = o.now ?? (() => Date.now() / 1000);
  const log = o.log ?? o.logger ?? silent;
  const step = parseDuration(config.evaluation.interval);
  const metrics = createMetrics();
  const auth = new Auth(config);
  const address = listenAddress(config.server.listen, auth.enabled); // refuse a bad address before opening anything

  let scraper: Scraper | null = null;
  let source: MetricSource;
  if (o.source) source = o.source;
  else if (config.metrics.source === 'prometheus') {
    source = prometheusFromConfig(config.metrics.prometheus, {
      onQuery: (outcome, seconds) => {
        metrics.sourceQueries.inc({ outcome });
        metrics.sourceQuerySeconds.observe({ outcome }, seconds);
      },
    });
  } else {
    const keep = new Set<string>();
    for (const svc of Object.values(config.services)) {
      for (const sig of Object.values(svc.signals)) {
        const { num, den } = selectorsOf(sig);
        keep.add(num.metric);
        if (den) keep.add(den.metric);
      }
    }
    // Latency signals' bucket bounds are checked on every scrape before it is stored (histogram-bounds.ts).
    const bounds = new ScrapeBoundChecks(config, (c, target) =>
      c.status === 'missing'
        ? log.error({ service: c.service, signal: c.signal, target, bounds: c.bounds }, c.message)
        : log.info({ service: c.service, signal: c.signal, target }, c.message),
    );
    scraper = new Scraper({
      ...(bounds.count ? { onSeries: (target, series) => bounds.scraped(target, series) } : {}),
      targets: [...config.metrics.scrape.targets],
      interval: step,
      timeout: parseDuration(config.metrics.scrape.timeout),
      retention: parseDuration(config.metrics.scrape.retention),
      keep,
      now,
      onError: (target, err) => {
        metrics.sourceErrors.inc({ source: 'scrape' });
        log.warn({ target, err: err.message }, 'scrape failed');
      },
    });
    source = scraper;
  }

  const store = await openStore(config);
  // On a shared store (PostgreSQL) this process is one of several replicas: watches and lanes under leases.
  const replica = replicaOf(config, store);
  const auditVerifier = await attachAudit({ config, store, metrics, log });
  const observer =
    !o.source &&
    config.metrics.source === 'prometheus' &&
    (o.observeInWorker ?? process.env.NAVIGATOR_OBSERVE_WORKER !== '0')
      ? new WorkerObserver({
          config,
          log,
          onQuery: (outcome, seconds) => {
            metrics.sourceQueries.inc({ outcome });
            metrics.sourceQuerySeconds.observe({ outcome }, seconds);
          },
        })
      : undefined;
  const service = new DeployService({
    config,
    store,
    source,
    now,
    log,
    ...(observer ? { observer } : {}),
    ...(replica ? { replica: { ...replica, info: (obj, msg) => log.info(obj, msg) } } : {}),
  });
  const effects = new Effects({
    config,
    store,
    service,
    now,
    log,
    metrics,
    fetch: o.fetch,
    ...(replica ? { replica: replica.id } : {}),
  });
  if (replica) replicaMetrics(metrics.registry, replica, service, store);
  attachTelemetry(metrics, service, { source: config.metrics.source, log });
  // Effects are queued inside the transaction that records the decision: a crash never separates them.
  service.on({
    decisionInTransaction: (e) => effects.onDecision(e),
    decision: (e) =>
      log.info(
        { deploy: e.deploy.id, service: e.deploy.service, status: e.status, reason: e.reason, actor: e.actor },
        `deploy ${e.status}`,
      ),
    registered: (deploy) => effects.onRegister(deploy),
    tick: () => effects.checkBlind(service.watcher.watches()),
  });
  // Deploys that wait for people get Approve / Acknowledge buttons in Slack (http/slack-approvals.ts).
  service.on(slackApprovalRequests({ config, store, now }));
  // watch: always signals: every regression episode is attributed to recent changes of all services and paged.
  const always = new AlwaysWatches({
    config,
    source,
    step,
    absentAfter: config.evaluation.absentAfter,
    onIncident: async (inc) => {
      const t = now();
      const { candidates, byId } = await recentCandidates(store, t, ATTRIBUTION_WINDOW);
      const ranked = rankCandidates(inc, candidates, attributionSettings(config, step));
      const blamed = byId.get(ranked[0]?.id ?? '') ?? null;
      await store.appendAudit(t, 'navigator', 'incident', blamed?.id ?? null, {
        service: inc.service,
        signal: inc.signal,
        onset: inc.onset,
        candidates: ranked,
        evidence: inc.evidence,
      });
      log.warn(
        { service: inc.service, signal: inc.signal, blamed: blamed?.id ?? null },
        `incident: ${inc.evidence.sentence}`,
      );
      await effects.pageIncident(
        blamed,
        inc.service,
        inc.signal,
        `${inc.service}/${inc.signal} regressed: ${inc.evidence.sentence}`,
        inc.evidence,
        ranked.map((r) => r.id),
        inc.onset,
      );
    },
    onError: (service, signal, error) => log.error({ service, signal }, error),
    onStatus: (s) => {
      const labels = { service: s.service, signal: s.signal };
      metrics.alwaysWarmingUp.set(labels, s.state === 'warming-up' ? 1 : 0);
      metrics.alwaysHistory.set(labels, s.historySeconds);
      if (Number.isFinite(s.margin)) metrics.alwaysMargin.set(labels, s.margin);
      if (s.calibration) metrics.alwaysReplayPages.set(labels, s.calibration.pages);
    },
  });
  const settle = o.settle ?? (config.metrics.source === 'prometheus' ? Math.min(10, step / 2) : Math.min(2, step / 4));
  let ready = false;
  const loop = new LiveLoop({
    step,
    settle,
    now,
    tick: async (t) => {
      await service.tick(t);
      // always-watched signals: on several replicas, one of them (a lease like a lane's) judges and pages.
      if (always.count && (!replica || (await store.claimLane('always-watches', replica.id, now(), replica.lease))))
        await always.tick(t);
      ready = true;
    },
    onSkip: () => metrics.ticksSkipped.inc(),
    onError: (err) => log.error({ err }, 'tick failed'),
  });
  const http = await buildHttp({
    service,
    store,
    auth,
    metrics,
    ready: () => ready,
    log,
    audit: auditVerifier,
    pipelineWrites: config.auth.pipelineWrites,
    extraRoutes: (app) => {
      integrationRoutes({ config, service, store, auth, effects, now })(app);
      peopleRoutes({ config, service, store, auth, effects, now, source, fetch: o.fetch })(app);
      alwaysRoutes({ auth, statuses: () => always.statuses() })(app);
      githubRoutes({ config, effects, store, now })(app);
    },
  });

  let closed = false;
  return {
    config,
    store,
    source,
    scraper,
    service,
    effects,
    loop,
    always,
    http,
    app: http,
    metrics,
    async start() {
      const resumed = await service.restore();
      if (resumed) log.info({ resumed }, 'resumed open watches from the store');
      scraper?.start();
      loop.start();
      await effects.start();
      ready = true;
      const url = await http.listen(address);
      log.info({ url, source: config.metrics.source, step }, 'navigator listening');
      return { url };
    },
    async close() {
      if (closed) return;
      closed = true;
      await loop.stop();
      await service.watcher.stop();
      scraper?.stop();
      await effects.stop();
      await http.close();
      // A replica stopping on purpose hands its watches and lanes to the others now, not a lease later.
      await service.releaseLeases().catch((err: unknown) => log.warn({ err }, 'cannot release the leases'));
      await store.close();
    },
  };
}
