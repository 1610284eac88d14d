// What every metric source (OpenMetrics file, embedded scraper, Prometheus HTTP API) gives the watch loop.

/** One metric and its label matchers: label -> regex, anchored as PromQL's =~ (a missing label is ""). */
export interface SeriesSelector {
  metric: string;
  matchers: Record<string, string>;
  /**
   * The labels the caller splits series by (a watch's cohort label): a source may sum the series by them at
   * the server (and by target), returning one series per target and value; without it, per target only.
   */
  by?: readonly string[];
}

/** A counter series sampled on a tick grid. */
export interface SeriesGrid {
  labels: Record<string, string>;
  /**
   * values[i] is the last sample with timestamp in (t_i - step, t_i], t_i = from + i * step; NaN when there is
   * none. This is PromQL's `last_over_time(metric[step])` evaluated on the grid, so a missed scrape shows as NaN.
   */
  values: Float64Array;
  /**
   * The health of the target this series comes from, on the same grid (only from `observe`): 1 it was
   * scraped successfully in that tick, 0 its scrape failed, NaN no scrape landed in that tick (a scrape
   * interval longer than the tick, or one still in flight). Absent when the source does not know.
   */
  up?: Float64Array;
}

/**
 * What a source saw of a selector on a grid, with its health (design §8 "seeing is data"): the series and,
 * per grid point, whether the source was blind there. Sources without target health (a recording file,
 * a Prometheus without `up` for the series) leave `health` false and the observation falls back to the
 * samples alone.
 */
export interface Observed {
  series: SeriesGrid[];
  /** per grid point: why the source could not see this selector there (a target that serves it failed), or null */
  blind: (string | null)[];
  /** whether the source reports target health (`up`) for these series */
  health: boolean;
}

export interface MetricSource {
  /** Every series matching `sel`, on the grid from..to inclusive (epoch seconds), `step` seconds apart. */
  grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]>;
  /** `grid` with target health; sources that do not know health leave it out (see `observeOf`). */
  observe?(sel: SeriesSelector, from: number, to: number, step: number): Promise<Observed>;
}

/** A source's observation of `sel`: its own when it has one, else the bare grid without health. */
export async function observeOf(
  source: MetricSource,
  sel: SeriesSelector,
  from: number,
  to: number,
  step: number,
): Promise<Observed> {
  if (source.observe) return source.observe(sel, from, to, step);
  const series = await source.grid(sel, from, to, step);
  const points = gridPoints(from, to, step);
  return { series, blind: new Array<string | null>(points).fill(null), health: false };
}

/** Number of grid points t_i = from + i*step <= to (the epsilon keeps 2.9999999 from losing a point). */
export function gridPoints(from: number, to: number, step: number): number {
  return to < from ? 0 : Math.floor((to - from) / step + 1e-9) + 1;
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
