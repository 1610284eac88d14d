// Integration routes take the token as `?token=` (contracts §7) for clients that cannot send headers
// (Flagger's webhooks): accepted there only, and taken out of the URL before routing, so no log line,
// error message or stored record can carry it.
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { moveQueryToken } from '../src/http/auth.js';
import { testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator | null = null;
afterEach(async () => {
  await t?.nav.close();
  t = null;
});

const deploy = { id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1', strategy: 'canary' };

describe('?token= on integration routes', () => {
  it('authenticates integration routes only, and never echoes the token', async () => {
    t = await testNavigator();
    const reg = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: deploy,
    });
    expect(reg.statusCode).toBe(201);

    expect((await t.nav.http.inject({ url: '/v1/integrations/argo/d-1' })).statusCode).toBe(401);
    expect((await t.nav.http.inject({ url: '/v1/integrations/argo/d-1?token=wrong' })).statusCode).toBe(401);
    const ok = await t.nav.http.inject({ url: '/v1/integrations/argo/d-1?token=ci-token' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ decision: 'wait' });
    // Other query parameters survive; the header wins over the query when both are sent.
    expect((await t.nav.http.inject({ url: '/v1/integrations/argo/d-1?x=1&token=ci-token' })).statusCode).toBe(200);
    const both = await t.nav.http.inject({ url: '/v1/integrations/argo/d-1?token=ci-token', headers: t.auth('nope') });
    expect(both.statusCode).toBe(401);

    // Not accepted elsewhere: the rest of the API needs the header.
    expect((await t.nav.http.inject({ url: '/v1/deploys/d-1?token=ci-token' })).statusCode).toBe(401);

    // An unknown integration route answers 404 naming the path, without the token.
    const missing = await t.nav.http.inject({ url: '/v1/integrations/nope?token=ci-token' });
    expect(missing.statusCode).toBe(404);
    expect(missing.body).not.toContain('ci-token');
    expect(missing.body).toContain('/v1/integrations/nope');
    // Nothing stored names it: the audit log of the calls above.
    const audit = await t.nav.http.inject({ url: '/v1/audit', headers: t.auth('admin-token') });
    expect(audit.statusCode).toBe(200);
    expect(audit.body).not.toContain('ci-token');
  });

  it('keeps the token out of request logs', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // The same wiring as src/http/app.ts, with fastify's request logging on (info level).
    const app = Fastify({ logger: { level: 'info', stream }, rewriteUrl: moveQueryToken });
    app.get('/v1/integrations/echo', async (req) => ({
      auth: req.headers.authorization,
      url: req.url,
      originalUrl: req.originalUrl,
    }));
    const r = await app.inject({ url: '/v1/integrations/echo?a=b&token=s3cret-value' });
    await app.close();
    expect(r.json()).toEqual({
      auth: 'Bearer s3cret-value',
      url: '/v1/integrations/echo?a=b',
      originalUrl: '/v1/integrations/echo?a=b',
    });
    expect(lines.join('')).toMatch(/incoming request/);
    expect(lines.join('')).toMatch(/\/v1\/integrations\/echo\?a=b/);
    expect(lines.join('')).not.toContain('s3cret-value');
  });
});
