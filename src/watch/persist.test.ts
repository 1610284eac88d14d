import { describe, expect, it } from 'vitest';
import type { Deploy } from '../model/deploy.js';
import { openDeployWatch, signalVerdicts } from './deploy-watch.js';
import { restoreWatch, serializeWatch } from './persist.js';
import { stepSignal } from './signal-judge.js';

const deploy: Deploy = {
  id: 'd',
  service: 's',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  startedAt: 0,
  stages: [{ at: 0, weight: 0.1 }],
  change: null,
};
const service = {
  tier: 'standard' as const,
  page: [],
  cohortLabel: 'version',
  watchFor: '30m',
  rollback: 'never' as const,
  maxFirstWeight: 0.5,
  dependsOn: [],
  hooks: {},
  dryRun: false,
  signals: { orders: { kind: 'count' as const, bad: 'drop' as const, metric: 'orders_total', matchers: {} } },
};

describe('watch persistence', () => {
  it('round-trips a watch mid-way, including evidence not yet seen (ln 0)', () => {
    const w = openDeployWatch(deploy, service, { step: 15, alpha: 0.001, minEffect: 0.01, absentAfter: 2 });
    expect(restoreWatch(serializeWatch(w), deploy)).toEqual(w); // before any tick: ln S is -Infinity
    const input = (c: number) => ({
      mode: 'canary' as const,
      weight: 0.1,
      canary: { num: { value: c, live: 1 }, den: null },
      baseline: { num: { value: 270, live: 1 }, den: null },
    });
    stepSignal(w.signals[0]!, input(30), 15, 0, true);
    const back = restoreWatch(serializeWatch(w), deploy);
    expect(back).toEqual(w);
    // Both copies go on to the same decision.
    for (let t = 1; t < 4; t++) {
      stepSignal(w.signals[0]!, input(0), 15 * (t + 1), t, true);
      stepSignal(back.signals[0]!, input(0), 15 * (t + 1), t, true);
    }
    expect(back.signals[0]!.failed).toBe(w.signals[0]!.failed);
    expect(back.signals[0]!.decidedAt).toBe(w.signals[0]!.decidedAt);
  });

  it('round-trips a latency watch: its buckets keep their +Inf bound, and the evidence its quantiles', () => {
    const svc = {
      ...service,
      signals: {
        latency: {
          kind: 'latency' as const,
          bad: 'rise' as const,
          metric: 'req_seconds',
          matchers: {},
          slowerThan: '500ms',
        },
      },
    };
    const w = openDeployWatch(deploy, svc, { step: 15, alpha: 0.001, minEffect: 0.01, absentAfter: 2 });
    const arm = (n: number, slow: number) => ({ num: { value: slow, live: 1 }, den: { value: n, live: 1 } });
    const buckets = (n: number, slow: number) => ({
      bounds: [0.1, 0.5, Infinity],
      counts: [n - slow - 5, n - slow, n],
    });
    stepSignal(
      w.signals[0]!,
      {
        mode: 'canary',
        weight: 0.1,
        canary: arm(150, 3),
        baseline: arm(1350, 13),
        buckets: { canary: buckets(150, 3), baseline: buckets(1350, 13) },
      },
      15,
      0,
      true,
    );
    const back = restoreWatch(serializeWatch(w), deploy);
    expect(back).toEqual(w);
    const ev = signalVerdicts(back)[0]!.evidence!;
    expect(ev.latency?.canary.requests).toBe(150);
    expect(ev.latency?.canary.slow).toBe(3);
    expect(ev.latency?.baseline).toMatchObject({ requests: 1350, slow: 13 });
    expect(ev.sentence).toMatch(/^latency: p99 .* 2% of requests slower than 500 ms against 1%/);
  });
});
