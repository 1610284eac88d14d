// A signal's chart as inline SVG: what the new version did (solid), what was expected of it (dashed) with
// its band, the deploy's start and the decision tick marked. Presentation attributes only (the CSP forbids
// inline style), a <title> and <desc> for screen readers, and it scales to the width of a phone.
import { h, type Html } from './html.js';
import type { SignalSeries } from './series.js';

const W = 640;
const H = 220;
const PAD = { l: 48, r: 12, t: 14, b: 28 };

const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(1) : x.toPrecision(2));
const clock = (t: number) => new Date(t * 1000).toISOString().slice(11, 19);

export function chartSvg(s: SignalSeries, startedAt: number, id: string): Html {
  const n = s.t.length;
  const vals = [...s.observed, ...s.expected, ...s.high].filter((v): v is number => v !== null);
  const max = Math.max(1e-9, ...vals) * 1.1;
  const t0 = s.t[0] ?? 0;
  const t1 = s.t[n - 1] ?? t0 + 1;
  const x = (t: number) => PAD.l + ((t - t0) / Math.max(1e-9, t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / max) * (H - PAD.t - PAD.b);
  const path = (ys: (number | null)[]) => {
    let d = '';
    let pen = false;
    ys.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(s.t[i] as number).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  // The band: the upper edge left to right, then the lower edge back, over the points that have both.
  const band = s.t
    .map((t, i) => ({ t, lo: s.low[i], hi: s.high[i] }))
    .filter(
      (p): p is { t: number; lo: number; hi: number } =>
        p.lo !== null && p.lo !== undefined && p.hi !== null && p.hi !== undefined,
    );
  const bandD = band.length
    ? `M${band.map((p) => `${x(p.t).toFixed(1)},${y(p.hi).toFixed(1)}`).join('L')}L${[...band]
        .reverse()
        .map((p) => `${x(p.t).toFixed(1)},${y(p.lo).toFixed(1)}`)
        .join('L')}Z`
    : '';
  const lastObs = [...s.observed].reverse().find((v) => v !== null);
  const lastExp = [...s.expected].reverse().find((v) => v !== null);
  const desc = `${s.observedLabel} against ${s.expectedLabel}, ${n} points from ${clock(t0)} to ${clock(t1)} UTC${
    lastObs !== undefined ? `; last ${fmt(lastObs)}` : ''
  }${lastExp !== undefined ? ` against ${fmt(lastExp)} expected` : ''}${
    s.decidedAt ? `; decided at ${clock(s.decidedAt)} UTC` : ''
  }.`;
  const dec = s.decidedAt !== null && s.decidedAt >= t0 && s.decidedAt <= t1 ? x(s.decidedAt) : null;
  const start = startedAt >= t0 && startedAt <= t1 ? x(startedAt) : null;
  return h`<svg
      class="chart"
      viewBox="0 0 ${W} ${H}"
      role="img"
      aria-labelledby="${id}-t ${id}-d"
      data-signal="${s.signal}"
    >
      <title id="${id}-t">${s.signal}: ${s.observedLabel} against ${s.expectedLabel}</title>
      <desc id="${id}-d">${desc}</desc>
      <line x1="${PAD.l}" y1="${H - PAD.b}" x2="${W - PAD.r}" y2="${H - PAD.b}" stroke="#444" stroke-width="1" />
      <line x1="${PAD.l}" y1="${PAD.t}" x2="${PAD.l}" y2="${H - PAD.b}" stroke="#444" stroke-width="1" />
      <text x="${PAD.l - 6}" y="${PAD.t + 10}" text-anchor="end" font-size="12" fill="#222">${fmt(max)}</text>
      <text x="${PAD.l - 6}" y="${H - PAD.b}" text-anchor="end" font-size="12" fill="#222">0</text>
      <text x="${PAD.l}" y="${H - 8}" font-size="12" fill="#222">${clock(t0)}</text>
      <text x="${W - PAD.r}" y="${H - 8}" text-anchor="end" font-size="12" fill="#222">${clock(t1)} UTC</text>
      ${bandD ? h`<path class="band" d="${bandD}" fill="#c9d6ea" fill-opacity="0.7" stroke="none" />` : ''}
      <path
        class="expected"
        d="${path(s.expected)}"
        fill="none"
        stroke="#4a4a4a"
        stroke-width="2"
        stroke-dasharray="6 4"
      />
      <path class="observed" d="${path(s.observed)}" fill="none" stroke="#0b4f9c" stroke-width="2.5" />
      ${start !== null ? h`<line class="start" x1="${start}" y1="${PAD.t}" x2="${start}" y2="${H - PAD.b}" stroke="#666" stroke-width="1" stroke-dasharray="2 3" /><text x="${start + 3}" y="${PAD.t + 10}" font-size="11" fill="#333">start</text>` : ''}
      ${dec !== null ? h`<line class="decision" x1="${dec}" y1="${PAD.t}" x2="${dec}" y2="${H - PAD.b}" stroke="#b00020" stroke-width="2" /><text x="${Math.min(dec + 4, W - 60)}" y="${PAD.t + 24}" font-size="12" fill="#b00020" font-weight="bold">decided</text>` : ''}
    </svg>
    <p class="legend">
      <span class="key obs" aria-hidden="true"></span> ${s.observedLabel}
      <span class="key exp" aria-hidden="true"></span>
      ${s.expectedLabel}${band.length ? h` <span class="key band" aria-hidden="true"></span> expected band` : ''}
    </p>`;
}
