// What every metric source (OpenMetrics file, embedded scraper, Prometheus HTTP API) gives the watch loop.

/** One metric and its label matchers: label -> regex, anchored as PromQL's =~ (a missing label is ""). */
export interface SeriesSelector {
  metric: string;
  matchers: Record<string, string>;
}

/** A counter series sampled on a tick grid. */
export interface SeriesGrid {
  labels: Record<string, string>;
  /**
   * values[i] is the last sample with timestamp in (t_i - step, t_i], t_i = from + i * step; NaN when there is
   * none. This is PromQL's `last_over_time(metric[step])` evaluated on the grid, so a missed scrape shows as NaN.
   */
  values: Float64Array;
}

export interface MetricSource {
  /** Every series matching `sel`, on the grid from..to inclusive (epoch seconds), `step` seconds apart. */
  grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]>;
}

/** Thrown by a source that could not answer (down, timed out, garbage): the watch goes blind, never passes. */
export class SourceError extends Error {
  constructor(
    message: string,
    readonly source: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** Compiles matchers once: anchored regexes as PromQL does. */
export function compileMatchers(matchers: Record<string, string>): (labels: Record<string, string>) => boolean {
  const tests = Object.entries(matchers).map(([label, re]) => [label, new RegExp(`^(?:${re})$`)] as const);
  return (labels) => tests.every(([label, re]) => re.test(labels[label] ?? ''));
}
