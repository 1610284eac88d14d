// The canary's split: measured from the service's `traffic` counter, or declared (stage weights, with a
// composite null over +-20% and late stage changes); blind when the exposure cannot be seen.
import { describe, expect, it } from 'vitest';
import { gamma, mulberry32, overdispersed } from '../../test/support/random.js';
import { MemoryStore } from '../sources/memory-store.js';
import { observeCanary, stageWeights } from './inputs.js';
import { canaryFloor } from './history.js';
import { evidenceOf, newSignalJudge, stepSignal, type CanaryTickInput } from './signal-judge.js';
import type { Deploy } from '../model/deploy.js';

const judge = (traffic: boolean) =>
  newSignalJudge({
    name: 'orders',
    kind: 'count',
    mode: 'canary',
    direction: 'drop',
    alpha: 0.001,
    tolerance: 0.01,
    forecast: null,
    trafficForecast: null,
    traffic: traffic ? { metric: 'http_requests_total' } : null,
  });

const arm = (value: number) => ({ value, live: 1 });

/** A tick where the canary really gets `real` of the traffic while `declared` was announced. */
function tick(
  rng: () => number,
  o: { declared: number; real: number; drop?: number; canaryTraffic?: number },
): CanaryTickInput {
  const requests = 3000;
  const cReq = overdispersed(rng, requests * o.real * (o.canaryTraffic ?? 1), 1);
  const bReq = overdispersed(rng, requests * (1 - o.real), 1);
  return {
    mode: 'canary',
    weight: o.declared,
    exposure: { canary: arm(cReq), baseline: arm(bReq) },
    canary: { num: arm(overdispersed(rng, (cReq / 10) * (1 - (o.drop ?? 0)), 1)), den: null },
    baseline: { num: arm(overdispersed(rng, bReq / 10, 1)), den: null },
  };
}

function run(traffic: boolean, o: Parameters<typeof tick>[1], ticks = 120, seed = 1) {
  const rng = mulberry32(seed);
  const s = judge(traffic);
  for (let t = 0; t < ticks; t++) if (stepSignal(s, tick(rng, o), t * 15, t, true)) break;
  return s;
}

describe('canary split', () => {
  it('measured: a canary getting 20% less traffic than declared is not failed, and a 20% drop per request is', () => {
    for (let seed = 0; seed < 20; seed++) expect(run(true, { declared: 0.1, real: 0.08 }, 120, seed).failed).toBeNull();
    const bad = run(true, { declared: 0.1, real: 0.08, drop: 0.2 });
    expect(bad.failed).toBe('main');
    const ev = evidenceOf(bad, 'events');
    expect(ev.assumptions?.split.source).toBe('measured');
    expect(ev.assumptions?.split.measuredShare).toBeCloseTo(0.08, 2);
    expect(ev.sentence).toContain('Split measured from http_requests_total');
  });

  it('declared: a real share 20% off the stage weight is not failed; a collapse still is, within two ticks', () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(run(false, { declared: 0.1, real: 0.08 }, 120, seed).failed).toBeNull();
      expect(run(false, { declared: 0.1, real: 0.12 }, 120, seed).failed).toBeNull();
    }
    const collapse = run(false, { declared: 0.1, real: 0.1, drop: 0.99 });
    expect(collapse.failed).toBe('main');
    expect(collapse.decidedAt).toBeLessThanOrEqual(15);
    const ev = evidenceOf(collapse, 'events');
    expect(ev.assumptions?.split).toMatchObject({ source: 'declared', slack: 0.2 });
    expect(ev.sentence).toContain('declare services.NAME.traffic');
  });

  it('declared: a 15% drop is within what a split known to +-20% allows (the cost); measured, it is found', () => {
    // without a measured split a canary 15% short of its share of events could be a good canary whose real
    // share is 15% below the stage weight: the composite null (0.8 w) cannot tell them apart
    for (let seed = 0; seed < 5; seed++) {
      expect(run(false, { declared: 0.1, real: 0.1, drop: 0.15 }, 120, seed).failed).toBeNull();
      // (without history, within 240 ticks: the dispersion assumed until measured costs delay)
      expect(run(true, { declared: 0.1, real: 0.1, drop: 0.15 }, 240, seed).failed).toBe('main');
    }
  });

  it('measured: a canary that lost its traffic fails on its own test with its own sentence', () => {
    const s = run(true, { declared: 0.25, real: 0.25, canaryTraffic: 0.05 });
    expect(s.failed).toBe('traffic');
    const ev = evidenceOf(s, 'events');
    expect(ev.test).toBe('canary-traffic');
    expect(ev.sentence).toMatch(/^orders traffic of the new version: -9\d% against the baseline/);
  });

  it('measured: a tick whose exposure cannot be seen is blind, never judged or passed', () => {
    const s = judge(true);
    const rng = mulberry32(3);
    const t = tick(rng, { declared: 0.1, real: 0.1, drop: 0.99 });
    stepSignal(s, { ...t, exposure: { canary: { value: NaN, live: 1 }, baseline: arm(2700) } }, 15, 0, true);
    stepSignal(s, { ...t, exposure: { canary: { value: 0, live: 0 }, baseline: { value: 0, live: 0 } } }, 30, 1, true);
    stepSignal(s, { ...t, exposure: null }, 45, 2, true);
    expect(s.blindTicks).toBe(3);
    expect(s.main.ticks).toBe(0);
  });

  it('declared: a stage change the traffic follows two ticks late is not a regression', () => {
    const deploy: Deploy = {
      id: 'd',
      service: 's',
      version: 'v2',
      baselineVersion: 'v1',
      strategy: 'canary',
      startedAt: 0,
      stages: [
        { at: 0, weight: 0.1 },
        { at: 600, weight: 0.5 },
      ],
      change: null,
    };
    for (let seed = 0; seed < 20; seed++) {
      const rng = mulberry32(seed);
      const s = judge(false);
      for (let i = 0; i < 120; i++) {
        const t = (i + 1) * 15;
        const w = stageWeights(deploy, t, 15, 2);
        const real = stageWeights(deploy, t - 30, 15, 0).weight || 0.1; // two ticks late
        stepSignal(s, { ...tick(rng, { declared: w.weight, real }), ...w }, t, i, true);
      }
      expect(s.failed).toBeNull();
    }
    // the lag window: the tick after the change carries the old weight as its lowest
    expect(stageWeights(deploy, 630, 15, 2)).toEqual({ weight: 0.5, weightLow: 0.1, weightHigh: 0.5 });
    // and before the first stage there is nothing to lag behind
    expect(stageWeights(deploy, 15, 15, 2).weightLow).toBe(0.1);
  });

  it('a traffic metric without per-version series is an error naming the signal and the metric', async () => {
    const store = new MemoryStore();
    for (let t = 0; t <= 60; t += 15) {
      store.append('http_requests_total', { service: 'checkout' }, t, t * 10);
      store.append('orders_total', { service: 'checkout', version: 'v1' }, t, t);
      store.append('orders_total', { service: 'checkout', version: 'v2' }, t, t / 10);
    }
    const signal = { kind: 'count' as const, bad: 'drop' as const, metric: 'orders_total', matchers: {} };
    const split = { label: 'version', version: 'v2', baselineVersion: 'v1' };
    await expect(
      observeCanary(store, signal, split, 45, 60, 15, 2, {
        signal: 'orders',
        selector: { metric: 'http_requests_total', matchers: {} },
      }),
    ).rejects.toThrow(
      /signal orders: traffic metric http_requests_total has no series with the cohort label "version"/,
    );
    // with per-version series, the exposure is each cohort's requests
    for (let t = 0; t <= 60; t += 15) {
      store.append('http_requests_total', { service: 'checkout', version: 'v1' }, t, t * 9);
      store.append('http_requests_total', { service: 'checkout', version: 'v2' }, t, t);
    }
    const o = await observeCanary(store, signal, split, 45, 60, 15, 2, {
      signal: 'orders',
      selector: { metric: 'http_requests_total', matchers: { version: '.+' } },
    });
    expect(o.kind === 'seen' && o.counts.exposure).toEqual({
      canary: { value: 15, live: 1 },
      baseline: { value: 135, live: 1 },
    });
    // a traffic metric that selects no series at all: blind, naming the signal and the metric
    const none = await observeCanary(store, signal, split, 45, 60, 15, 2, {
      signal: 'orders',
      selector: { metric: 'requests_typo_total', matchers: {} },
    });
    expect(none.kind).toBe('blind');
    expect(none.kind === 'blind' && none.reason).toMatch(
      /signal orders: traffic metric requests_typo_total has no series/,
    );
  });

  it('measures the dispersion floor on the old version before the deploy, and says so in the evidence', async () => {
    const store = new MemoryStore();
    const rng = mulberry32(5);
    let req = 0;
    let err = 0;
    const origin = 7200;
    // two hours of the old version alone, errors 3x binomial (clumps): requests 2000 a tick, 1% errors
    for (let t = 0; t <= origin; t += 15) {
      req += 2000;
      err += overdispersed(rng, 20, 3);
      store.append('http_requests_total', { service: 'checkout', version: 'v1' }, t, req);
      store.append('errors_total', { service: 'checkout', version: 'v1' }, t, err);
    }
    const signal = {
      kind: 'ratio' as const,
      bad: 'rise' as const,
      numerator: { metric: 'errors_total', matchers: {} },
      denominator: { metric: 'http_requests_total', matchers: {} },
    };
    const split = { label: 'version', version: 'v2', baselineVersion: 'v1' };
    const floor = await canaryFloor(store, signal, null, split, origin, 15, 2);
    expect(floor).not.toBeNull();
    expect(floor?.ticks).toBeGreaterThan(230); // the hour before the deploy, not the whole history
    expect(floor?.ticks).toBeLessThanOrEqual(240);
    expect(floor?.value).toBeGreaterThan(2.4);
    // the version being deployed has no history of its own: only the baseline cohort is read
    expect(await canaryFloor(store, signal, null, { ...split, baselineVersion: 'v0' }, origin, 15, 2)).toBeNull();
    // ten minutes of history already measure one; 90 s (an embedded scraper just started) do not
    expect(await canaryFloor(store, signal, null, split, 600, 15, 2)).not.toBeNull();
    expect(await canaryFloor(store, signal, null, split, 90, 15, 2)).toBeNull();

    const judged = (f: typeof floor) => {
      const s = newSignalJudge({
        name: 'errors',
        kind: 'ratio',
        mode: 'canary',
        direction: 'rise',
        alpha: 0.001,
        tolerance: 0.01,
        forecast: null,
        trafficForecast: null,
        floor: f,
      });
      const r = mulberry32(9);
      for (let t = 0; t < 4; t++)
        stepSignal(
          s,
          {
            mode: 'canary',
            weight: 0.1,
            canary: { num: arm(overdispersed(r, 2, 1)), den: arm(200) },
            baseline: { num: arm(overdispersed(r, 18, 1)), den: arm(1800) },
          },
          t * 15,
          t,
          true,
        );
      return evidenceOf(s, 'bad events');
    };
    const withFloor = judged(floor);
    expect(withFloor.assumptions?.dispersion.basis).toBe('history');
    expect(withFloor.dispersion).toBeGreaterThanOrEqual(floor?.value as number);
    expect(withFloor.assumptions?.dispersion.history?.ticks).toBe(floor?.ticks);
    expect(withFloor.sentence).toMatch(/measured before the deploy on \d+ ticks/);
    const without = judged(null);
    expect(without.assumptions?.dispersion.basis).toBe('assumed');
    expect(without.assumptions?.dispersion.history).toBeNull();
    expect(without.sentence).toMatch(/assumed, no history/);
  });

  it("a count signal without `traffic`: the floor is a placebo split of the old version's instances, said in the evidence", async () => {
    const store = new MemoryStore();
    const rng = mulberry32(12);
    const origin = 3600;
    const totals = [0, 0, 0];
    // three pods of the old version, orders 3x Poisson each, with shared bursts that cancel between arms
    for (let t = 0; t <= origin; t += 15) {
      const burst = gamma(rng, 20) / 20;
      for (let pod = 0; pod < 3; pod++) {
        totals[pod] = (totals[pod] as number) + overdispersed(rng, 100 * burst, 3);
        store.append('orders_total', { version: 'v1', instance: `pod-${pod}` }, t, totals[pod] as number);
      }
    }
    const signal = { kind: 'count' as const, bad: 'drop' as const, metric: 'orders_total', matchers: {} };
    const split = { label: 'version', version: 'v2', baselineVersion: 'v1' };
    const floor = await canaryFloor(store, signal, null, split, origin, 15, 2);
    expect(floor?.method).toBe('placebo');
    expect(floor?.arms).toEqual([2, 1]);
    expect(floor?.value).toBeGreaterThan(2.4);
    expect(floor?.value).toBeLessThan(5);
    const s = judge(false);
    if (s.main.kind === 'two-arm') s.main.floor = floor;
    const r = mulberry32(3);
    for (let t = 0; t < 3; t++)
      stepSignal(
        s,
        {
          mode: 'canary',
          weight: 0.1,
          canary: { num: arm(overdispersed(r, 30, 1)), den: null },
          baseline: { num: arm(overdispersed(r, 270, 1)), den: null },
        },
        t * 15,
        t,
        true,
      );
    const ev = evidenceOf(s, 'orders');
    expect(ev.assumptions?.dispersion.basis).toBe('history');
    expect(ev.assumptions?.dispersion.history?.method).toBe('placebo');
    expect(ev.assumptions?.dispersion.estimator).toMatch(
      /placebo split of the old version's instances into two arms \(2 and 1\)/,
    );
    // a single instance cannot be split: no floor, the stated assumption
    const one = new MemoryStore();
    for (let t = 0, c = 0; t <= origin; t += 15)
      one.append('orders_total', { version: 'v1', instance: 'pod-0' }, t, (c += 100));
    expect(await canaryFloor(one, signal, null, split, origin, 15, 2)).toBeNull();
  });
});
