// Per-tick series of a deploy's signals, for the page's charts and GET /v1/deploys/{id}/series: read again
// from the metric source with the same selectors, cohorts and increments the judge used (so the chart shows
// the data the verdict saw), plus the frozen forecast from the watch state. Canary deploys: the canary's
// events against what the baseline predicts at the canary's traffic share (or the two arms' ratios);
// history deploys: the observed total against the forecast band.
import type { Config } from '../config/schema.js';
import type { Deploy } from '../model/deploy.js';
import { cohortCounts, selectCohort } from '../signals/increments.js';
import type { MetricSource } from '../sources/types.js';
import type { DeployWatch } from '../watch/deploy-watch.js';
import { gridOf, selectorsOf } from '../watch/inputs.js';

export interface SignalSeries {
  signal: string;
  kind: 'count' | 'ratio' | 'latency';
  mode: 'canary' | 'history';
  /** what `observed` and `expected` mean, for the legend */
  observedLabel: string;
  expectedLabel: string;
  /** tick end times, epoch seconds */
  t: number[];
  observed: (number | null)[];
  expected: (number | null)[];
  low: (number | null)[];
  high: (number | null)[];
  decidedAt: number | null;
}

export interface DeploySeries {
  deploy: string;
  step: number;
  from: number;
  to: number;
  /** the deploy started here (ticks before it are context) */
  startedAt: number;
  signals: SignalSeries[];
  /** the source could not answer */
  error: string | null;
}

const MAX_POINTS = 240;
const CONTEXT_TICKS = 10;
const AFTER_TICKS = 6;

const num = (x: number) => (Number.isFinite(x) ? x : null);

function weightAt(deploy: Deploy, t: number): number {
  let w = deploy.stages[0]?.weight ?? 0;
  for (const s of deploy.stages) if (s.at <= t) w = s.weight;
  return w;
}

export async function deploySeries(
  config: Config,
  source: MetricSource,
  deploy: Deploy,
  watch: DeployWatch | null,
  now: number,
  absentAfter: number,
): Promise<DeploySeries> {
  const svc = config.services[deploy.service];
  const base = watch?.step ?? 15;
  // A decided deploy is shown a few ticks past its decision (what happened next), never past now.
  const latest = Math.floor(now / base) * base;
  const end =
    watch?.decidedAt != null ? Math.min(latest, watch.decidedAt + AFTER_TICKS * base) : (watch?.lastTick ?? latest);
  const first = (watch?.firstTick ?? Math.floor(deploy.startedAt / base) * base + base) - CONTEXT_TICKS * base;
  // A long watch is shown at a coarser step (a multiple of the tick) so the chart stays readable.
  const step = base * Math.max(1, Math.ceil((end - first) / base / MAX_POINTS));
  const from = end - Math.floor((end - first) / step) * step;
  const out: DeploySeries = {
    deploy: deploy.id,
    step,
    from,
    to: end,
    startedAt: deploy.startedAt,
    signals: [],
    error: null,
  };
  if (!svc || end <= from) return out;
  const t: number[] = [];
  for (let x = from; x <= end + 1e-9; x += step) t.push(x);
  const lookFrom = from - absentAfter * step;
  const canary = deploy.strategy === 'canary';
  try {
    for (const [name, sig] of Object.entries(svc.signals)) {
      const state = watch?.signals.find((s) => s.name === name) ?? null;
      const { num: n, den: d } = selectorsOf(sig);
      const [ng, dg] = await Promise.all([
        gridOf(source, n, lookFrom, end, step),
        d ? gridOf(source, d, lookFrom, end, step) : Promise.resolve(null),
      ]);
      const counts = (g: typeof ng, pick?: (v: string) => boolean) =>
        cohortCounts(pick ? selectCohort(g, svc.cohortLabel, pick) : g, absentAfter).values.slice(absentAfter);
      const s: SignalSeries = {
        signal: name,
        kind: sig.kind,
        mode: canary ? 'canary' : 'history',
        observedLabel: '',
        expectedLabel: '',
        t,
        observed: [],
        expected: [],
        low: [],
        high: [],
        decidedAt: state?.decidedAt ?? null,
      };
      if (canary) {
        const isCanary = (v: string) => v === deploy.version;
        const isBase = (v: string) =>
          deploy.baselineVersion === null ? v !== deploy.version : v === deploy.baselineVersion;
        const cn = counts(ng, isCanary);
        const bn = counts(ng, isBase);
        if (sig.kind !== 'count' && dg) {
          const cd = counts(dg, isCanary);
          const bd = counts(dg, isBase);
          const share = sig.kind === 'latency' ? 'slow share' : 'bad share';
          s.observedLabel = `${deploy.version} ${share}`;
          s.expectedLabel = `${deploy.baselineVersion ?? 'baseline'} ${share}`;
          t.forEach((_, i) => {
            s.observed.push(num((cn[i] as number) / (cd[i] as number)));
            s.expected.push(num((bn[i] as number) / (bd[i] as number)));
            s.low.push(null);
            s.high.push(null);
          });
        } else {
          s.observedLabel = `${deploy.version} events per tick`;
          s.expectedLabel = `expected from ${deploy.baselineVersion ?? 'baseline'} at the canary's share`;
          t.forEach((x, i) => {
            const w = weightAt(deploy, x);
            const exp = w > 0 && w < 1 ? ((bn[i] as number) * w) / (1 - w) : NaN;
            s.observed.push(num(cn[i] as number));
            s.expected.push(num(exp));
            // A Poisson-ish band of two standard deviations around what the baseline predicts.
            s.low.push(num(Math.max(0, exp - 2 * Math.sqrt(Math.max(exp, 1)))));
            s.high.push(num(exp + 2 * Math.sqrt(Math.max(exp, 1))));
          });
        }
      } else {
        const on = counts(ng);
        const od = dg ? counts(dg) : null;
        const f = state?.forecast ?? null;
        s.observedLabel =
          sig.kind === 'count' ? 'events per tick' : sig.kind === 'latency' ? 'slow share' : 'bad share';
        s.expectedLabel = f ? 'forecast' : 'no forecast';
        t.forEach((x, i) => {
          s.observed.push(num(od ? (on[i] as number) / (od[i] as number) : (on[i] as number)));
          // The frozen forecast covers the watch's own ticks at the watch's step.
          const k = watch ? Math.round((x - watch.firstTick) / base) : -1;
          let exp = NaN;
          if (f && k >= 0 && step === base) exp = sig.kind === 'count' ? (f.values[k] ?? NaN) : (f.ratio ?? NaN);
          const spread = sig.kind === 'count' ? 2 * Math.sqrt(Math.max(exp, 1)) : 0;
          s.expected.push(num(exp));
          s.low.push(num(Math.max(0, exp * (1 - (f?.margin ?? 0)) - spread)));
          s.high.push(num(exp * (1 + (f?.margin ?? 0)) + spread));
        });
      }
      out.signals.push(s);
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}
