// Navigator's own metrics, on its own registry (never the global one). Domain code emits events; this
// module turns them into prom-client metrics. No deploy ids as label values: their number is unbounded.
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * prom-client's default gauges that end in `_total` (a counter's suffix: `promtool check metrics` flags
 * them); the same numbers stay exported per resource type without the suffix (nodejs_active_handles etc.).
 */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The package version, from package.json two levels up (the same from src/ and from dist/). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function createMetrics() {
  const registry = new Registry();
  // The standard process_* and nodejs_* names, unprefixed, as every Node.js dashboard expects them: instances
  // are told apart by their `job` label. (A prefix would give navigator_process_process_cpu_seconds_total.)
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  new Gauge({
    name: 'navigator_build_info',
    help: 'Always 1; the labels say which Navigator build and Node.js runtime this is',
    labelNames: ['version', 'nodejs_version'] as const,
    registers: [registry],
  }).set({ version: packageVersion(), nodejs_version: process.versions.node }, 1);
  const m = {
    registry,
    activeWatches: new Gauge({
      name: 'navigator_active_watches',
      help: 'Deploys being watched',
      registers: [registry],
    }),
    blindWatches: new Gauge({
      name: 'navigator_blind_watches',
      help: 'Watched deploys whose metric source is not answering',
      registers: [registry],
    }),
    signalBlind: new Gauge({
      name: 'navigator_signal_blind',
      help: 'Whether a signal of a watched deploy of the service cannot see its data now (1 blind)',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    signalBlindSince: new Gauge({
      name: 'navigator_signal_blind_since_timestamp_seconds',
      help: 'Since when the signal is blind (the earliest over the watched deploys of the service)',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    verdicts: new Counter({
      name: 'navigator_verdicts_total',
      help: 'Deploy decisions by outcome (halted, passed, awaiting_approval, rolled_back)',
      labelNames: ['outcome', 'service'] as const,
      registers: [registry],
    }),
    tickDuration: new Histogram({
      name: 'navigator_tick_duration_seconds',
      help: 'Time to judge every open watch for one tick',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    ticksSkipped: new Counter({
      name: 'navigator_ticks_skipped_total',
      help: 'Ticks skipped because the previous one still ran',
      registers: [registry],
    }),
    sourceErrors: new Counter({
      name: 'navigator_source_errors_total',
      help: 'Failed metric queries or scrapes',
      labelNames: ['source'] as const,
      registers: [registry],
    }),
    sourceQueries: new Counter({
      name: 'navigator_source_queries_total',
      help: 'HTTP queries to the Prometheus source by outcome (ok, partial, retry, error); each attempt counts',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    sourceQuerySeconds: new Histogram({
      name: 'navigator_source_query_seconds',
      help: 'Time of one HTTP query to the Prometheus source by outcome, once it holds a concurrency slot',
      labelNames: ['outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    detectionDelay: new Histogram({
      name: 'navigator_detection_delay_seconds',
      help: 'From a deploy start to its halt',
      labelNames: ['service'] as const,
      buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    pages: new Counter({
      name: 'navigator_pages_total',
      help: 'Pages and other effects delivered',
      labelNames: ['kind', 'status'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'navigator_deliveries_total',
      help: 'Outbox delivery outcomes by route, provider and outcome (delivered, retry, failed, fallback, undeliverable, superseded, refreshed, refresh_failed, gave_up, maybe_duplicate, skipped)',
      labelNames: ['route', 'provider', 'outcome'] as const,
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'navigator_http_requests_total',
      help: 'HTTP requests served',
      labelNames: ['route', 'method', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'navigator_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['route', 'method'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    signalEffect: new Gauge({
      name: 'navigator_signal_effect_ratio',
      help: 'Relative effect of the new version (canary vs baseline, or vs forecast) per service and signal, latest watched deploy',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    signalEvidence: new Gauge({
      name: 'navigator_signal_evidence_ratio',
      help: 'ln(e-value) / ln(threshold) per service and signal, latest watched deploy: 1 fails the deploy',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    signalObserved: new Gauge({
      name: 'navigator_signal_observed_events',
      help: 'Events of the judged version in the last tick per service and signal (history-judged deploys): next to the forecast',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    signalForecast: new Gauge({
      name: 'navigator_signal_forecast_events',
      help: 'Events the frozen forecast expected in the last tick per service and signal (history-judged deploys)',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    alwaysWarmingUp: new Gauge({
      name: 'navigator_always_warming_up',
      help: 'Always-watched signals still warming up (1): too little history for the forecast detector, only a collapse to near zero can page',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    alwaysHistory: new Gauge({
      name: 'navigator_always_history_seconds',
      help: 'History an always-watched signal is judged against (it is armed from 7 days)',
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    alwaysMargin: new Gauge({
      name: 'navigator_always_margin_ratio',
      help: "The forecaster's measured level error over two hours (its 0.05% tail on replayed origins): a normal window runs this far from its forecast about once in 2,000; the detector integrates over that error's law, so smaller sustained changes page, later",
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    alwaysReplayPages: new Gauge({
      name: 'navigator_always_replay_pages',
      help: "Pages the detector would have sent replayed on the signal's own history at start (its calibration)",
      labelNames: ['service', 'signal'] as const,
      registers: [registry],
    }),
    deployEvents: new Counter({
      name: 'navigator_deploy_events_total',
      help: 'Deploy lifecycle events for dashboard annotations: registered, halted, rolled_back, passed',
      labelNames: ['service', 'event'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
