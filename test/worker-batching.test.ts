// A tick read in the worker thread (src/watch/worker-observer.ts) asks Prometheus one query per metric
// across services, however many request batches the tick has: the worker gets a few batches at a time,
// after one warm-up message that reads every service's selectors together (prometheus-batch.ts batches what
// arrives together). Against a real Prometheus scraping a real HTTP target that serves 20 services'
// counters, behind a proxy that counts the queries.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { TickRequest } from '../src/watch/observer.js';
import { WorkerObserver } from '../src/watch/worker-observer.js';
import { Processes, waitUntil } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';

const procs = new Processes();
const servers: Server[] = [];
const observers: WorkerObserver[] = [];
afterAll(async () => {
  for (const o of observers) await o.close();
  for (const s of servers) s.close();
  await procs.stopAll();
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

/** One target serving every service's orders counter, by version (v0 the baseline, v1 and v2 canaries). */
function storefront(services: number): Promise<string> {
  const started = Date.now() / 1000;
  return listen(
    createServer((_req, res) => {
      const e = Math.floor((Date.now() / 1000 - started) * 10);
      const lines = Array.from({ length: services }, (_, i) =>
        [0, 1, 2].map((v) => `orders_total{service="s${i}",version="v${v}"} ${e * (v === 0 ? 8 : 1)}`),
      ).flat();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`${lines.join('\n')}\n`);
    }),
  );
}

/** Forwards every request to `upstream` (a real Prometheus) and records the query texts. */
async function countingProxy(upstream: string) {
  const queries: string[] = [];
  const host = await listen(
    createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        queries.push(new URLSearchParams(body).get('query') ?? '');
        void fetch(new URL(req.url ?? '/', upstream), {
          method: req.method,
          headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
          body: req.method === 'POST' ? body : undefined,
        }).then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(await r.text());
        });
      });
    }),
  );
  return { url: `http://${host}`, queries };
}

const SERVICES = 20;

describe('a tick read in the worker', () => {
  it('asks one query per metric for all services, though only 8 request batches are in the worker at once', async () => {
    const prom = await startPrometheus(procs, { targets: [await storefront(SERVICES)], scrapeInterval: '1s' });
    const proxy = await countingProxy(prom.url);
    // The tick read below ends at a 15 s boundary after Prometheus' first scrape of the target (so its
    // targets and `up` are known by then), and is read a second after that boundary.
    await waitUntil(
      'the first scrape',
      async () => {
        const r = (await (await fetch(`${prom.url}/api/v1/query?query=up`)).json()) as { data: { result: unknown[] } };
        return r.data.result.length > 0;
      },
      30_000,
    );
    const t = Math.ceil((Date.now() / 1000 + 2) / 15) * 15;
    await waitUntil('the tick end', async () => Date.now() / 1000 >= t + 1, 30_000);
    const dir = mkdtempSync(join(tmpdir(), 'navigator-worker-batch-'));
    const config = parseConfig(
      `metrics: { source: prometheus, prometheus: { url: "${proxy.url}", timeout: 5s } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: 15s }
services:
${Array.from(
  { length: SERVICES },
  (_, i) => `  s${i}:
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: s${i} } }
`,
).join('')}`,
      join(dir, 'navigator.yaml'),
    );
    const observer = new WorkerObserver({ config });
    observers.push(observer);
    // One batch per service, as the watcher hands over a tick whose watches come service by service.
    const batch = (i: number): TickRequest[] =>
      [1, 2].map((v) => ({
        service: `s${i}`,
        version: `v${v}`,
        baselineVersion: 'v0',
        t,
        signals: [{ name: 'orders', mode: 'canary' as const, anchor: t - 15 }],
      }));
    const reading = observer.begin();
    const asked = Array.from({ length: SERVICES }, (_, i) => reading.observe(batch(i)));
    await Promise.resolve(); // the warm-up and the first batches go out in a microtask
    expect(observer.inFlight).toBe(8);
    const answers = await Promise.all(asked);
    reading.end();
    expect(answers.flat()).toHaveLength(2 * SERVICES);
    // Every watch read its canary's and its baseline's orders from the real series (no failure).
    for (const a of answers.flat()) expect(a).toHaveProperty('observations');
    // One observation query, one targets query and one `up` query for the 20 services.
    expect(proxy.queries).toHaveLength(3);
    expect(proxy.queries[0]).toContain(`service=~"${Array.from({ length: SERVICES }, (_, i) => `s${i}`).join('|')}"`);
    expect(proxy.queries.filter((q) => q.startsWith('up{'))).toHaveLength(1);
  }, 60_000);
});
