// Generates OpenMetrics recordings (contracts §3) with known regressions, for CLI tests and benchmarks:
// a daily cycle, shared burstiness, per-version over-dispersion, canary and all-at-once deploys, drops
// of any size, and series that vanish.
import { gamma, mulberry32, overdispersed, type Rng } from './random.js';

export interface SeriesSpec {
  metric: string;
  labels: Record<string, string>;
  /** events per second at time t (before noise) */
  rate: (t: number) => number;
  /** the series reports nothing from this time on (a deleted environment) */
  stopsAt?: number;
  /** the series appears at this time */
  startsAt?: number;
}

export interface RecordingSpec {
  from: number;
  to: number;
  step: number;
  seed: number;
  series: SeriesSpec[];
  /** per-series variance over Poisson */
  dispersion?: number;
  /** shape of the gamma burst multiplier shared by all series each step (Infinity: none) */
  burstShape?: number;
}

/** A daily cycle around `base` events/s (peak in the afternoon, trough at night). */
export function diurnal(base: number, amplitude = 0.5): (t: number) => number {
  return (t) => base * (1 + amplitude * Math.sin((2 * Math.PI * ((t % 86400) - 6 * 3600)) / 86400));
}

export function generateOpenMetrics(spec: RecordingSpec): string {
  const rng: Rng = mulberry32(spec.seed);
  const totals = spec.series.map(() => 0);
  const lines: string[] = [];
  const metrics = [...new Set(spec.series.map((s) => s.metric.replace(/_total$/, '')))];
  // Each metric family's samples must be contiguous after its TYPE line (promtool requires it): emit the
  // series metric by metric, each over the whole time range, with the shared burst precomputed per step.
  const steps = Math.floor((spec.to - spec.from) / spec.step) + 1;
  const bursts = Float64Array.from({ length: steps }, () =>
    spec.burstShape && Number.isFinite(spec.burstShape) ? gamma(rng, spec.burstShape) / spec.burstShape : 1,
  );
  for (const family of metrics) {
    lines.push(`# TYPE ${family} counter`);
    spec.series.forEach((s, k) => {
      if (s.metric.replace(/_total$/, '') !== family) return;
      const labels = Object.entries(s.labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([n, v]) => `${n}="${v}"`)
        .join(',');
      for (let i = 0; i < steps; i++) {
        const t = spec.from + i * spec.step;
        if (s.startsAt !== undefined && t < s.startsAt) continue;
        if (s.stopsAt !== undefined && t >= s.stopsAt) break;
        const mean = Math.max(0, s.rate(t)) * spec.step * (bursts[i] as number);
        totals[k] = (totals[k] as number) + overdispersed(rng, mean, spec.dispersion ?? 1.3);
        lines.push(`${s.metric}{${labels}} ${totals[k]} ${t}`);
      }
    });
  }
  lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}

export const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
