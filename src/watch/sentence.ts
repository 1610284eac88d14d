// The one readable sentence each verdict carries, for a human at 3am.
import type { Evidence } from '../model/verdict.js';

const pct = (x: number) => `${(x * 100).toFixed(Math.abs(x) < 0.1 ? 1 : 0)}%`;
const signed = (x: number) => (x >= 0 ? `+${pct(x)}` : pct(x));

export function describeEvidence(signal: string, unit: string, ev: Evidence, failed: boolean): string {
  const against =
    ev.test === 'against-forecast' || ev.test === 'ratio-against-history' || ev.test === 'always-against-forecast'
      ? 'its forecast from history'
      : ev.test === 'always-collapse'
        ? 'what comparable windows in its history held'
        : 'the baseline';
  const what = ev.test === 'canary-traffic' ? `${signal} traffic of the new version` : signal;
  const counts =
    ev.counts.expectedCanary !== undefined
      ? `${ev.counts.canary} ${unit} in the new version where ${ev.counts.expectedCanary} were expected from the baseline's ${ev.counts.baseline}`
      : `${ev.counts.observed} ${unit} where ${ev.counts.expected} were expected`;
  const evalue = Math.exp(Math.min(ev.statistic, 700));
  const verdict = failed
    ? `e-value ${fmt(evalue)} reached the threshold ${fmt(Math.exp(ev.threshold))}: regression`
    : `e-value ${fmt(evalue)} of the ${fmt(Math.exp(ev.threshold))} needed to fail`;
  const absent = ev.absent ? ' The new version reported no samples for part of the time.' : '';
  // Each test says which interval it computed; the short label stays for those that do not.
  const interval = ev.interval ? 'interval' : '95% interval';
  const kind = ev.interval ? ` Interval: ${ev.interval}.` : '';
  // What the forecaster's replay certifies about its margin (rule of three at zero exceedances).
  const f = ev.forecast;
  const replay = f?.band
    ? ` Forecast ${f.expected} ${unit} (normal range ${f.band.low} to ${f.band.high}, 95%) from the copies ${f.lags.join(', ')} back scaled to the last day's level; ` +
      `its level error (sd ${pct(f.levelSpread ?? 0)} once per-tick noise is taken out) measured by replaying it from ${f.origins} origins` +
      (f.measuredOn
        ? ` on the history from ${f.measuredOn.from.slice(0, 16)}Z to ${f.measuredOn.to.slice(0, 16)}Z.`
        : '.')
    : f && f.exceedances !== undefined && f.origins > 0
      ? ` Margin measured by replaying the forecaster from ${f.origins} earlier origins, ${f.exceedances} beyond it` +
        (f.exceedances === 0
          ? ` (certifies a normal day beyond it below about ${pct(Math.min(1, 3 / f.origins))}).`
          : '.')
      : '';
  return (
    `${what}: ${signed(ev.effect.estimate)} against ${against} (${interval} ${signed(ev.effect.low)} to ${signed(ev.effect.high)}, ` +
    `changes within ${pct(ev.tolerance)} tolerated) after ${ev.ticks} ticks; ${counts}; ${verdict}.${absent}${kind}${replay}${assumed(ev)}`
  );
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return 'inf';
  if (x >= 1e4 || (x > 0 && x < 1e-2)) return x.toExponential(1);
  return x.toFixed(x < 10 ? 2 : 0);
}

/** What the canary judgement assumed: the split it compared against and the dispersion it divided by. */
function assumed(ev: Evidence): string {
  const a = ev.assumptions;
  if (!a) return '';
  const w = (x: number | null) => (x === null ? '?' : pct(x));
  const split =
    a.split.source === 'measured'
      ? `Split measured${a.split.metric ? ` from ${a.split.metric}` : ' from the requests'} (canary share ${w(a.split.measuredShare)}, stage weight ${w(a.split.declaredWeight)})`
      : a.split.slack !== undefined
        ? `Split declared (stage weight ${w(a.split.declaredWeight)}, tested at its least favourable ${pct(a.split.slack)} off; declare services.NAME.traffic to measure it)`
        : `Against the declared stage weight ${w(a.split.declaredWeight)}`;
  const h = a.dispersion.history;
  const d =
    a.dispersion.basis === 'history' && h
      ? `dispersion ${a.dispersion.value.toFixed(2)}, measured before the deploy on ${h.ticks} ticks`
      : a.dispersion.basis === 'assumed'
        ? `dispersion ${a.dispersion.value.toFixed(2)} assumed, no history (too few ticks to measure it yet)`
        : `dispersion ${a.dispersion.value.toFixed(2)}, the upper 75% bound over ${a.dispersion.terms} pooled ticks (largest on ${a.dispersion.block}-tick blocks)${h ? `, above ${h.value.toFixed(2)} measured before the deploy on ${h.ticks} ticks` : ''}`;
  return ` ${split}; ${d}.`;
}
