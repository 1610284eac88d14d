// Halts, pages and hooks through the durable outbox, against a local receiver that checks each provider's
// payload shape; retries; delivery after a restart between decision and delivery, exactly once; the
// audit chain; the Flagger, Argo Rollouts and Alertmanager integrations.
import { createHmac } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { Receiver } from './support/receiver.js';

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
  resolveAfter: 1ms
  dashboardUrl: https://grafana.example/d/navigator-deploy
  routes:
    all:
      pagerduty: { routingKey: "0123456789abcdef0123456789abcdef", url: "${url}/pd/v2/enqueue" }
      alertmanager: { url: "${url}/am/" }
      opsgenie: { apiKey: "og-key", url: "${url}/og/" }
      slack: { webhookUrl: "${url}/slack/hook" }
      webhook: { url: "${url}/webhook", secret: "s3cret" }
grafana: { url: "${url}/grafana", token: "g-token", dashboardUid: navigator-deploy }
services:
  checkout:
    tier: critical
    page: [ all ]
    watchFor: 5m
    rollback: automatic
    hooks:
      halt: { url: "${url}/halt", secret: "hook-key", body: { stop: "{{deploy.id}}", service: "{{deploy.service}}" } }
      rollback: { url: "${url}/rollback" }
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
${extra}`;

const deploy = {
  id: 'd-9',
  service: 'checkout',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  startedAt: '2025-11-27T10:00:00Z',
  stages: [{ at: '2025-11-27T10:00:00Z', weight: 0.1 }],
  change: {
    id: 'PR-1012',
    title: 'Cache cart totals',
    author: 'dev-a',
    commit: '30b2938aa',
    url: 'https://git.example/pr/1012',
  },
};

async function haltedNavigator(
  storePath?: string,
  fetchImpl?: typeof fetch,
  rollback = 'automatic',
): Promise<TestNavigator> {
  const n = await testNavigator({
    config: config(rx.url).replace('rollback: automatic', `rollback: ${rollback}`),
    ...(storePath ? { storePath } : {}),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
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
  return n;
}

describe('pages and hooks', () => {
  it('sends each provider its documented payload, naming the change and the evidence', async () => {
    t = await haltedNavigator();
    expect((await t.nav.service.view('d-9')).status).toBe('halted');
    await t.nav.effects.drain();
    t.clock.now += 1; // resolves wait paging.resolveAfter after the rollback
    await t.nav.effects.drain(); // the rollback's success queued the resolves

    const pd = rx.at('/pd/v2/enqueue')[0]?.json as Record<string, any>;
    expect(pd.routing_key).toHaveLength(32);
    expect(pd.event_action).toBe('trigger');
    expect(pd.dedup_key).toBe('navigator/checkout/d-9/regression');
    expect(pd.payload.severity).toBe('critical');
    expect(pd.payload.source).toBe('checkout'); // PagerDuty: the affected system, not the tool
    expect(pd.payload.summary.length).toBeLessThanOrEqual(1024);
    expect(pd.payload.summary).toContain('PR-1012');
    expect(pd.payload.custom_details.change).toContain('dev-a');
    expect(pd.payload.custom_details.evidence).toMatch(/orders/);
    expect(pd.payload.custom_details.already_done).toMatch(/halt hook/);
    expect(pd.links.map((l: { href: string }) => l.href)).toContain('https://navigator.example/v1/deploys/d-9');
    expect((rx.at('/pd/v2/enqueue')[1]?.json as Record<string, any>).event_action).toBe('resolve');

    const am = rx.at('/am/api/v2/alerts')[0]?.json as Record<string, any>[];
    expect(Array.isArray(am)).toBe(true);
    expect(am[0]!.labels).toMatchObject({ alertname: 'NavigatorRegression', service: 'checkout', deploy: 'd-9' });
    expect(am[0]!.startsAt).toMatch(/Z$/);
    const amResolve = rx.at('/am/api/v2/alerts')[1]?.json as Record<string, any>[];
    expect(amResolve[0]!.labels).toEqual(am[0]!.labels);
    expect(amResolve[0]!.endsAt).toBeDefined();

    const og = rx.at('/og/v2/alerts')[0]!;
    expect(og.headers.authorization).toBe('GenieKey og-key');
    expect((og.json as Record<string, any>).message.length).toBeLessThanOrEqual(130);
    expect((og.json as Record<string, any>).alias).toBe('navigator/checkout/d-9/regression');
    expect(rx.at('/og/v2/alerts/navigator%2Fcheckout%2Fd-9%2Fregression/close')).toHaveLength(1);

    const slack = rx.at('/slack/hook')[0]?.json as Record<string, any>;
    expect(typeof slack.text).toBe('string');
    expect(slack.blocks[0].type).toBe('header');
    expect(slack.blocks[0].text.text.length).toBeLessThanOrEqual(150);

    const hook = rx.at('/webhook')[0]!;
    expect(hook.headers['x-navigator-signature']).toBe(
      `sha256=${createHmac('sha256', 's3cret').update(hook.body).digest('hex')}`,
    );

    const halt = rx.at('/halt')[0]!;
    expect(halt.json).toEqual({ stop: 'd-9', service: 'checkout' });
    expect(halt.headers['x-navigator-signature']).toBe(
      `sha256=${createHmac('sha256', 'hook-key').update(halt.body).digest('hex')}`,
    );
    expect(rx.at('/rollback')).toHaveLength(1);
    expect((await t.nav.service.view('d-9')).status).toBe('rolled_back');

    // Grafana annotations for the deploy's start, its halt and its rollback, through the HTTP API (this
    // receiver finds no region on GET, so each is a POST; test/grafana-annotations.test.ts has the regions).
    const notes = rx.at('/grafana/api/annotations').filter((n) => n.method === 'POST');
    expect(notes.map((n) => (n.json as { tags: string[] }).tags[2])).toEqual(['registered', 'halted', 'rolled_back']);
    expect(notes[0]!.headers.authorization).toBe('Bearer g-token');
    expect(notes[1]!.json).toMatchObject({
      dashboardUID: 'navigator-deploy',
      tags: ['navigator', 'checkout', 'halted', 'deploy:d-9'],
    });
    expect(typeof (notes[1]!.json as { time: number }).time).toBe('number');
    await t.nav.effects.drain();
    const effects = (await t.nav.service.view('d-9')).effects;
    expect(effects.filter((e) => e.status !== 'done')).toEqual([]);
  });

  it('retries 429 and 5xx with backoff, never other 4xx', async () => {
    rx.script.set('/pd/v2/enqueue', [500, 429]);
    rx.script.set('/slack/', [400]);
    t = await haltedNavigator(undefined, undefined, 'never'); // no rollback, so no resolve takes a scripted answer
    await t.nav.effects.drain();
    const triggers = () =>
      rx.at('/pd/v2/enqueue').filter((r) => (r.json as Record<string, string>).event_action === 'trigger');
    const slackTriggers = () =>
      rx.at('/slack/').filter((r) => !(r.json as { text: string }).text.startsWith('Resolved'));
    expect(triggers()).toHaveLength(1);
    expect(slackTriggers()).toHaveLength(1);
    t.clock.now += 10;
    await t.nav.effects.drain();
    t.clock.now += 10;
    await t.nav.effects.drain();
    expect(triggers()).toHaveLength(3);
    const effects = (await t.nav.service.view('d-9')).effects;
    expect(effects.find((e) => e.kind === 'page:pagerduty:trigger')?.status).toBe('done');
    expect(effects.find((e) => e.kind === 'page:slack:trigger')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(slackTriggers()).toHaveLength(1);
  });

  it('delivers after a restart between decision and delivery, exactly once', async () => {
    // The process dies after the decision is committed and before anything reaches the network: here its
    // sends fail as a dead process's would, and the store is all that survives.
    const dead = (() => Promise.reject(new Error('process killed'))) as unknown as typeof fetch;
    t = await haltedNavigator(undefined, dead);
    const storePath = t.storePath;
    const decidedAt = t.clock.now;
    await t.nav.effects.drain();
    await t.nav.close();
    t = null;
    expect(rx.requests).toHaveLength(0);
    t = await testNavigator({ config: config(rx.url), storePath, start: decidedAt + 60 });
    await t.nav.effects.drain();
    await t.nav.effects.drain();
    const triggers = rx
      .at('/pd/v2/enqueue')
      .filter((r) => (r.json as Record<string, string>).event_action === 'trigger');
    expect(triggers).toHaveLength(1);
    expect(rx.at('/halt')).toHaveLength(1);
    await t.nav.effects.drain();
    expect(rx.at('/halt')).toHaveLength(1);
  });

  it('records effects without sending them in dry-run mode', async () => {
    t = await testNavigator({
      config: config(rx.url).replace('rollback: automatic', 'rollback: automatic\n    dryRun: true'),
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
    await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', payload: deploy });
    t.clock.now = start + 60;
    await t.nav.service.tick(start + 60);
    await t.nav.effects.drain();
    // Nothing acts on production or pages anyone; dashboard annotations (records, not actions) still go out.
    expect(rx.requests.filter((r) => !r.path.startsWith('/grafana/'))).toHaveLength(0);
    const effects = (await t.nav.service.view('d-9')).effects.filter((e) => e.kind !== 'annotation');
    expect(effects.length).toBeGreaterThan(0);
    expect(effects.every((e) => e.status === 'skipped')).toBe(true);
  });
});

describe('acknowledgement', () => {
  it('a human acknowledging the page resolves it at every provider at once, and only once', async () => {
    t = await haltedNavigator(undefined, undefined, 'never');
    await t.nav.effects.drain();
    const ack = await t.nav.http.inject({ method: 'POST', url: '/v1/deploys/d-9/acknowledge', payload: {} });
    expect(ack.statusCode).toBe(200); // no tokens configured in this test: everyone is admin
    expect(ack.json()).toMatchObject({ deploy: 'd-9', acknowledgedBy: 'anonymous' });
    expect(ack.json().resolves).toBeGreaterThanOrEqual(5);
    await t.nav.effects.drain();
    const resolves = rx
      .at('/pd/v2/enqueue')
      .filter((r) => (r.json as Record<string, string>).event_action === 'resolve');
    expect(resolves).toHaveLength(1);
    const again = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/d-9/acknowledge',
      payload: { comment: 'again' },
    });
    expect(again.json().resolves).toBe(0);
    await t.nav.effects.drain();
    expect(
      rx.at('/pd/v2/enqueue').filter((r) => (r.json as Record<string, string>).event_action === 'resolve'),
    ).toHaveLength(1);
    expect((await t.nav.store.audit()).filter((a) => a.action === 'acknowledge')).toHaveLength(2);
  });
});

describe('audit log', () => {
  it('detects a rewritten entry, through the API and `navigator audit verify`', async () => {
    t = await haltedNavigator();
    const ok = navigator(['audit', 'verify', '--store', t.storePath]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: \d+ entries/);
    const db = new Database(t.storePath);
    db.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 1").run();
    db.close();
    const bad = navigator(['audit', 'verify', '--store', t.storePath]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/TAMPERED: audit entry 1/);
    const api = await t.nav.http.inject({ url: '/v1/audit' });
    expect(api.json().chain.ok).toBe(false);
  });
});

describe('integrations', () => {
  it('answers Flagger webhooks for a pipeline-registered deploy (metadata.deploy): fail the check, hold, roll back', async () => {
    t = await haltedNavigator();
    const hook = (name: string) =>
      t!.nav.http.inject({
        method: 'POST',
        url: `/v1/integrations/flagger/${name}`,
        payload: { name: 'checkout', namespace: 'shop', phase: 'Progressing', metadata: { deploy: 'd-9' } },
      });
    expect((await hook('rollout')).statusCode).toBe(409); // a failed check: Flagger counts it toward its threshold
    expect((await hook('confirm-promotion')).statusCode).toBe(423);
    expect((await hook('rollback')).statusCode).toBe(200);
  });

  it('serves the Argo Rollouts web metric', async () => {
    t = await haltedNavigator();
    const r = await t.nav.http.inject({ url: '/v1/integrations/argo/d-9' });
    expect(r.json()).toMatchObject({ decision: 'halt', halt: true, proceed: false });
  });

  it('attributes a firing Alertmanager alert to the recent change and pages with it', async () => {
    t = await testNavigator({ config: config(rx.url) });
    const start = t.clock.now;
    await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      payload: { ...deploy, id: 'old', startedAt: new Date((start - 4 * 3600) * 1000).toISOString(), stages: [] },
    });
    await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      payload: { ...deploy, id: 'new', startedAt: new Date((start - 120) * 1000).toISOString(), stages: [] },
    });
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/integrations/alertmanager',
      payload: {
        version: '4',
        status: 'firing',
        receiver: 'navigator',
        groupKey: '{}:{}',
        alerts: [
          {
            status: 'firing',
            labels: { alertname: 'OrdersLow', service: 'checkout' },
            annotations: { summary: 'orders fell' },
            startsAt: new Date((start - 60) * 1000).toISOString(),
            endsAt: '0001-01-01T00:00:00Z',
            fingerprint: 'abc',
          },
        ],
      },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().attributed[0]).toMatchObject({ attributedTo: 'new' });
    expect(r.json().attributed[0].candidates.map((c: { id: string }) => c.id)).toEqual(['new', 'old']);
    await t.nav.effects.drain();
    const pd = rx.at('/pd/v2/enqueue')[0]?.json as Record<string, any>;
    expect(pd.payload.summary).toMatch(/OrdersLow/);
    expect(pd.payload.custom_details.deploy).toBe('new');
  });
});
