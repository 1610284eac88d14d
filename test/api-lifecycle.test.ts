// The HTTP API beyond the happy path: every required field named, the status machine (pending_approval,
// approvals by phase, freezes that end, overrides, end), blindness, and random stage bodies (property).
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { SourceError } from '../src/sources/types.js';
import { BASE_CONFIG, feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator;
afterEach(async () => {
  await t?.nav.close();
});

const START = '2025-11-27T10:00:00Z';
const deploy = (over: Record<string, unknown> = {}) => ({
  id: 'd-1',
  service: 'checkout',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  stages: [{ at: START, weight: 0.1 }],
  startedAt: START,
  change: { id: 'PR-1', title: 'x', author: 'dev-a', commit: 'abc', url: 'https://git.example/pr/1' },
  ...over,
});

const call = (method: 'GET' | 'POST', url: string, token: string, payload?: unknown) =>
  t.nav.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}` },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
const register = (body: unknown, token = 'ci-token') => call('POST', '/v1/deploys', token, body);
const approve = (id: string, token: string, comment = 'ok') =>
  call('POST', `/v1/deploys/${id}/approvals`, token, { comment });
const override = (id: string, token: string, action: string, reason: string) =>
  call('POST', `/v1/deploys/${id}/overrides`, token, { action, reason });
const gate = (id: string) => call('GET', `/v1/deploys/${id}/gate`, 'ci-token');
const view = async (id: string) => (await call('GET', `/v1/deploys/${id}`, 'ci-token')).json();
const good = (service: string, canary: string, weight = 0.1) =>
  feedCanary(t.metrics, {
    service,
    from: t.clock.now - 600,
    to: t.clock.now + 3600,
    baseline: 'v1',
    canary,
    perTick: 300,
    weight,
    canaryFactor: () => 1,
  });
const tickTo = async (s: number) => {
  t.clock.now = s;
  await t.nav.service.tick(s);
};

describe('registration errors name the field', () => {
  it.each([
    ['id', { id: undefined }],
    ['service', { service: undefined }],
    ['version', { version: undefined }],
    ['id', { id: 'has space' }],
    ['baselineVersion', { baselineVersion: '' }],
    ['startedAt', { startedAt: 'yesterday' }],
    ['stages', { stages: 'all of them' }],
    ['change.id', { change: { title: 'no id' } }],
    ['change.colour', { change: { id: 'PR-1', colour: 'red' } }],
    ['change.authorKind', { change: { id: 'PR-1', authorKind: 'robot' } }],
  ])('%s', async (field, over) => {
    t = await testNavigator();
    const body: Record<string, unknown> = deploy(over);
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete body[k];
    const r = await register(body);
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'BAD_REQUEST', field });
    expect(r.json().error.message.startsWith(`${field}:`)).toBe(true);
  });

  it('answers unknown deploys, routes and content types with JSON errors', async () => {
    t = await testNavigator();
    for (const url of ['/v1/deploys/nope', '/v1/deploys/nope/gate']) {
      const r = await call('GET', url, 'ci-token');
      expect(r.statusCode).toBe(404);
      expect(r.json().error.code).toBe('NOT_FOUND');
    }
    expect((await approve('nope', 'alice-token')).statusCode).toBe(404);
    expect((await call('GET', '/v2/nothing', 'ci-token')).json().error.code).toBe('NOT_FOUND');
    const text = await t.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: { authorization: 'Bearer ci-token', 'content-type': 'text/plain' },
      payload: 'id=d-1',
    });
    expect(text.statusCode).toBe(400);
    expect(text.json().error.field).toBe('body');
    const broken = await t.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: { authorization: 'Bearer ci-token', 'content-type': 'application/json' },
      payload: '{"id": "d-1",',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.field).toBe('body');
    const status = await call('GET', '/v1/deploys?status=sideways', 'ci-token');
    expect(status.statusCode).toBe(400);
    expect(status.json().error.field).toBe('status');
  });

  it('random stage bodies never get a 5xx, and every 4xx names a field (property)', async () => {
    t = await testNavigator();
    expect((await register(deploy())).statusCode).toBe(201);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record(
            {
              weight: fc.oneof(fc.double(), fc.string(), fc.constant(null), fc.integer()),
              at: fc.oneof(
                fc.string(),
                fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                fc.integer(),
              ),
              extra: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
          fc.jsonValue(),
        ),
        fc.constantFrom('d-1', 'missing'),
        async (body, id) => {
          const r = await t.nav.app.inject({
            method: 'POST',
            url: `/v1/deploys/${id}/stages`,
            headers: { authorization: 'Bearer ci-token', 'content-type': 'application/json' },
            payload: JSON.stringify(body) ?? 'null',
          });
          if (r.statusCode >= 500) return false;
          if (r.statusCode === 400) return typeof r.json().error?.field === 'string' && r.json().error.field !== '';
          return r.statusCode === 200 || r.statusCode === 404;
        },
      ),
      { numRuns: 200 },
    );
    const v = await view('d-1');
    expect(v.status).toBe('watching');
  });
});

describe('stages, listing and the end', () => {
  it('records stages, lists by status, and an ended deploy makes the gate halt', async () => {
    t = await testNavigator();
    await register(deploy());
    await register(deploy({ id: 'd-2' }));
    const s = await call('POST', '/v1/deploys/d-1/stages', 'ci-token', { weight: 0.5 });
    expect(s.statusCode).toBe(200);
    expect(s.json().stages.map((x: { weight: number }) => x.weight)).toEqual([0.1, 0.5]);
    expect((await t.nav.store.stages('d-1')).map((x) => [x.seq, x.weight, x.actor])).toEqual([
      [1, 0.1, 'ci'],
      [2, 0.5, 'ci'],
    ]);
    expect((await call('POST', '/v1/deploys/d-1/end', 'alice-token')).statusCode).toBe(403);
    const end = await call('POST', '/v1/deploys/d-1/end', 'ci-token');
    expect(end.json().status).toBe('ended');
    expect(t.nav.service.watcher.get('d-1')).toBeUndefined();
    const g = await gate('d-1');
    expect(g.statusCode).toBe(409);
    expect(g.json()).toMatchObject({ decision: 'halt', status: 'ended', reason: 'ended by ci' });
    expect((await call('POST', '/v1/deploys/d-1/stages', 'ci-token', { weight: 1 })).json().error.code).toBe(
      'DEPLOY_CLOSED',
    );
    const list = (await call('GET', '/v1/deploys?status=watching', 'ci-token')).json();
    expect(list.deploys.map((d: { id: string }) => d.id)).toEqual(['d-2']);
  });
});

describe('plans that wait for a human (pending_approval)', () => {
  it.each([
    ['a first stage above maxFirstWeight', 'checkout', { stages: [{ at: START, weight: 0.8 }] }, /maxFirstWeight/],
    ['an all-at-once deploy of a critical service', 'payments', { strategy: 'all-at-once', stages: [] }, /at once/],
    ['a destructive change', 'checkout', { change: { id: 'INFRA-1', author: 'dev-a', destructive: true } }, /destr/],
  ])('%s', async (_name, service, over, why) => {
    t = await testNavigator();
    const r = await register(deploy({ service, ...over }));
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ status: 'pending_approval', hold: 'plan' });
    expect(r.json().reason).toMatch(why);
    expect(t.nav.service.watcher.get('d-1')).toBeUndefined();
    const g = await gate('d-1');
    expect(g.statusCode).toBe(423);
    expect(g.headers['retry-after']).toBeDefined();
    expect((await approve('d-1', 'dev-a-token')).json().error.code).toBe('AUTHOR_CANNOT_APPROVE');
    expect((await approve('d-1', 'ci-token')).json().error.code).toBe('FORBIDDEN_ROLE');
    t.clock.now += 300; // the approval comes five minutes later: the watch starts then
    const a = await approve('d-1', 'alice-token');
    expect(a.statusCode).toBe(201);
    expect(a.json()).toMatchObject({ status: 'watching', hold: null });
    expect(a.json().startedAt).toBe(new Date(t.clock.now * 1000).toISOString());
    expect(a.json().approvals).toMatchObject([{ approver: 'alice', phase: 'start' }]);
    expect(t.nav.service.watcher.get('d-1')).toBeDefined();
  });

  it('approving the start does not count toward a critical promotion', async () => {
    t = await testNavigator();
    const start = t.clock.now;
    good('payments', 'v2', 0.9);
    await register(deploy({ service: 'payments', stages: [{ at: START, weight: 0.9 }] }));
    await approve('d-1', 'alice-token');
    await tickTo(start + 400);
    const v = await view('d-1');
    expect(v.status).toBe('awaiting_approval');
    expect(v.reason).toMatch(/0 of 2/);
    expect((await approve('d-1', 'alice-token')).statusCode).toBe(201); // a promotion approval: a new phase
    expect((await approve('d-1', 'alice-token')).json().error.code).toBe('ALREADY_APPROVED');
    expect((await gate('d-1')).statusCode).toBe(423);
    expect((await approve('d-1', 'bob-token')).json().status).toBe('passed');
    expect((await gate('d-1')).json()).toMatchObject({ decision: 'proceed', reason: 'approved by alice and bob' });
    expect((await approve('d-1', 'admin-token')).json().error.code).toBe('ALREADY_PASSED');
  });

  it('approvals given while watching count when the judge finds no regression', async () => {
    t = await testNavigator();
    const start = t.clock.now;
    good('payments', 'v2');
    await register(deploy({ service: 'payments' }));
    await approve('d-1', 'alice-token');
    await approve('d-1', 'bob-token');
    expect((await view('d-1')).status).toBe('watching'); // approvals never replace the judge
    await tickTo(start + 400);
    expect((await gate('d-1')).statusCode).toBe(200);
  });

  it("an agent's change needs a human even on a standard service", async () => {
    t = await testNavigator();
    const start = t.clock.now;
    good('checkout', 'v2');
    await register(deploy({ change: { id: 'PR-7', author: 'bot-7', authorKind: 'agent' } }));
    await tickTo(start + 400);
    expect((await view('d-1')).status).toBe('awaiting_approval');
    expect((await approve('d-1', 'alice-token')).json().status).toBe('passed');
  });
});

describe('freeze windows (fixed clock)', () => {
  const frozen = () =>
    testNavigator({
      config: BASE_CONFIG('freezes:\n  - { cron: "0 9 * * *", duration: 90m, reason: "morning freeze" }'),
      start: Date.parse('2025-11-27T10:00:00Z') / 1000, // inside 09:00-10:30
    });

  it('holds a deploy; an approval does not lift it; it starts by itself when the window ends', async () => {
    t = await frozen();
    const r = await register(deploy());
    expect(r.json()).toMatchObject({ status: 'pending_approval', hold: 'freeze' });
    expect(r.json().reason).toMatch(/morning freeze.*until 2025-11-27T10:30:00.000Z/);
    const a = await approve('d-1', 'alice-token');
    expect(a.statusCode).toBe(409);
    expect(a.json().error.code).toBe('FROZEN');
    await tickTo(Date.parse('2025-11-27T10:29:45Z') / 1000);
    expect((await view('d-1')).status).toBe('pending_approval');
    await tickTo(Date.parse('2025-11-27T10:30:00Z') / 1000);
    const v = await view('d-1');
    expect(v).toMatchObject({ status: 'watching', hold: null, startedAt: '2025-11-27T10:30:00.000Z' });
    const audit = (await call('GET', '/v1/audit?deploy=d-1', 'admin-token')).json();
    expect(audit.entries.map((e: { action: string }) => e.action)).toEqual(['register', 'freeze-over']);
  });

  it('a plan held by a freeze still waits for its approval after the freeze', async () => {
    t = await frozen();
    await register(deploy({ change: { id: 'INFRA-1', author: 'dev-a', destructive: true } }));
    await tickTo(Date.parse('2025-11-27T10:30:00Z') / 1000);
    const v = await view('d-1');
    expect(v).toMatchObject({ status: 'pending_approval', hold: 'plan' });
    expect((await approve('d-1', 'alice-token')).json().status).toBe('watching');
  });

  it('an admin breaks the glass with a reason; the override is recorded', async () => {
    t = await frozen();
    await register(deploy());
    expect((await override('d-1', 'alice-token', 'proceed', 'hotfix for incident 12')).statusCode).toBe(403);
    const glass = await override('d-1', 'admin-token', 'proceed', 'hotfix for incident 12');
    expect(glass.json()).toMatchObject({
      status: 'watching',
      overrides: [{ actor: 'root', action: 'proceed', reason: 'hotfix for incident 12', from: 'pending_approval' }],
    });
  });
});

describe('overrides', () => {
  it('need a reason; an approver may force a halt; closed deploys refuse', async () => {
    t = await testNavigator();
    await register(deploy());
    const none = await call('POST', '/v1/deploys/d-1/overrides', 'admin-token', { action: 'halt' });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.field).toBe('reason');
    const blank = await override('d-1', 'admin-token', 'halt', '   ');
    expect(blank.json().error.field).toBe('reason');
    expect((await override('d-1', 'admin-token', 'pause', 'because')).json().error.field).toBe('action');
    expect((await override('d-1', 'ci-token', 'halt', 'because')).statusCode).toBe(403);
    const halt = await override('d-1', 'alice-token', 'halt', 'customers report errors');
    expect(halt.json()).toMatchObject({ status: 'halted', reason: 'forced to halt by alice: customers report errors' });
    expect(t.nav.service.watcher.get('d-1')).toBeUndefined();
    expect((await gate('d-1')).json()).toMatchObject({ decision: 'halt' });
    expect((await override('d-1', 'alice-token', 'halt', 'again')).json().error.code).toBe('ALREADY_HALTED');
    const proceed = await override('d-1', 'admin-token', 'proceed', 'false alarm: a client bug');
    expect(proceed.json().status).toBe('passed');
    expect((await gate('d-1')).statusCode).toBe(200);
    expect((await override('d-1', 'admin-token', 'proceed', 'again')).json().error.code).toBe('ALREADY_PASSED');
    // The pipeline's end keeps a decided status; a halt after promotion is still possible (the halt hook fires).
    expect((await call('POST', '/v1/deploys/d-1/end', 'ci-token')).json().status).toBe('passed');
    expect((await override('d-1', 'alice-token', 'halt', 'errors after promotion')).json().status).toBe('halted');
    expect((await register(deploy({ id: 'd-2' }))).statusCode).toBe(201);
    await call('POST', '/v1/deploys/d-2/end', 'ci-token');
    expect((await override('d-2', 'admin-token', 'proceed', 'too late')).json().error.code).toBe('DEPLOY_CLOSED');
    const actions = (await call('GET', '/v1/audit?deploy=d-1', 'admin-token'))
      .json()
      .entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['register', 'override:halt', 'override:proceed', 'end', 'override:halt']);
    expect((await t.nav.store.overrides('d-1')).map((o) => o.to_status)).toEqual(['halted', 'passed', 'halted']);
  });
});

describe('blindness', () => {
  it('a source that fails leaves the deploy watching, marked blind in the API, the gate and the metrics', async () => {
    t = await testNavigator();
    const start = t.clock.now;
    good('checkout', 'v2');
    await register(deploy());
    await tickTo(start + 30);
    expect((await view('d-1')).blind).toBe(false);
    t.metrics.grid = async () => {
      throw new SourceError('connection refused', 'test');
    };
    await tickTo(start + 45);
    await tickTo(start + 400); // past watchFor: a blind watch never passes
    const v = await view('d-1');
    expect(v).toMatchObject({
      status: 'watching',
      blind: true,
      blindSince: new Date((start + 45) * 1000).toISOString(),
    });
    expect((await gate('d-1')).json().reason).toMatch(/blind/);
    const m = (await t.nav.app.inject({ url: '/metrics' })).body;
    expect(m).toMatch(/navigator_blind_watches 1/);
    expect(m).toMatch(/navigator_source_errors_total\{source="scrape"\} 2/);
    expect(m).not.toMatch(/d-1/);
  });
});

describe('operations', () => {
  it('is ready once started; documents bearer auth; counts requests by route template', async () => {
    t = await testNavigator();
    expect((await t.nav.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    const { url } = await t.nav.start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(t.nav.loop.scheduled).toBe(true);
    expect((await (await fetch(`${url}/readyz`)).json()) as unknown).toEqual({ ready: true });
    const docs = (await t.nav.app.inject({ url: '/docs/json' })).json();
    expect(docs.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(docs.paths)).toEqual(
      expect.arrayContaining([
        '/v1/deploys',
        '/v1/deploys/{id}',
        '/v1/deploys/{id}/stages',
        '/v1/deploys/{id}/gate',
        '/v1/deploys/{id}/approvals',
        '/v1/deploys/{id}/overrides',
        '/v1/deploys/{id}/end',
        '/v1/audit',
      ]),
    );
    await register(deploy({ id: 'secret-id-42' }));
    await gate('secret-id-42');
    const m = (await t.nav.app.inject({ url: '/metrics' })).body;
    expect(m).toMatch(/navigator_http_requests_total\{route="\/v1\/deploys\/:id\/gate",method="GET",status="423"\} 1/);
    expect(m).not.toMatch(/secret-id-42/);
    await t.nav.close();
    await t.nav.close(); // idempotent
  });
});
