// Delivery that never gives up silently, in one process with a clock the test moves and a real HTTP
// receiver: capped backoff until the receiver is back, fallback and "cannot deliver" pages (audited and in
// /metrics), 4xx per provider, Retry-After, idempotency keys and timestamped signatures, Alertmanager
// alerts kept firing while the deploy is halted, resolved alerts, Slack escaping, PagerDuty change events.
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { Receiver, type Received } from './support/receiver.js';
import type { SqliteStore } from '../src/store/sqlite.js';

let rx: Receiver;
let t: TestNavigator | null = null;
beforeEach(async () => {
  rx = new Receiver();
  await rx.start();
});
afterEach(async () => {
  await t?.nav.close();
  t = null;
  await rx.stop();
});

const config = (url: string, extra = '') => `
evaluation: { interval: 15s }
server: { listen: "127.0.0.1:0", publicUrl: "https://navigator.example" }
paging:
  fallback: backup
  undeliverable: cant
  delivery: { escalateAfter: 4, maxBackoff: 5m, initialBackoff: 1s, timeout: 2s }
  routes:
    oncall:
      webhook: { url: "${url}/hook", secret: "s3cret" }
      pagerduty: { routingKey: "0123456789abcdef0123456789abcdef", url: "${url}/pd/v2/enqueue" }
      alertmanager: { url: "${url}/am/", refresh: 1m }
      slack: { webhookUrl: "${url}/slack" }
    backup: { webhook: { url: "${url}/backup" } }
    cant: { webhook: { url: "${url}/cant" } }
services:
  checkout:
    page: [ oncall ]
    watchFor: 5m
    rollback: never
    hooks:
      halt: { url: "${url}/halt", secret: "hook-key" }
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
${extra}`;

const deploy = {
  id: 'd-1',
  service: 'checkout',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  startedAt: '2025-11-27T10:00:00Z',
  stages: [{ at: '2025-11-27T10:00:00Z', weight: 0.1 }],
  change: { id: 'PR-7', title: '<!channel> & <https://evil.example|click>', author: 'dev-a' },
};

async function halted(extra = ''): Promise<TestNavigator> {
  const n = await testNavigator({ config: config(rx.url, extra) });
  const start = n.clock.now;
  feedCanary(n.metrics, {
    service: 'checkout',
    from: start - 600,
    to: start + 600,
    baseline: 'v1',
    canary: 'v2',
    perTick: 300,
    weight: 0.1,
    canaryFactor: () => 0.01,
  });
  await n.nav.http.inject({ method: 'POST', url: '/v1/deploys', payload: deploy });
  n.clock.now = start + 60;
  await n.nav.service.tick(start + 60);
  expect((await n.nav.service.view('d-1')).status).toBe('halted');
  return n;
}

const isTrigger = (r: Received) => (r.json as { action?: string }).action === 'trigger';
const metric = async (name: string, labels: Record<string, string>) => {
  const text = await t!.nav.metrics.registry.metrics();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : 0;
};

describe('delivery that never gives up silently', () => {
  it('keeps retrying a receiver that answers 500 for ten minutes, with capped backoff, and delivers when it is back; the fallback and undeliverable routes hear of it meanwhile', async () => {
    rx.script.set('/hook', Array<number>(1000).fill(500));
    t = await halted();
    await t.nav.effects.drain();
    const start = t.clock.now;
    // Ten minutes of a receiver answering 500, in steps of 5 s of the test's clock.
    while (t.clock.now < start + 600) {
      t.clock.now += 5;
      await t.nav.effects.drain();
    }
    const failing = rx.at('/hook').filter(isTrigger);
    // Backoff 1, 2, 4, ... s with jitter, capped at 5 min: about ten attempts in ten minutes, not 600.
    expect(failing.length).toBeGreaterThanOrEqual(7);
    expect(failing.length).toBeLessThanOrEqual(14);
    const row = (await t.nav.store.effectByKey('page:oncall:webhook:navigator/checkout/d-1/regression:trigger'))!;
    expect(row.status).toBe('pending'); // still trying: the page matters until resolved
    expect(row.escalated).toBe(1);
    // After escalateAfter failures the page went to the fallback route, and a "cannot deliver" page out.
    const backup = rx.at('/backup');
    expect(backup).toHaveLength(1);
    expect((backup[0]!.json as { key: string }).key).toBe('navigator/checkout/d-1/regression');
    const cant = rx.at('/cant');
    expect(cant).toHaveLength(1);
    expect((cant[0]!.json as { summary: string }).summary).toMatch(
      /cannot deliver a page for deploy d-1 to route oncall \(webhook\): still failing after 4 attempt\(s\): HTTP 500/,
    );
    expect(
      await metric('navigator_deliveries_total', { route: 'oncall', provider: 'webhook', outcome: 'fallback' }),
    ).toBe(1);
    expect(
      await metric('navigator_deliveries_total', { route: 'oncall', provider: 'webhook', outcome: 'undeliverable' }),
    ).toBe(1);
    expect(await metric('navigator_deliveries_total', { route: 'oncall', provider: 'webhook', outcome: 'retry' })).toBe(
      failing.length,
    );
    expect((await t.nav.store.audit()).filter((a) => a.action === 'delivery-escalated')).toHaveLength(1);

    // The receiver is back: the next attempt (within the 5 min cap) delivers, once, and the "cannot
    // deliver" page is resolved.
    rx.script.set('/hook', []);
    for (let i = 0; i < 70 && (await t.nav.store.effectByKey(row.key))!.status === 'pending'; i++) {
      t.clock.now += 5;
      await t.nav.effects.drain();
    }
    expect((await t.nav.store.effectByKey(row.key))!.status).toBe('done');
    expect(rx.at('/hook').filter(isTrigger)).toHaveLength(failing.length + 1);
    await t.nav.effects.drain();
    expect(rx.at('/cant').map((r) => (r.json as { action: string }).action)).toEqual(['trigger', 'resolve']);
    expect((await t.nav.store.audit()).filter((a) => a.action === 'delivery-recovered')).toHaveLength(1);
    expect(await metric('navigator_outbox_pending', {})).toBe(0);
  });

  it('retries 401, 403, 404 and 429 (token rotation, a route being recreated, rate limits), honouring Retry-After', async () => {
    rx.script.set('/pd/v2/enqueue', [401, 403, 404, { status: 429, headers: { 'retry-after': '120' } }]);
    t = await halted();
    const pd = () => rx.at('/pd/v2/enqueue');
    await t.nav.effects.drain();
    for (let i = 0; i < 3; i++) {
      t.clock.now += 20;
      await t.nav.effects.drain();
    }
    expect(pd().length).toBe(4); // 401, 403, 404 retried; now waiting out the 429
    t.clock.now += 60;
    await t.nav.effects.drain();
    expect(pd().length).toBe(4); // Retry-After: 120 s not yet over
    t.clock.now += 65;
    await t.nav.effects.drain();
    expect(pd().length).toBe(5);
    expect(
      (await t.nav.store.effectByKey('page:oncall:pagerduty:navigator/checkout/d-1/regression:trigger'))?.status,
    ).toBe('done');
    expect(rx.at('/backup')).toHaveLength(1); // escalated after the 4th failure, as configured
  });

  it('a payload Slack documents as bad (400) is final, and the fallback and undeliverable routes get it at once', async () => {
    rx.script.set('/slack', [400]);
    t = await halted();
    await t.nav.effects.drain();
    await t.nav.effects.drain();
    const row = (await t.nav.store.effectByKey('page:oncall:slack:navigator/checkout/d-1/regression:trigger'))!;
    expect(row).toMatchObject({ status: 'failed', attempts: 1, escalated: 1 });
    expect(rx.at('/backup')).toHaveLength(1);
    expect((rx.at('/cant')[0]!.json as { summary: string }).summary).toMatch(/refused by the receiver after 1 attempt/);
    expect(await metric('navigator_deliveries_total', { route: 'oncall', provider: 'slack', outcome: 'failed' })).toBe(
      1,
    );
  });

  it('every HTTP delivery carries a stable idempotency key and, with a secret, a timestamped signature', async () => {
    rx.script.set('/hook', [503]);
    t = await halted();
    await t.nav.effects.drain();
    t.clock.now += 5;
    await t.nav.effects.drain();
    const sent = rx.at('/hook').filter(isTrigger);
    expect(sent).toHaveLength(2);
    const keys = sent.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBe('page:oncall:webhook:navigator/checkout/d-1/regression:trigger');
    expect(keys[1]).toBe(keys[0]);
    for (const r of [...sent, ...rx.at('/halt')]) {
      const secret = r.path === '/halt' ? 'hook-key' : 's3cret';
      const ts = r.headers['x-navigator-timestamp'] as string;
      expect(Number(ts)).toBeGreaterThan(1.7e9);
      expect(r.headers['x-navigator-signature-v2']).toBe(
        `sha256=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`,
      );
      expect(r.headers['x-navigator-signature']).toBe(
        `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`,
      );
    }
    expect(Number(sent[1]!.headers['x-navigator-timestamp'])).toBe(
      Math.floor(Number(sent[0]!.headers['x-navigator-timestamp']) + 5),
    ); // signed when sent, not when queued
    expect(rx.at('/halt')[0]!.headers['idempotency-key']).toBe('halt:d-1');
    for (const r of rx.requests) expect(r.headers['idempotency-key'], r.path).toBeTruthy();
  });

  it('keeps the Alertmanager alert firing with endsAt ahead of now while the deploy is halted, and resolves it explicitly', async () => {
    t = await halted();
    await t.nav.effects.drain();
    const posts = () => rx.at('/am/api/v2/alerts').map((r) => (r.json as { endsAt: string; labels: object }[])[0]!);
    expect(posts()).toHaveLength(1);
    expect(Date.parse(posts()[0]!.endsAt) / 1000).toBeCloseTo(t.clock.now + 240, 0);
    // An hour halted: re-posted about every minute, each time with endsAt four minutes ahead.
    const from = t.clock.now;
    while (t.clock.now < from + 3600) {
      t.clock.now += 10;
      await t.nav.effects.drain();
      const last = posts().at(-1)!;
      expect(Date.parse(last.endsAt) / 1000).toBeGreaterThan(t.clock.now + 120); // never about to lapse
    }
    expect(posts().length).toBeGreaterThanOrEqual(55);
    expect(posts().length).toBeLessThanOrEqual(70);
    const ack = await t.nav.http.inject({ method: 'POST', url: '/v1/deploys/d-1/acknowledge', payload: {} });
    expect(ack.statusCode).toBe(200);
    await t.nav.effects.drain();
    const resolve = posts().at(-1)!;
    expect(resolve.labels).toEqual(posts()[0]!.labels);
    expect(Date.parse(resolve.endsAt) / 1000).toBeLessThanOrEqual(t.clock.now);
    const n = posts().length;
    t.clock.now += 600;
    await t.nav.effects.drain();
    expect(posts()).toHaveLength(n); // resolved: no more refreshes
    // The refreshes carry their own idempotency keys: a receiver that dedups keeps each of them.
    const keys = rx.at('/am/api/v2/alerts').map((r) => r.headers['idempotency-key']);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('resolves the pages of an alert Alertmanager says is resolved, and never pages Navigator its own alerts', async () => {
    t = await testNavigator({ config: config(rx.url) });
    await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      payload: { ...deploy, startedAt: new Date((t.clock.now - 120) * 1000).toISOString(), stages: [] },
    });
    const alert = (status: string, labels: Record<string, string>, fingerprint: string) => ({
      version: '4',
      status,
      receiver: 'navigator',
      alerts: [
        {
          status,
          labels,
          annotations: { summary: 'orders fell' },
          startsAt: new Date((t!.clock.now - 60) * 1000).toISOString(),
          endsAt: status === 'resolved' ? new Date(t!.clock.now * 1000).toISOString() : '0001-01-01T00:00:00Z',
          fingerprint,
        },
      ],
    });
    const post = (body: object) =>
      t!.nav.http.inject({ method: 'POST', url: '/v1/integrations/alertmanager', payload: body });
    expect((await post(alert('firing', { alertname: 'OrdersLow', service: 'checkout' }, 'f1'))).statusCode).toBe(200);
    await t.nav.effects.drain();
    const hook = () => rx.at('/hook').map((r) => r.json as { action: string; key: string });
    expect(hook()).toEqual([expect.objectContaining({ action: 'trigger', key: 'navigator/checkout/d-1/alert:f1' })]);
    const r = await post(alert('resolved', { alertname: 'OrdersLow', service: 'checkout' }, 'f1'));
    expect(r.json().resolved).toEqual([{ alert: 'OrdersLow', resolves: ['d-1'] }]);
    await t.nav.effects.drain();
    expect(hook().map((h) => h.action)).toEqual(['trigger', 'resolve']);
    expect((await t.nav.store.audit()).some((a) => a.action === 'alert-resolved')).toBe(true);
    // Navigator's own alert, routed back to it by Alertmanager: ignored, firing or resolved.
    const own = { alertname: 'NavigatorRegression', service: 'checkout', deploy: 'd-1', incident: 'navigator/x/y' };
    const r2 = await post(alert('firing', own, 'f2'));
    expect(r2.json()).toMatchObject({ attributed: [], ignoredOwn: 1 });
    await t.nav.effects.drain();
    expect(hook()).toHaveLength(2);
  });

  it('escapes Slack text so a change title cannot ping a channel or forge a link', async () => {
    t = await halted();
    await t.nav.effects.drain();
    const body = rx.at('/slack')[0]!.json as { text: string; blocks: { text?: { type: string; text: string } }[] };
    expect(body.text).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    // (the actions block with the Approve / Acknowledge buttons has no text)
    const mrkdwn = body.blocks.flatMap((b) => (b.text?.type === 'mrkdwn' ? [b.text.text] : []));
    for (const text of [body.text, ...mrkdwn]) {
      expect(text).not.toContain('<!channel>');
      expect(text).not.toContain('<https://evil.example');
    }
    expect(mrkdwn.join('\n')).toContain('<https://navigator.example/v1/deploys/d-1|Deploy in Navigator>');
  });

  it('sends each deploy to PagerDuty as a change event naming the service', async () => {
    t = await testNavigator({ config: config(rx.url) });
    await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', payload: deploy });
    await t.nav.effects.drain();
    const ch = rx.at('/pd/v2/change/enqueue');
    expect(ch).toHaveLength(1);
    const body = ch[0]!.json as Record<string, any>;
    expect(body.routing_key).toBe('0123456789abcdef0123456789abcdef');
    expect(body.event_action).toBeUndefined();
    expect(body.payload).toMatchObject({ source: 'checkout', timestamp: '2025-11-27T10:00:00.000Z' });
    expect(body.payload.summary).toMatch(/^Deploy d-1: checkout v2 \(from v1\), canary: PR-7/);
    expect(rx.at('/pd/v2/enqueue')).toHaveLength(0); // nobody paged for a deploy starting
  });

  it('queues a change event lost to a crash right after registration when it starts again, once', async () => {
    t = await testNavigator({ config: config(rx.url) });
    await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', payload: deploy });
    (t.nav.store as SqliteStore).db.prepare("DELETE FROM outbox WHERE key = 'change:oncall:d-1'").run(); // never queued
    await t.nav.effects.start();
    await t.nav.effects.start(); // twice: the key keeps it once
    await t.nav.effects.drain();
    expect(rx.at('/pd/v2/change/enqueue')).toHaveLength(1);
  });
});
