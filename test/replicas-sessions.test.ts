// The on-call page behind a load balancer: two replicas on one real PostgreSQL. A person signs in on one
// replica and the other knows the session (its cookie, its CSRF token, the flash an action left for the
// next page); signing out on one signs out on both; a session expires 12 hours after sign-in on every
// replica; a restarted replica still knows the sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNavigator, type TestNavigator } from './support/navigator.js';
import { startPostgres, type Postgres } from './support/postgres.js';

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
let server: Postgres;
const navs: TestNavigator[] = [];
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  for (const t of navs) await t.nav.close().catch(() => {});
  await server?.stop();
});

const replica = async (url: string) => {
  const t = await testNavigator({ storeUrl: url, start: START });
  navs.push(t);
  return t;
};

describe('UI sessions shared by replicas', () => {
  it('signs in on one replica and is known, acts and signs out on another, until the session expires', async () => {
    const url = await server.database();
    const [a, b] = [await replica(url), await replica(url)];
    const at = new Date(START * 1000).toISOString();
    const reg = await a.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: a.auth('ci-token'),
      payload: { id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1', stages: [{ at, weight: 0.1 }] },
    });
    expect(reg.statusCode).toBe(201);

    const login = await a.nav.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=alice-token&next=%2Fui%2F',
    });
    expect(login.statusCode).toBe(303);
    const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
    expect(cookie).toMatch(/^navigator_session=.{20,}/);

    // Replica b knows the browser: the page, as alice, with the session's CSRF token in its forms.
    const page = await b.nav.app.inject({ url: '/ui/deploys/d-1', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('alice');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    expect(csrf.length).toBeGreaterThan(20);

    // An action posted to b with that token is alice's; its outcome is the flash a's next page shows, once.
    const ack = await b.nav.app.inject({
      method: 'POST',
      url: '/ui/deploys/d-1/acknowledge',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `csrf=${encodeURIComponent(csrf)}`,
    });
    expect(ack.statusCode).toBe(303);
    const next = await a.nav.app.inject({ url: '/ui/deploys/d-1', headers: { cookie } });
    const flash = /class="flash[^"]*"[^>]*>([^<]+)</.exec(next.body)?.[1] ?? '';
    expect(flash.length).toBeGreaterThan(0);
    const again = await b.nav.app.inject({ url: '/ui/deploys/d-1', headers: { cookie } });
    expect(again.body).not.toContain(`class="flash" role="status"`);

    // A replica started later (a restart, a scale-up) knows it too.
    const c = await replica(url);
    expect((await c.nav.app.inject({ url: '/ui/', headers: { cookie } })).statusCode).toBe(200);

    // Signed out on b: unknown on a.
    const out = await b.nav.app.inject({
      method: 'POST',
      url: '/ui/logout',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: `csrf=${encodeURIComponent(csrf)}`,
    });
    expect(out.statusCode).toBe(303);
    const gone = await a.nav.app.inject({ url: '/ui/', headers: { cookie } });
    expect(gone.statusCode).toBe(303);
    expect(gone.headers.location).toContain('/ui/login');

    // A new session expires 12 hours after sign-in, on every replica.
    const second = await b.nav.app.inject({
      method: 'POST',
      url: '/ui/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=bob-token&next=%2Fui%2F',
    });
    const bob = String(second.headers['set-cookie']).split(';')[0] ?? '';
    for (const n of [a, b, c]) n.clock.now = START + 12 * 3600 - 60;
    expect((await a.nav.app.inject({ url: '/ui/', headers: { cookie: bob } })).statusCode).toBe(200);
    for (const n of [a, b, c]) n.clock.now = START + 12 * 3600 + 1;
    for (const n of [a, b, c])
      expect((await n.nav.app.inject({ url: '/ui/', headers: { cookie: bob } })).statusCode).toBe(303);
  }, 120_000);
});
