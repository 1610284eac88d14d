// A deploy in Grafana is one annotation region from its start to its decision: created at registration,
// its end, text and tags set when the deploy is decided, found again by its deploy tag (no stored id),
// and still one region after failures and retries.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGrafana } from './support/grafana.js';
import { BASE_CONFIG, feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';

let grafana: FakeGrafana;
let t: TestNavigator | null = null;
beforeEach(async () => {
  grafana = new FakeGrafana('g-token');
  await grafana.start();
});
afterEach(async () => {
  await t?.nav.close();
  t = null;
  await grafana.stop();
});

const deploy = (id: string, startedAt: string) => ({
  id,
  service: 'checkout',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  startedAt,
  stages: [{ at: startedAt, weight: 0.1 }],
});

describe('Grafana annotation regions', () => {
  it("covers a deploy's watch from its start to its decision, updated in place", async () => {
    t = await testNavigator({
      config: BASE_CONFIG(`grafana: { url: "${grafana.url}/", token: g-token, dashboardUid: navigator-deploy }`),
    });
    const start = t.clock.now;
    feedCanary(t.metrics, {
      service: 'checkout',
      from: start - 600,
      to: start + 600,
      baseline: 'v1',
      canary: 'v2',
      perTick: 300,
      weight: 0.1,
      canaryFactor: () => 0.01,
    });
    const startedAt = new Date(start * 1000).toISOString();
    grafana.failFirst = [503]; // the first call fails: the outbox retries it
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: deploy('d-bad', startedAt),
    });
    expect(r.statusCode).toBe(201);
    await t.nav.effects.drain();
    t.clock.now += 10; // past the retry's backoff
    await t.nav.effects.drain();
    // While watched: a point at the start.
    expect(grafana.annotations).toHaveLength(1);
    expect(grafana.annotations[0]).toMatchObject({
      dashboardUID: 'navigator-deploy',
      time: start * 1000,
      timeEnd: start * 1000,
      tags: ['navigator', 'checkout', 'registered', 'deploy:d-bad'],
    });

    t.clock.now = start + 60;
    await t.nav.service.tick(start + 60);
    expect((await t.nav.service.view('d-bad')).status).toBe('halted');
    const decidedAt = Date.parse((await t.nav.service.view('d-bad')).decidedAt!);
    await t.nav.effects.drain();
    // Decided: the same annotation, now a region to the decision, tagged and described by it.
    expect(grafana.annotations).toHaveLength(1);
    const a = grafana.annotations[0]!;
    expect(a.time).toBe(start * 1000);
    expect(a.timeEnd).toBe(decidedAt);
    expect(a.timeEnd).toBeGreaterThan(a.time);
    expect(a.tags).toEqual(['navigator', 'checkout', 'halted', 'deploy:d-bad']);
    expect(a.text).toMatch(/^deploy d-bad halted: /);
    expect(grafana.calls).toContain('PATCH /api/annotations/1');

    // Another deploy gets its own region; the first is left alone.
    const r2 = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: deploy('d-next', new Date(t.clock.now * 1000).toISOString()),
    });
    expect(r2.statusCode).toBe(201);
    await t.nav.effects.drain();
    expect(grafana.annotations.map((x) => x.tags[3])).toEqual(['deploy:d-bad', 'deploy:d-next']);
    expect(grafana.annotations[0]!.timeEnd).toBe(decidedAt);
    expect(
      (await t.nav.service.view('d-bad')).effects.filter((e) => e.kind === 'annotation' && e.status !== 'done'),
    ).toEqual([]);
  });
});
