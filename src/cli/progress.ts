// The progress line `navigator gate --wait` prints: elapsed time, ticks judged, each signal's effect so
// far and what the gate waits for. Pure: the view in, a line out.

export interface ViewLike {
  status?: string;
  ticks?: number;
  blind?: boolean;
  approvals?: { phase?: string }[];
  approvalsRequired?: number;
  verdicts?: { signal: string; status: string; evidence: { effect?: { estimate: number } } | null }[];
}

export function formatElapsed(seconds: number): string {
  const s = Math.floor(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

export function progressLine(elapsed: number, reason: string, view: ViewLike | null): string {
  const parts = [`[${formatElapsed(elapsed)}] wait`];
  if (view) {
    parts.push(`${view.status ?? '?'}`, `${view.ticks ?? 0} ticks`);
    const signals = (view.verdicts ?? []).map((v) => {
      const e = v.evidence?.effect?.estimate;
      return `${v.signal} ${e === undefined || !Number.isFinite(e) ? 'no data yet' : pct(e)}`;
    });
    if (signals.length) parts.push(signals.join(', '));
    if (view.blind) parts.push('BLIND');
    if ((view.approvalsRequired ?? 0) > 0)
      parts.push(
        `approvals ${(view.approvals ?? []).filter((a) => a.phase !== 'start').length}/${view.approvalsRequired}`,
      );
  }
  parts.push(`waiting for: ${reason}`);
  return parts.join(' | ');
}
