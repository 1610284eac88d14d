// A tick read in the worker thread (src/watch/worker-observer.ts) asks Prometheus one query per metric
// across services, however many request batches the tick has: the worker gets a few batches at a time,
// after one warm-up message that reads every service's selectors together (prometheus-batch.ts batches what
// arrives together). Against a local HTTP server standing in for Prometheus that counts the queries.
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { TickRequest } from '../src/watch/observer.js';
import { WorkerObserver } from '../src/watch/worker-observer.js';

const servers: Server[] = [];
const observers: WorkerObserver[] = [];
afterAll(async () => {
  for (const o of observers) await o.close();
  for (const s of servers) s.close();
});

/** Answers every query with an empty result of the right type; records the query texts. */
async function emptyPrometheus() {
  const queries: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const q = new URLSearchParams(body).get('query') ?? '';
      queries.push(q);
      const resultType = q.startsWith('count by') ? 'vector' : 'matrix';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType, result: [] } }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, queries };
}

const SERVICES = 20;

describe('a tick read in the worker', () => {
  it('asks one query per metric for all services, though only 8 request batches are in the worker at once', async () => {
    const prom = await emptyPrometheus();
    const dir = mkdtempSync(join(tmpdir(), 'navigator-worker-batch-'));
    const config = parseConfig(
      `metrics: { source: prometheus, prometheus: { url: "${prom.url}", timeout: 5s } }
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
    const t = 1_800_000_000;
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
    // One observation query and one targets query for the 20 services (no target: no `up`).
    expect(prom.queries).toHaveLength(2);
    expect(prom.queries[0]).toContain(`service=~"${Array.from({ length: SERVICES }, (_, i) => `s${i}`).join('|')}"`);
  });
});
