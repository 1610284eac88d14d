// The Prometheus client's concurrency bound, against a real local HTTP server (a fake Prometheus) that
// counts the requests in flight and holds each one open for a while; and the outcome of every attempt.
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PrometheusSource, type QueryOutcome } from './prometheus.js';

const sel = { metric: 'orders_total', matchers: { service: 'checkout' } };
/** Distinct selectors: the same query for the same time is asked once (the memo), so these differ. */
const selN = (i: number) => ({ metric: 'orders_total', matchers: { service: `checkout${i}` } });
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A fake Prometheus answering every query with an empty matrix after `holdMs`. */
async function slowPrometheus(holdMs: number) {
  const seen = { inFlight: 0, maxInFlight: 0, total: 0 };
  const server = createServer((req, res) => {
    req.resume();
    seen.total++;
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    setTimeout(() => {
      seen.inFlight--;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }));
    }, holdMs);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, seen };
}

describe('PrometheusSource concurrency', () => {
  it('never has more than maxConcurrency queries in flight, and still answers every one', async () => {
    const prom = await slowPrometheus(40);
    const outcomes: QueryOutcome[] = [];
    const p = new PrometheusSource({
      url: prom.url,
      timeout: 10,
      retries: 0,
      maxConcurrency: 3,
      onQuery: (o) => outcomes.push(o),
    });
    // 24 backtest reads at once (one query each) and 8 live observes of one metric for 8 services, asked
    // together (prometheus-batch.ts): one observation and one targets query (no target serves: no `up`).
    const results = await Promise.all([
      ...Array.from({ length: 24 }, (_, i) => p.grid(selN(i), 0, 30, 15)),
      ...Array.from({ length: 8 }, (_, i) => p.observe(selN(i), 0, 30, 15)),
    ]);
    expect(results).toHaveLength(32);
    expect(prom.seen.total).toBe(26);
    expect(prom.seen.maxInFlight).toBe(3); // the bound is reached and never passed
    expect(outcomes).toEqual(Array<QueryOutcome>(26).fill('ok'));
  });

  it('defaults to 10 in flight (Prometheus itself runs 20 at once by default)', async () => {
    const prom = await slowPrometheus(40);
    const p = new PrometheusSource({ url: prom.url, timeout: 10, retries: 0 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => p.grid(selN(i), 0, 30, 15)));
    expect(prom.seen.maxInFlight).toBe(10);
  });

  it('asks the same query for the same time once, and a different time again', async () => {
    const prom = await slowPrometheus(40);
    const p = new PrometheusSource({ url: prom.url, timeout: 10, retries: 0 });
    await Promise.all(Array.from({ length: 5 }, () => p.grid(sel, 0, 30, 15)));
    expect(prom.seen.total).toBe(1);
    await p.grid(sel, 0, 30, 15); // just answered: still the same
    expect(prom.seen.total).toBe(1);
    await p.grid(sel, 15, 45, 15);
    expect(prom.seen.total).toBe(2);
  });

  it('reports each attempt: retry for one tried again, partial for warnings, error for the last', async () => {
    const replies = [
      { status: 503, body: 'unavailable' },
      { status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [] }, warnings: ['store a'] } },
      { status: 200, body: { status: 'success', data: { resultType: 'matrix', result: [] } } },
      { status: 400, body: { status: 'error', error: 'parse error' } },
      { status: 503, body: 'unavailable' },
      { status: 503, body: 'unavailable' },
    ];
    const f = (async () => {
      const r = replies.shift();
      if (!r) throw new Error('script ran out');
      return new Response(JSON.stringify(r.body), { status: r.status });
    }) as typeof fetch;
    const outcomes: [QueryOutcome, number][] = [];
    const source = (retries: number) =>
      new PrometheusSource({
        url: 'http://p',
        timeout: 1,
        retries,
        fetch: f,
        backoff: { base: 1, cap: 5 },
        onQuery: (o, s) => outcomes.push([o, s]),
      });
    await expect(source(2).grid(sel, 0, 30, 15)).resolves.toEqual([]);
    await expect(source(2).grid(sel, 0, 30, 15)).rejects.toThrow(/HTTP 400/);
    await expect(source(1).grid(sel, 0, 30, 15)).rejects.toThrow(/HTTP 503/);
    expect(outcomes.map(([o]) => o)).toEqual(['retry', 'partial', 'ok', 'error', 'retry', 'error']);
    for (const [, s] of outcomes) expect(s).toBeGreaterThanOrEqual(0);
  });
});
