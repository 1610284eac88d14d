// Turns the deploy service's events into Navigator's own metrics (and the blindness log lines): the domain
// emits events, this listens, so prom-client stays out of the judge, the watch loop and the store.
import type { DeployService } from '../deploys/service.js';
import type { DeployWatch } from '../watch/deploy-watch.js';
import { blindness, signalVerdicts } from '../watch/deploy-watch.js';
import type { Metrics } from './metrics.js';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export function attachTelemetry(
  metrics: Metrics,
  service: DeployService,
  o: { source: string; log?: Log },
): () => void {
  let blind = new Set<string>();
  return service.on({
    decision: (e) => {
      metrics.verdicts.inc({ outcome: e.status, service: e.deploy.service });
      metrics.deployEvents.inc({ service: e.deploy.service, event: e.status });
      if (e.status === 'halted' && e.watch?.decidedAt != null)
        metrics.detectionDelay.observe({ service: e.deploy.service }, e.watch.decidedAt - e.deploy.startedAt);
    },
    registered: (deploy) => metrics.deployEvents.inc({ service: deploy.service, event: 'registered' }),
    blind: () => metrics.sourceErrors.inc({ source: o.source }),
    tick: (seconds, watches) => {
      metrics.tickDuration.observe(seconds);
      metrics.activeWatches.set(watches);
      const ws = service.watcher.watches();
      const now = new Set(ws.filter((w) => blindness(w).blind).map((w) => w.deploy.id));
      metrics.blindWatches.set(now.size);
      updateBlindGauges(ws, metrics);
      // One line when a watch goes blind and one when it sees again, not one per watch and tick.
      for (const id of now) {
        if (blind.has(id)) continue;
        const w = service.watcher.get(id);
        const b = w ? blindness(w) : null;
        o.log?.warn(
          {
            deploy: id,
            service: w?.deploy.service,
            blindSince: b?.since != null ? new Date(b.since * 1000).toISOString() : null,
            signals: b?.signals.map((x) => ({ signal: x.signal, reason: x.reason })),
          },
          'watch blind: Navigator cannot see this deploy; it stays watching and cannot pass',
        );
      }
      for (const id of blind)
        if (!now.has(id) && service.watcher.get(id)) o.log?.info({ deploy: id }, 'watch sees again');
      blind = now;
      updateSignalGauges(ws, metrics);
    },
  });
}

/**
 * Per service and signal, the latest watched deploy's state, straight from the judge (no store reads).
 * Only the newest watch per service is summarised: the gauges are per service, not per deploy.
 */
export function updateSignalGauges(ws: readonly DeployWatch[], metrics: Metrics): void {
  const newest = new Map<string, DeployWatch>();
  for (const w of ws) {
    const cur = newest.get(w.deploy.service);
    if (!cur || cur.deploy.startedAt < w.deploy.startedAt) newest.set(w.deploy.service, w);
  }
  for (const w of newest.values()) {
    for (const v of signalVerdicts(w)) {
      const ev = v.evidence;
      if (!ev) continue;
      const labels = { service: w.deploy.service, signal: v.signal };
      metrics.signalEffect.set(labels, ev.effect.estimate);
      metrics.signalEvidence.set(labels, ev.threshold > 0 ? Math.max(0, ev.statistic) / ev.threshold : 0);
    }
    for (const s of w.signals) {
      if (!s.last) continue;
      metrics.signalObserved.set({ service: w.deploy.service, signal: s.name }, s.last.observed);
      metrics.signalForecast.set({ service: w.deploy.service, signal: s.name }, s.last.expected);
    }
  }
}

/** Per service and signal: blind now (1/0) and since when, over every watched deploy of the service. */
function updateBlindGauges(ws: readonly DeployWatch[], metrics: Metrics): void {
  const since = new Map<string, { service: string; signal: string; since: number | null }>();
  for (const w of ws) {
    const b = blindness(w);
    for (const s of w.signals) {
      const key = JSON.stringify([w.deploy.service, s.name]);
      const cur = since.get(key) ?? { service: w.deploy.service, signal: s.name, since: null };
      const mine = b.signals.find((x) => x.signal === s.name)?.since ?? null;
      if (mine !== null && (cur.since === null || mine < cur.since)) cur.since = mine;
      since.set(key, cur);
    }
  }
  metrics.signalBlind.reset();
  metrics.signalBlindSince.reset();
  for (const x of since.values()) {
    metrics.signalBlind.set({ service: x.service, signal: x.signal }, x.since === null ? 0 : 1);
    if (x.since !== null) metrics.signalBlindSince.set({ service: x.service, signal: x.signal }, x.since);
  }
}
