// Flagger's exact calls (test/support/flagger.ts replays its scheduler from source) against a listening
// Navigator over real HTTP, with the token in the URL only: a revision that passes is promoted, the next
// one (orders -99%) is rolled back through the `rollback` hook, and the one after that is judged on its own
// data, not on the verdict of the revision before it.
import { afterEach, describe, expect, it } from 'vitest';
import { FlaggerCanary, type HookType } from './support/flagger.js';
import { BASE_CONFIG, testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator | null = null;
afterEach(async () => {
  await t?.nav.close();
  t = null;
});

const HOOKS: HookType[] = [
  'confirm-rollout',
  'pre-rollout',
  'rollout',
  'confirm-traffic-increase',
  'confirm-promotion',
  'rollback',
  'post-rollout',
  'event',
];

describe('Flagger webhooks', () => {
  it('gives each revision its own verdict: promotes a good one, rolls back a bad one, then judges the next anew', async () => {
    t = await testNavigator();
    const base = await t.nav.http.listen({ host: '127.0.0.1', port: 0 });
    const canary = new FlaggerCanary({
      name: 'checkout',
      namespace: 'shop',
      stepWeight: 10,
      maxWeight: 50,
      threshold: 5,
      initial: 'rev0',
      webhooks: HOOKS.map((type) => ({
        name: `navigator-${type}`,
        type,
        url: `${base}/v1/integrations/flagger/${type}?token=ci-token`,
      })),
    });

    // The service's counters: Flagger's canary pods carry version="checkout", the primary's "checkout-primary".
    const m = t.metrics;
    let baseline = 0;
    let fresh = 0;
    const bad = new Set(['rev2']);
    const feed = (tick: number) => {
      baseline += 270;
      // The canary takes ~10% of the traffic while it runs; a bad revision loses 99% of its orders.
      if (canary.phase === 'Progressing' || canary.phase === 'WaitingPromotion')
        fresh += bad.has(canary.lastApplied) ? 0 : 30;
      m.append('orders_total', { service: 'checkout', version: 'checkout-primary' }, tick, baseline);
      m.append('orders_total', { service: 'checkout', version: 'checkout' }, tick, fresh);
    };
    const clock = t.clock;
    for (let s = clock.now - 600; s <= clock.now; s += 15) feed(s);
    const step = async () => {
      await canary.advance();
      clock.now += 15;
      feed(clock.now);
      await t!.nav.service.tick(clock.now);
    };
    const until = async (what: () => boolean, max: number) => {
      for (let i = 0; i < max && !what(); i++) await step();
      expect(what()).toBe(true);
    };
    const status = async (rev: string) => (await t!.nav.service.view(`flagger:shop:checkout:${rev}`)).status;
    const callsFor = (rev: string) => canary.calls.filter((c) => c.checksum === rev);

    // 1. A good revision: watched from its first analysis hook, held at confirm-promotion until Navigator
    //    passes it, then promoted. The rollback hook never answered 2xx.
    canary.deploy('rev1');
    await until(() => canary.phase === 'Succeeded', 60);
    expect(await status('rev1')).toBe('passed');
    const p1 = callsFor('rev1');
    expect(p1.filter((c) => c.type === 'confirm-promotion').map((c) => c.status)).toEqual(
      expect.arrayContaining([423, 200]),
    );
    expect(p1.filter((c) => c.type === 'rollback').every((c) => c.status > 202)).toBe(true);
    expect(p1.find((c) => c.type === 'post-rollout')?.phase).toBe('Succeeded');

    // 2. A bad revision right after: confirm-rollout still carries rev1's checksum (Flagger syncs the new
    //    one only when the analysis starts), and rev1's "passed" must not promote it. Navigator halts rev2
    //    and the rollback hook makes Flagger roll back; Flagger's final phase marks it rolled back.
    canary.deploy('rev2');
    await until(() => canary.phase === 'Failed', 40);
    expect(await status('rev2')).toBe('rolled_back');
    expect(await status('rev1')).toBe('passed');
    expect(canary.calls.filter((c) => c.type === 'confirm-rollout').at(-1)).toMatchObject({
      checksum: 'rev1',
      status: 200,
    });
    const p2 = callsFor('rev2');
    expect(p2.some((c) => c.type === 'confirm-promotion' && c.status === 200)).toBe(false);
    expect(p2.filter((c) => c.type === 'rollback').at(-1)?.status).toBe(200);
    expect(p2.find((c) => c.type === 'post-rollout')?.phase).toBe('Failed');

    // 3. The next revision after a failure: Flagger now sends its checksum from confirm-rollout on. rev2's
    //    halt must not roll it back; it is watched and promoted on its own data.
    canary.deploy('rev3');
    await step();
    await step();
    expect(canary.phase).toBe('Progressing');
    expect(await status('rev3')).toBe('watching');
    await until(() => canary.phase === 'Succeeded', 60);
    expect(await status('rev3')).toBe('passed');
    expect(
      callsFor('rev3')
        .filter((c) => c.type === 'rollback')
        .every((c) => c.status > 202),
    ).toBe(true);

    // Every hook type was called and authenticated by ?token= alone; events are always accepted.
    expect(new Set(canary.calls.map((c) => c.type))).toEqual(new Set(HOOKS));
    expect(canary.calls.filter((c) => c.status === 401 || c.status === 400 || c.status === 404)).toEqual([]);
    expect(canary.calls.filter((c) => c.type === 'event').every((c) => c.status === 200)).toBe(true);
    // No deploy was made for the checksum confirm-rollout or the "New revision detected" event carried.
    expect((await t.nav.service.list()).map((d) => d.id).sort()).toEqual(
      ['flagger:shop:checkout:rev1', 'flagger:shop:checkout:rev2', 'flagger:shop:checkout:rev3'].sort(),
    );
  }, 120_000);

  it('answers by the hook type: rollback only for a halted revision, event accepted, bad payloads named', async () => {
    t = await testNavigator({ config: BASE_CONFIG() });
    const post = (hook: string, payload: object) =>
      t!.nav.http.inject({ method: 'POST', url: `/v1/integrations/flagger/${hook}?token=ci-token`, payload });
    const p = { name: 'checkout', namespace: 'shop', checksum: 'abc' };
    // Before the analysis: nothing registered, no rollback.
    expect((await post('rollback', { ...p, phase: 'Waiting' })).statusCode).toBe(423);
    expect((await post('event', { ...p, phase: 'Initialized', metadata: { eventMessage: 'x' } })).statusCode).toBe(200);
    expect(await t.nav.service.list()).toEqual([]);
    // The first analysis hook registers the revision; while watched: rollout 200, promotion 423, rollback 423.
    const r = await post('pre-rollout', { ...p, phase: 'Progressing' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ deploy: 'flagger:shop:checkout:abc', status: 'watching' });
    expect(await t.nav.service.view('flagger:shop:checkout:abc')).toMatchObject({
      service: 'checkout',
      version: 'checkout',
      baselineVersion: 'checkout-primary',
    });
    // The id needs no escaping in a URL: the API, the CLI and the page address it as it is.
    expect(
      (await t.nav.http.inject({ url: '/v1/deploys/flagger:shop:checkout:abc', headers: t.auth('ci-token') }))
        .statusCode,
    ).toBe(200);
    expect((await post('confirm-promotion', { ...p, phase: 'Progressing' })).statusCode).toBe(423);
    expect((await post('rollback', { ...p, phase: 'Progressing' })).statusCode).toBe(423);
    // Ended (Flagger's own Failed phase, not Navigator's halt): still no rollback signal.
    expect((await post('post-rollout', { ...p, phase: 'Failed' })).statusCode).toBe(200);
    expect((await t.nav.service.view('flagger:shop:checkout:abc')).status).toBe('ended');
    expect((await post('rollback', { ...p, phase: 'Progressing' })).statusCode).toBe(423);
    // Bad input names the field; an unknown service too; no token is 401.
    const noSum = await post('rollout', { name: 'checkout', namespace: 'shop', phase: 'Progressing' });
    expect(noSum.statusCode).toBe(400);
    expect(noSum.json().error.field).toBe('checksum');
    const unknown = await post('rollout', { ...p, name: 'ghost', phase: 'Progressing' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.field).toBe('metadata.service');
    expect((await post('nope', { ...p, phase: 'Progressing' })).statusCode).toBe(400);
    const anon = await t.nav.http.inject({ method: 'POST', url: '/v1/integrations/flagger/rollout', payload: p });
    expect(anon.statusCode).toBe(401);
  });
});
