// The API under faults and at its edges (issue 10): a store that cannot write (refused with 503, logged with
// a request id, readyz false, no phantom watch, the loop recovers and halts the next collapse), identities
// compared normalised, authentication before validation, real instants, coerced query parameters, and
// every 4xx in the documented shape. In process, on a real SQLite file; the cross-process full disk is
// test/fault-store.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import type { SqliteStore } from '../src/store/sqlite.js';

let t: TestNavigator;
afterEach(async () => {
  await t?.nav.close();
});

const CONFIG = `
evaluation: { interval: 15s }
auth:
  tokens:
    - { name: ci, role: pipeline, token: ci-token }
    - { name: alice, role: approver, token: alice-token }
    - { name: bob, role: approver, token: bob-token }
    - { name: dev-a, role: approver, token: dev-a-token }
    - { name: carol, role: approver, token: carol-token, identities: [cgarcia, "Carol.Garcia@example.com"] }
    - { name: carol-admin, role: admin, token: carol-admin-token, identities: [carol.garcia@example.com] }
server: { listen: "127.0.0.1:0" }
services:
  checkout:
    watchFor: 5m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
  payments:
    tier: critical
    watchFor: 5m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: payments } }
`;

const START = '2025-11-27T10:00:00Z';
const deploy = (over: Record<string, unknown> = {}) => ({
  id: 'd-1',
  service: 'payments',
  version: 'v2',
  baselineVersion: 'v1',
  stages: [{ at: START, weight: 0.1 }],
  startedAt: START,
  change: { id: 'PR-1', title: 'x', author: 'dev-a' },
  ...over,
});
const call = (method: 'GET' | 'POST', url: string, token: string | null, payload?: unknown, headers = {}) =>
  t.nav.app.inject({
    method,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    ...(payload !== undefined ? { payload: payload as object } : {}),
  });
const register = (body: unknown) => call('POST', '/v1/deploys', 'ci-token', body);
const approve = (id: string, token: string) => call('POST', `/v1/deploys/${id}/approvals`, token, { comment: 'ok' });

describe('identities', () => {
  it.each([['Dev-A'], [' dev-a'], ['DEV-A '], ['ｄｅｖ－ａ'], ['dev\u200b-a']])(
    'an author spelled %j cannot approve with the dev-a token',
    async (author) => {
      t = await testNavigator({ config: CONFIG });
      expect((await register(deploy({ change: { id: 'PR-1', author } }))).statusCode).toBe(201);
      const r = await approve('d-1', 'dev-a-token');
      expect(r.statusCode).toBe(403);
      expect(r.json().error.code).toBe('AUTHOR_CANNOT_APPROVE');
      // Someone else may.
      expect((await approve('d-1', 'alice-token')).statusCode).toBe(201);
    },
  );

  it("covers every identity a token lists, and one person's two tokens count once", async () => {
    t = await testNavigator({ config: CONFIG });
    await register(deploy({ id: 'by-mail', change: { id: 'PR-2', author: 'carol.garcia@EXAMPLE.com' } }));
    await register(deploy({ id: 'by-login', change: { id: 'PR-3', author: 'CGarcia' } }));
    for (const id of ['by-mail', 'by-login']) {
      const r = await approve(id, 'carol-token');
      expect(r.statusCode, id).toBe(403);
      expect(r.json().error.code).toBe('AUTHOR_CANNOT_APPROVE');
    }
    await register(deploy({ id: 'other', change: { id: 'PR-4', author: 'bob' } }));
    expect((await approve('other', 'carol-token')).statusCode).toBe(201);
    // Carol's admin token shares her e-mail: the same person, not a second approver.
    const again = await approve('other', 'carol-admin-token');
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('ALREADY_APPROVED');
  });
});

describe('authentication before validation', () => {
  it.each([
    ['POST', '/v1/deploys', { nonsense: true }],
    ['POST', '/v1/deploys/d-1/stages', { weight: 'x' }],
    ['POST', '/v1/deploys/d-1/approvals', { comment: 5 }],
    ['POST', '/v1/deploys/d-1/overrides', {}],
    ['GET', '/v1/deploys?limit=nope', undefined],
    ['GET', '/v1/audit?after=x', undefined],
    ['GET', '/v1/no-such-route', undefined],
  ] as const)('%s %s without a token: 401 naming no field', async (method, url, body) => {
    t = await testNavigator({ config: CONFIG });
    const r = await call(method, url, null, body);
    expect(r.statusCode).toBe(401);
    expect(r.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.any(String) } });
  });

  it('a bad JSON body without a token is 401, not a parse error', async () => {
    t = await testNavigator({ config: CONFIG });
    const r = await t.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: { 'content-type': 'application/json' },
      payload: '{"id": ',
    });
    expect(r.statusCode).toBe(401);
  });

  it('a pipeline token on the audit log is refused for its role before its query is read', async () => {
    t = await testNavigator({ config: CONFIG });
    const r = await call('GET', '/v1/audit?after=nope', 'ci-token');
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('FORBIDDEN_ROLE');
  });
});

describe('timestamps are real instants', () => {
  it.each([
    ['startedAt', { startedAt: '2025-12-31T23:59:60Z' }],
    ['stages.0.at', { stages: [{ at: '2016-12-31T23:59:60Z', weight: 0.1 }] }],
    ['startedAt', { startedAt: '1900-01-01T00:00:00Z' }],
    ['startedAt', { startedAt: '2017-01-01T00:00:00Z' }],
    ['startedAt', { startedAt: '2999-01-01T00:00:00Z' }],
    ['startedAt', { startedAt: '2025-02-30T10:00:00Z' }],
    ['startedAt', { startedAt: '2025-11-27T10:00:00' }],
  ])('400 naming %s', async (field, over) => {
    t = await testNavigator({ config: CONFIG });
    const r = await register(deploy(over));
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().error.field).toBe(field);
    expect(r.json().error.code).toBe('BAD_REQUEST');
  });

  it('a stage at a leap second or far away is 400 naming at', async () => {
    t = await testNavigator({ config: CONFIG });
    await register(deploy());
    for (const at of ['2025-11-27T10:00:60Z', '3000-01-01T00:00:00Z']) {
      const r = await call('POST', '/v1/deploys/d-1/stages', 'ci-token', { weight: 0.5, at });
      expect(r.statusCode, at).toBe(400);
      expect(r.json().error.field).toBe('at');
    }
    const ok = await call('POST', '/v1/deploys/d-1/stages', 'ci-token', { weight: 0.5, at: '2025-11-27T10:01:00Z' });
    expect(ok.statusCode).toBe(200);
  });
});

describe('query parameters', () => {
  it('?limit= and ?after= are coerced and validated', async () => {
    t = await testNavigator({ config: CONFIG });
    for (const id of ['a', 'b', 'c']) await register(deploy({ id }));
    const list = await call('GET', '/v1/deploys?limit=2', 'alice-token');
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json().deploys).toHaveLength(2);
    const page = await call('GET', '/v1/audit?after=1&limit=1', 'alice-token');
    expect(page.statusCode, page.body).toBe(200);
    expect(page.json().entries.map((e: { seq: number }) => e.seq)).toEqual([2]);
    for (const [url, field] of [
      ['/v1/deploys?limit=0', 'limit'],
      ['/v1/deploys?limit=ten', 'limit'],
      ['/v1/audit?after=-1', 'after'],
      ['/v1/audit?after=1.5', 'after'],
      ['/v1/audit?limit=100000', 'limit'],
    ]) {
      const r = await call('GET', url as string, 'alice-token');
      expect(r.statusCode, url).toBe(400);
      expect(r.json().error.field, url).toBe(field);
    }
  });
});

describe('every 4xx in the documented shape', () => {
  const documented = (r: { json(): unknown }) => {
    const b = r.json() as Record<string, unknown>;
    expect(Object.keys(b)).toEqual(['error']);
    const e = b.error as Record<string, unknown>;
    expect(typeof e.code).toBe('string');
    expect(e.code).not.toMatch(/^FST_/);
    expect(typeof e.message).toBe('string');
    expect(Object.keys(e).every((k) => ['code', 'message', 'field', 'problems'].includes(k))).toBe(true);
    return e;
  };
  it.each([
    ['bad JSON', 400, 'BAD_REQUEST', { 'content-type': 'application/json' }, '{"id": '],
    ['an empty JSON body', 400, 'BAD_REQUEST', { 'content-type': 'application/json' }, ''],
    ['an unsupported content type', 415, 'UNSUPPORTED_MEDIA_TYPE', { 'content-type': 'text/csv' }, 'a,b'],
    ['a body too large', 413, 'PAYLOAD_TOO_LARGE', { 'content-type': 'application/json' }, `"${'x'.repeat(1 << 21)}"`],
  ])('%s', async (_what, status, code, headers, payload) => {
    t = await testNavigator({ config: CONFIG });
    const r = await t.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: { authorization: 'Bearer ci-token', ...headers },
      payload,
    });
    expect(r.statusCode).toBe(status);
    expect(documented(r).code).toBe(code);
  });

  it('an unknown route, a wrong method, an unknown deploy', async () => {
    t = await testNavigator({ config: CONFIG });
    for (const [method, url] of [
      ['GET', '/v1/nothing-here?token=secret'],
      ['DELETE', '/v1/deploys'],
      ['GET', '/v1/deploys/nope'],
      ['GET', '/nothing'],
    ] as const) {
      const r = await t.nav.app.inject({ method, url, headers: { authorization: 'Bearer ci-token' } });
      expect(r.statusCode, url).toBe(404);
      const e = documented(r);
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).not.toContain('secret');
    }
  });
});

describe('a store that cannot write', () => {
  // The database may not grow (as on a full disk) and its free space is taken by a test table.
  const fill = () => {
    const db = (t.nav.store as SqliteStore).db;
    db.exec('CREATE TABLE IF NOT EXISTS junk (pad BLOB)');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    for (let size = 4096; size >= 16; size = Math.floor(size / 2)) {
      for (;;) {
        try {
          db.prepare('INSERT INTO junk VALUES (randomblob(?))').run(size);
        } catch {
          break;
        }
      }
    }
  };
  const unfill = () => {
    (t.nav.store as SqliteStore).db.pragma('max_page_count = 1073741823');
    (t.nav.store as SqliteStore).db.exec('DELETE FROM junk');
  };

  it('refuses registrations with 503, logs them with the request id, no phantom watch; the loop recovers and halts the next collapse', async () => {
    const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      info: (obj: object, msg: string) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      warn: (obj: object, msg: string) => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      error: (obj: object, msg: string) => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    };
    t = await testNavigator({ config: CONFIG, log });
    await t.nav.start();
    const ready = () => t.nav.app.inject({ url: '/readyz' });
    expect((await ready()).statusCode).toBe(200);
    const t0 = t.clock.now;
    feedCanary(t.metrics, {
      service: 'checkout',
      from: t0 - 600,
      to: t0 + 3600,
      baseline: 'v1',
      canary: 'v2',
      perTick: 400,
      weight: 0.1,
      canaryFactor: (s) => (s > t0 + 60 ? 0.01 : 1),
    });
    const at = new Date(t0 * 1000).toISOString();
    // A full-size change (the schema's longest title and link): its rows need new pages.
    const change = {
      id: 'PR-9',
      title: 't'.repeat(500),
      author: 'dev-b',
      url: `https://git.example/${'p'.repeat(1900)}`,
    };
    const body = (id: string) =>
      deploy({ id, service: 'checkout', startedAt: at, stages: [{ at, weight: 0.1 }], change });

    fill();
    const refused = await call('POST', '/v1/deploys', 'ci-token', body('phantom'), { 'x-request-id': 'req-full-1' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['x-request-id']).toBe('req-full-1');
    expect(refused.json().error).toMatchObject({ code: 'STORE_UNAVAILABLE', requestId: 'req-full-1' });
    expect(refused.json().error.message).toMatch(/SQLITE_FULL/);
    const line = lines.find((l) => l.level === 'error' && l.obj.reqId === 'req-full-1');
    expect(line?.obj).toMatchObject({ status: 503, code: 'SQLITE_FULL', route: '/v1/deploys' });
    // All or nothing: no deploy row, no watch in memory.
    expect(await t.nav.store.getDeploy('phantom')).toBeUndefined();
    expect(t.nav.service.watcher.get('phantom')).toBeUndefined();
    expect((await call('GET', '/v1/deploys/phantom', 'ci-token')).statusCode).toBe(404);
    const notReady = await ready();
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({
      ready: false,
      store: { writable: false, error: expect.stringMatching(/FULL/) },
    });
    // A tick while full does not stop the loop for good.
    t.clock.now = t0 + 15;
    await t.nav.service.tick(t.clock.now);

    unfill();
    t.clock.now = t0 + 30;
    await t.nav.service.tick(t.clock.now);
    await new Promise((r) => setTimeout(r, 1100)); // the probe runs at most once a second
    expect((await ready()).statusCode).toBe(200);
    const reg = await call('POST', '/v1/deploys', 'ci-token', body('after-space'));
    expect(reg.statusCode, reg.body).toBe(201);
    for (let s = t0 + 45; s <= t0 + 180; s += 15) {
      t.clock.now = s;
      await t.nav.service.tick(s);
    }
    const d = (await call('GET', '/v1/deploys/after-space', 'ci-token')).json();
    expect(d.status).toBe('halted');
    expect((await t.nav.store.audit(0, 1000, 'after-space')).map((a) => a.action)).toContain('halt');
    expect(lines.some((l) => /dropped a watch/.test(l.msg))).toBe(false);
  });

  it('every 5xx is logged with a request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = { info() {}, warn() {}, error: (obj: object) => lines.push(obj as Record<string, unknown>) };
    t = await testNavigator({ config: CONFIG, log });
    t.nav.service.list = () => {
      throw new Error('boom: a bug');
    };
    const r = await call('GET', '/v1/deploys', 'ci-token');
    expect(r.statusCode).toBe(500);
    const id = r.json().error.requestId as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['x-request-id']).toBe(id);
    expect(lines.find((l) => l.reqId === id)).toMatchObject({ status: 500, err: 'boom: a bug' });
  });
});

describe('the audit log through the API', () => {
  it('is paged by cursor, exports its head as a gauge, and bounds how fast a pipeline token grows it', async () => {
    t = await testNavigator({
      config: CONFIG.replace('auth:\n  tokens:', 'auth:\n  pipelineWrites: { perSecond: 0.5, burst: 4 }\n  tokens:'),
    });
    for (const id of ['a', 'b', 'c']) expect((await register(deploy({ id }))).statusCode).toBe(201);
    const first = (await call('GET', '/v1/audit?limit=2', 'alice-token')).json();
    expect(first.entries.map((e: { seq: number }) => e.seq)).toEqual([1, 2]);
    expect(first.next).toBe(2);
    const second = (await call('GET', `/v1/audit?after=${first.next}&limit=2`, 'alice-token')).json();
    expect(second.entries.map((e: { seq: number }) => e.seq)).toEqual([3]);
    expect(second.next).toBeNull();
    expect(second.chain).toMatchObject({ ok: true, entries: 3, head: { seq: 3 } });
    const metrics = (await t.nav.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^navigator_audit_head_seq 3$/m);
    // The burst of 4 is spent by the fourth write; the fifth waits.
    expect((await call('POST', '/v1/deploys/a/end', 'ci-token')).statusCode).toBe(200);
    const limited = await call('POST', '/v1/deploys/a/end', 'ci-token');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await t.nav.store.audit()).length).toBe(4);
    // People are not limited.
    expect((await approve('b', 'alice-token')).statusCode).toBe(201);
  });
});
