// The HTTP API through inject: contracts §5, auth roles, policy, and that bad input never gets a 5xx.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BASE_CONFIG, feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator;
afterEach(async () => {
  await t?.nav.close();
});

const deploy = (over: Record<string, unknown> = {}) => ({
  id: 'd-1',
  service: 'checkout',
  version: 'v2',
  baselineVersion: 'v1',
  strategy: 'canary',
  stages: [{ at: '2025-11-27T10:00:00Z', weight: 0.1 }],
  startedAt: '2025-11-27T10:00:00Z',
  change: { id: 'PR-1', title: 'x', author: 'dev-a', commit: 'abc', url: 'https://git.example/pr/1' },
  ...over,
});

describe('deploy registration', () => {
  it('creates with 201, returns the first registration with 200 on the same id', async () => {
    t = await testNavigator();
    const h = t.auth('ci-token');
    const a = await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: h, payload: deploy() });
    expect(a.statusCode).toBe(201);
    expect(a.json().status).toBe('watching');
    const b = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: h,
      payload: deploy({ version: 'v9' }),
    });
    expect(b.statusCode).toBe(200);
    expect(b.json().version).toBe('v2');
  });

  it.each([
    [{ service: undefined }, 'service'],
    [{ version: undefined }, 'version'],
    [{ strategy: 'sideways' }, 'strategy'],
    [{ stages: [{ at: 'soon', weight: 0.1 }] }, 'stages.0.at'],
    [{ stages: [{ at: '2025-11-27T10:00:00Z', weight: 2 }] }, 'stages.0.weight'],
    [{ colour: 'blue' }, 'colour'],
    [{ service: 'nope' }, 'service'],
  ])('refuses %j with 400 naming %s', async (over, field) => {
    t = await testNavigator();
    const body = deploy(over);
    for (const [k, v] of Object.entries(over)) if (v === undefined) delete (body as Record<string, unknown>)[k];
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: body,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.field).toBe(field);
    expect(r.json().error.message).toContain(field.split('.')[0]);
  });

  it('needs a token with the right role', async () => {
    t = await testNavigator();
    expect((await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', payload: deploy() })).statusCode).toBe(401);
    expect(
      (await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: t.auth('wrong'), payload: deploy() }))
        .statusCode,
    ).toBe(401);
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('alice-token'),
      payload: deploy(),
    });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('FORBIDDEN_ROLE');
  });

  it('never answers bad bodies with a 5xx, and names a field in every 4xx (property)', async () => {
    t = await testNavigator();
    const h = t.auth('ci-token');
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          id: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
          service: fc.oneof(fc.constantFrom('checkout', 'payments', 'nope'), fc.integer(), fc.constant(null)),
          version: fc.oneof(fc.string(), fc.constant(undefined)),
          strategy: fc.oneof(fc.constantFrom('canary', 'all-at-once', 'x'), fc.integer()),
          stages: fc.oneof(
            fc.array(
              fc.record({
                at: fc.oneof(
                  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                  fc.string(),
                ),
                weight: fc.double(),
              }),
            ),
            fc.string(),
          ),
          extra: fc.option(fc.jsonValue()),
        }),
        async (body) => {
          const r = await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: h, payload: body });
          if (r.statusCode >= 500) return false;
          if (r.statusCode >= 400) return typeof r.json().error?.field === 'string' && r.json().error.field.length > 0;
          return true;
        },
      ),
      { numRuns: 150 },
    );
    const junk = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: { ...h, 'content-type': 'application/json' },
      payload: '{"id": ',
    });
    expect(junk.statusCode).toBe(400);
    const stage = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/none/stages',
      headers: h,
      payload: { weight: 'half' },
    });
    expect(stage.statusCode).toBe(400);
    expect(stage.json().error.field).toBe('weight');
  });
});

describe('the gate', () => {
  it('waits while watching, halts a collapsed canary, and proceeds for a good one', async () => {
    t = await testNavigator();
    const start = t.clock.now;
    const h = t.auth('ci-token');
    feedCanary(t.metrics, {
      service: 'checkout',
      from: start - 600,
      to: start + 600,
      baseline: 'v1',
      canary: 'v2',
      perTick: 300,
      weight: 0.1,
      canaryFactor: (x) => (x > start + 60 ? 0.01 : 1),
    });
    feedCanary(t.metrics, {
      service: 'checkout',
      from: start - 600,
      to: start + 600,
      baseline: 'v1',
      canary: 'v3',
      perTick: 300,
      weight: 0.1,
      canaryFactor: () => 1,
    });
    await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: h, payload: deploy() });
    await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: h,
      payload: deploy({ id: 'd-good', version: 'v3' }),
    });
    t.clock.now = start + 30;
    await t.nav.service.tick(start + 30);
    let g = await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/d-1/gate', headers: h });
    expect(g.statusCode).toBe(423);
    expect(g.json().decision).toBe('wait');
    expect(g.headers['retry-after']).toBe('15');
    t.clock.now = start + 120;
    await t.nav.service.tick(start + 120);
    g = await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/d-1/gate', headers: h });
    expect(
      g.statusCode,
      JSON.stringify((await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/d-1', headers: h })).json()).slice(
        0,
        1500,
      ),
    ).toBe(409);
    expect(g.json().decision).toBe('halt');
    expect(g.json().reason).toMatch(/orders/);
    const view = (await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/d-1', headers: h })).json();
    expect(view.status).toBe('halted');
    expect(view.verdicts[0].evidence.statistic).toBeGreaterThanOrEqual(view.verdicts[0].evidence.threshold);
    t.clock.now = start + 330;
    await t.nav.service.tick(start + 330);
    g = await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/d-good/gate', headers: h });
    expect(g.statusCode).toBe(200);
    expect(g.json().decision).toBe('proceed');
  });
});

describe('humans in the loop', () => {
  it('a critical promotion needs two approvals from distinct non-authors', async () => {
    t = await testNavigator();
    const start = t.clock.now;
    feedCanary(t.metrics, {
      service: 'payments',
      from: start - 600,
      to: start + 600,
      baseline: 'v1',
      canary: 'v2',
      perTick: 300,
      weight: 0.1,
      canaryFactor: () => 1,
    });
    await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: deploy({ id: 'p-1', service: 'payments' }),
    });
    t.clock.now = start + 330;
    await t.nav.service.tick(start + 330);
    const gate = () => t.nav.http.inject({ method: 'GET', url: '/v1/deploys/p-1/gate', headers: t.auth('ci-token') });
    expect((await gate()).json().status).toBe('awaiting_approval');
    const approve = (token: string) =>
      t.nav.http.inject({
        method: 'POST',
        url: '/v1/deploys/p-1/approvals',
        headers: t.auth(token),
        payload: { comment: 'ok' },
      });
    expect((await approve('dev-a-token')).json().error.code).toBe('AUTHOR_CANNOT_APPROVE');
    expect((await approve('ci-token')).json().error.code).toBe('FORBIDDEN_ROLE');
    expect((await approve('alice-token')).statusCode).toBe(201);
    expect((await approve('alice-token')).json().error.code).toBe('ALREADY_APPROVED');
    expect((await gate()).statusCode).toBe(423);
    expect((await approve('bob-token')).statusCode).toBe(201);
    expect((await gate()).statusCode).toBe(200);
  });

  it('an agent-authored change needs a human approval; a destructive plan waits before it starts', async () => {
    t = await testNavigator();
    const h = t.auth('ci-token');
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: h,
      payload: deploy({
        id: 'destroy',
        change: { id: 'INFRA-9', author: 'bot', authorKind: 'agent', destructive: true },
      }),
    });
    expect(r.json().status).toBe('pending_approval');
    expect(r.json().reason).toMatch(/destructive/);
    expect(r.json().approvalsRequired).toBe(1);
    expect((await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/destroy/gate', headers: h })).statusCode).toBe(
      423,
    );
    const a = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/destroy/approvals',
      headers: t.auth('alice-token'),
      payload: {},
    });
    expect(a.json().status).toBe('watching');
  });

  it('a freeze window holds deploys until an admin breaks the glass with a reason', async () => {
    t = await testNavigator({
      config: BASE_CONFIG('freezes:\n  - { cron: "0 9 * * *", duration: 2h, reason: "morning freeze" }'),
    });
    const h = t.auth('ci-token');
    const r = await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: h, payload: deploy() });
    expect(r.json().status).toBe('pending_approval');
    expect(r.json().reason).toMatch(/morning freeze/);
    const noReason = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/d-1/overrides',
      headers: t.auth('admin-token'),
      payload: { action: 'proceed', reason: '' },
    });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().error.field).toBe('reason');
    const notAdmin = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/d-1/overrides',
      headers: t.auth('alice-token'),
      payload: { action: 'proceed', reason: 'hotfix for incident 12' },
    });
    expect(notAdmin.statusCode).toBe(403);
    const glass = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/d-1/overrides',
      headers: t.auth('admin-token'),
      payload: { action: 'proceed', reason: 'hotfix for incident 12' },
    });
    expect(glass.json().status).toBe('watching');
    const audit = await t.nav.http.inject({ method: 'GET', url: '/v1/audit', headers: t.auth('admin-token') });
    expect(audit.json().entries.map((e: { action: string }) => e.action)).toEqual(['register', 'override:proceed']);
    expect(audit.json().chain.ok).toBe(true);
  });
});

describe('operations', () => {
  it('serves health, readiness, metrics and OpenAPI', async () => {
    t = await testNavigator();
    expect((await t.nav.http.inject({ url: '/healthz' })).statusCode).toBe(200);
    const m = await t.nav.http.inject({ url: '/metrics' });
    expect(m.body).toContain('navigator_active_watches');
    expect(m.body).toContain('navigator_tick_duration_seconds');
    const docs = await t.nav.http.inject({ url: '/docs/json' });
    expect(docs.json().paths['/v1/deploys/{id}/gate']).toBeDefined();
  });

  it('refuses to listen beyond loopback without tokens', async () => {
    const { buildNavigator } = await import('../src/app.js');
    const { parseConfig } = await import('../src/config/load.js');
    const config = parseConfig('server: { listen: "0.0.0.0:8080" }\nservices:\n  s: { signals: {} }\n', 'x.yaml', {});
    await expect(buildNavigator({ config })).rejects.toThrow(/refusing to listen on 0.0.0.0:8080/);
  });
});
