// A watch as stored after every tick: its state without what can be derived again (the effect grid of
// each test, the deploy, which has its own column), so persisting 10,000 watches a tick stays cheap.
import { effectGrid } from '../judge/effect-grid.js';
import type { Deploy } from '../model/deploy.js';
import type { DeployWatch } from './deploy-watch.js';
import { reviveLatency } from './latency-evidence.js';

type Test = {
  r0: number;
  direction: 'drop' | 'rise';
  alternatives?: number[];
  logWeights?: number[];
  logS?: (number | null)[];
  llr?: number[];
} | null;

export function serializeWatch(w: DeployWatch): string {
  return JSON.stringify(w, (key, value: unknown) => {
    if (key === 'alternatives' || key === 'logWeights') return undefined;
    if (key === 'deploy') return undefined;
    return value;
  });
}

export function restoreWatch(json: string, deploy: Deploy): DeployWatch {
  const w = JSON.parse(json) as DeployWatch;
  w.deploy = deploy;
  for (const s of w.signals) {
    reviveLatency(s);
    for (const t of [s.main, s.traffic] as Test[]) {
      if (!t) continue;
      const g = effectGrid(t.direction, Math.abs(t.r0 - 1));
      t.alternatives = g.alternatives;
      t.logWeights = g.logWeights;
      // JSON has no -Infinity (ln 0: no evidence yet); it comes back as null.
      if (t.logS) t.logS = t.logS.map((x) => (x === null ? -Infinity : x));
      // A state persisted with a shorter grid (alternatives are only ever appended): the new ones start
      // with no evidence, which only lowers the e-value (valid).
      while (t.logS && t.logS.length < g.alternatives.length) t.logS.push(-Infinity);
      while (t.llr && t.llr.length < g.alternatives.length) t.llr.push(0);
    }
  }
  return w;
}
