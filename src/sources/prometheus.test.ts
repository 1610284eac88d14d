// Unit tests of the Prometheus client's HTTP behaviour with a scripted fetch (the real server is in
// test/prometheus-seeing.test.ts): retries, Retry-After, partial responses, credentials.
import { describe, expect, it } from 'vitest';
import { PrometheusSource, gridFromSamples } from './prometheus.js';
import { SourceError } from './types.js';

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

function scripted(replies: Reply[]) {
  const seen: { headers: Record<string, string>; body: string }[] = [];
  const f = (async (_url: unknown, init?: RequestInit) => {
    seen.push({ headers: init?.headers as Record<string, string>, body: String(init?.body) });
    const r = replies.shift() ?? { status: 500, body: { status: 'error', error: 'script ran out' } };
    return new Response(JSON.stringify(r.body), { status: r.status, headers: r.headers });
  }) as typeof fetch;
  return { f, seen };
}

const ok = (result: unknown, warnings?: string[]) => ({
  status: 200,
  body: { status: 'success', data: { resultType: 'matrix', result }, ...(warnings ? { warnings } : {}) },
});
const sel = { metric: 'orders_total', matchers: { service: 'checkout' } };

describe('PrometheusSource over HTTP', () => {
  it('retries 429 and 5xx with backoff and then answers', async () => {
    const { f, seen } = scripted([
      { status: 429, body: { status: 'error', error: 'too many' }, headers: { 'retry-after': '0' } },
      { status: 503, body: 'unavailable' },
      ok([]),
    ]);
    const p = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 3, fetch: f, backoff: { base: 1, cap: 5 } });
    await expect(p.grid(sel, 0, 30, 15)).resolves.toEqual([]);
    expect(seen).toHaveLength(3);
  });

  it('does not retry a 400 (a bad query) and names the error', async () => {
    const { f, seen } = scripted([{ status: 400, body: { status: 'error', error: 'parse error' } }]);
    const p = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 3, fetch: f, backoff: { base: 1, cap: 5 } });
    await expect(p.grid(sel, 0, 30, 15)).rejects.toThrow(/HTTP 400: parse error/);
    expect(seen).toHaveLength(1);
  });

  it('treats a partial response (warnings) as no answer: blind, never a stopped series', async () => {
    const { f } = scripted([ok([], ['store a unavailable']), ok([], ['store a unavailable'])]);
    const p = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 1, fetch: f, backoff: { base: 1, cap: 5 } });
    const err = await p.grid(sel, 0, 30, 15).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as Error).message).toMatch(/partial response: store a unavailable/);
  });

  it('sends the configured headers and credentials with every query', async () => {
    const { f, seen } = scripted([ok([]), ok([])]);
    const basic = new PrometheusSource({
      url: 'http://p',
      timeout: 1,
      retries: 0,
      fetch: f,
      headers: { 'X-Scope-OrgID': 'tenant-1' },
      basicAuth: { username: 'nav', password: 's3cret' },
    });
    await basic.grid(sel, 0, 30, 15);
    expect(seen[0]?.headers['X-Scope-OrgID']).toBe('tenant-1');
    expect(seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('nav:s3cret').toString('base64')}`);
    const bearer = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 0, fetch: f, bearerToken: 'tok' });
    await bearer.grid(sel, 0, 30, 15);
    expect(seen[1]?.headers.authorization).toBe('Bearer tok');
  });

  it('puts raw samples on the tick grid: the last sample in (t - step, t], none is NaN', () => {
    const v = gridFromSamples(
      [
        [100.5, '1'],
        [105, '2'],
        [112, '3'],
      ],
      100,
      5,
      4,
    );
    expect([...v]).toEqual([NaN, 2, NaN, 3]);
  });
});
