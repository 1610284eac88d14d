// Turns the deploy service's events into Navigator's own metrics (and the blindness log lines): the domain
// emits events, this listens, so prom-client stays out of the judge, the watch loop and the store.
import type { DeployService } from '../deploys/service.js';
import type { DeployWatch } from '../watch/deploy-watch.js';
import { signalVerdicts } from '../watch/deploy-watch.js';
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
      const now = new Set(ws.filter((w) => w.blindSince !== null).map((w) => w.deploy.id));
      metrics.blindWatches.set(now.size);
      // One line when a watch goes blind and one when it sees again, not one per watch and tick.
      for (const id of now) {
        if (blind.has(id)) continue;
        const w = service.watcher.get(id);
        o.log?.warn(
          { deploy: id, service: w?.deploy.service, blindSince: w?.blindSince },
          'watch blind: the metric source does not answer; the deploy stays watching and cannot pass',
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
