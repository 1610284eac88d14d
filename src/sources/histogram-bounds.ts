// Checks that every latency signal's histogram has its `slowerThan` bound, as early as the source allows:
// - `metrics.source: prometheus`: `navigator serve` asks Prometheus before it opens anything (one instant query
//   per signal's histogram) and refuses to start when a bound is missing; `navigator config check
//   --prometheus` asks the same question;
// - the embedded scraper: every successful scrape of a target is checked before its samples are stored,
//   so the first scrape that shows the histogram decides, and says so, before any tick is judged on it.
// A histogram with no series yet (the service not deployed, a metric not exported yet) is not an error: it
// is checked when its series appear, and until then the watch's own per-tick check stands (a deploy is never
// judged on a histogram without the bound: its signal ends the deploy inconclusive, naming the bound).
import type { Config, LatencySignalConfig } from '../config/schema.js';
import { boundsOf, latencySelectors, missingBound, parseLe, sameBound, slowBound } from '../signals/histogram.js';
import { compileMatchers, type SeriesSelector } from './types.js';

export interface LatencySignalRef {
  service: string;
  signal: string;
  sig: LatencySignalConfig;
}

/** One signal's check: `missing` is a configuration error, `unseen` is checked again once series appear. */
export interface BoundCheck {
  service: string;
  signal: string;
  metric: string;
  /** slowerThan in the histogram's unit */
  bound: number;
  status: 'ok' | 'missing' | 'unseen';
  /** the finite bounds the histogram's series have */
  bounds: number[];
  /** series groups (label sets without `le`) seen, and those without the bound */
  groups: number;
  lacking: number;
  /** what to tell the user (for `missing`, a config error naming the key) */
  message: string;
}

export function latencySignals(config: Config): LatencySignalRef[] {
  const out: LatencySignalRef[] = [];
  for (const [service, sc] of Object.entries(config.services))
    for (const [signal, sig] of Object.entries(sc.signals))
      if (sig.kind === 'latency') out.push({ service, signal, sig });
  return out;
}

const withoutLe = (labels: Record<string, string>) =>
  JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== 'le')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );

function formatLabels(labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .filter(([k]) => k !== 'le')
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return `{${inner}}`;
}

/**
 * The check on label sets of the histogram's `_bucket` (and `_count`) series that match the signal. A
 * `_count` series without any bucket lacks the bound too: the watch could not derive its slow requests.
 */
export function checkBound(
  ref: LatencySignalRef,
  buckets: readonly Record<string, string>[],
  counts: readonly Record<string, string>[] = [],
): BoundCheck {
  const { service, signal, sig } = ref;
  const bound = slowBound(sig);
  const all = [...buckets, ...counts];
  const bounds = boundsOf(buckets.map((labels) => ({ labels, values: new Float64Array(0) })));
  const groups = new Set(all.map(withoutLe)).size;
  const base = { service, signal, metric: sig.metric, bound, bounds, groups };
  if (all.length === 0)
    return {
      ...base,
      status: 'unseen',
      lacking: 0,
      message:
        `services.${service}.signals.${signal}: no series of ${sig.metric}_bucket${formatLabels(sig.matchers)} yet, ` +
        `so its bound le="${bound}" is checked when they appear (until then no deploy is judged on it)`,
    };
  const err = missingBound(sig, all);
  if (!err)
    return {
      ...base,
      status: 'ok',
      lacking: 0,
      message: `services.${service}.signals.${signal}: histogram ${sig.metric} has le="${bound}" on all ${groups} series`,
    };
  const have = new Map<string, boolean>();
  for (const l of all) have.set(withoutLe(l), (have.get(withoutLe(l)) ?? false) || sameBound(parseLe(l.le), bound));
  const lackingKeys = [...have.entries()].filter(([, ok]) => !ok).map(([k]) => k);
  const example = all.find((l) => withoutLe(l) === lackingKeys[0]) ?? {};
  return {
    ...base,
    status: 'missing',
    lacking: lackingKeys.length,
    message:
      `services.${service}.signals.${signal}.slowerThan: ${err.message}; ` +
      `${lackingKeys.length} of ${groups} series lack it, e.g. ${sig.metric}_bucket${formatLabels(example)}`,
  };
}

/** Label sets of a selector's series as a source sees them now. */
export type SeriesLabels = (sel: SeriesSelector) => Promise<Record<string, string>[]>;

/** Checks every latency signal of the config against a source: one question per signal's histogram. */
export async function checkBounds(config: Config, labelsOf: SeriesLabels): Promise<BoundCheck[]> {
  return Promise.all(
    latencySignals(config).map(async (ref) => {
      const s = latencySelectors(ref.sig);
      const [buckets, counts] = await Promise.all([labelsOf(s.buckets), labelsOf(s.count)]);
      return checkBound(ref, buckets, counts);
    }),
  );
}

/**
 * The embedded scraper's check: each successful scrape's series, per target, before they are stored. The
 * status of a signal is that of the latest scrape of each target that serves its histogram; a change is
 * told once (`onChange`), so the first scrape that shows the histogram decides and says so.
 */
export class ScrapeBoundChecks {
  private readonly refs: LatencySignalRef[];
  /** `${service}/${signal}` -> target -> latest check of that target's series */
  private readonly byTarget = new Map<string, Map<string, BoundCheck>>();

  constructor(
    config: Config,
    private readonly onChange: (check: BoundCheck, target: string) => void,
  ) {
    this.refs = latencySignals(config);
  }

  get count(): number {
    return this.refs.length;
  }

  /** `series`: the scrape's kept series (metric name and labels). */
  scraped(target: string, series: readonly { metric: string; labels: Record<string, string> }[]): void {
    for (const ref of this.refs) {
      const s = latencySelectors(ref.sig);
      const match = compileMatchers(ref.sig.matchers);
      const buckets = series.filter((x) => x.metric === s.buckets.metric && match(x.labels)).map((x) => x.labels);
      const counts = series.filter((x) => x.metric === s.count.metric && match(x.labels)).map((x) => x.labels);
      const key = `${ref.service}/${ref.signal}`;
      let targets = this.byTarget.get(key);
      if (!targets) this.byTarget.set(key, (targets = new Map()));
      const check = checkBound(ref, buckets, counts);
      if (check.status === 'unseen') continue; // this target does not serve the histogram (yet)
      const before = targets.get(target);
      targets.set(target, check);
      if (!before || before.status !== check.status) this.onChange(check, target);
    }
  }

  /** Every signal's status now: missing if any target's latest scrape lacks the bound, unseen if none served it. */
  checks(): BoundCheck[] {
    return this.refs.map((ref) => {
      const targets = [...(this.byTarget.get(`${ref.service}/${ref.signal}`)?.values() ?? [])];
      return targets.find((c) => c.status === 'missing') ?? targets[0] ?? checkBound(ref, []);
    });
  }
}

/** How far back a start-up check looks for a histogram's series: the ones that exist now, give or take. */
export const CHECK_LOOKBACK = 600;

/**
 * Asks a Prometheus (the config's own, or `url` with the config's headers and credentials) for every latency
 * signal's series. Throws SourceError when it cannot answer.
 */
export async function prometheusBoundChecks(config: Config, o: { url?: string; now: number }): Promise<BoundCheck[]> {
  const { prometheusFromConfig } = await import('./prometheus-config.js');
  const p = config.metrics.prometheus;
  const source = prometheusFromConfig(p, { url: o.url ?? p.url });
  return checkBounds(config, (sel) => source.seriesLabels(sel, o.now, CHECK_LOOKBACK));
}
