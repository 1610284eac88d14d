// A tick's observations batched across services (src/sources/prometheus-batch.ts), on a real Prometheus
// scraping one real HTTP target per service: every selector gets exactly what its own queries give (the
// grids, blindness and health of the unbatched source), in far fewer queries; a selector Prometheus refuses
// fails alone, its neighbours in the batch still answered.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusSource } from '../src/sources/prometheus.js';
import { SourceError, type Observed, type SeriesSelector } from '../src/sources/types.js';
import { Processes, freePort, waitUntil } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';

const procs = new Processes();
const servers: Server[] = [];
const SERVICES = ['svc0', 'svc1', 'svc2', 'svc3'];
const started = Date.now() / 1000;
/** svc2's target fails its scrapes from then on (up == 0: blind); svc3's canary series vanishes then */
let faultAt = Infinity;

/** One service's target: its orders and requests counters, by version (and code). */
function target(service: string, port = 0): Promise<string> {
  const server = createServer((_req, res) => {
    const now = Date.now() / 1000;
    if (service === 'svc2' && now >= faultAt) {
      res.writeHead(500);
      res.end('down');
      return;
    }
    const e = Math.floor((now - started) * 10);
    const lines = [
      `orders_total{service="${service}",version="v1"} ${e * 9}`,
      `http_requests_total{service="${service}",version="v1",code="200"} ${e * 20}`,
      `http_requests_total{service="${service}",version="v1",code="500"} ${Math.floor(e / 7)}`,
    ];
    if (!(service === 'svc3' && now >= faultAt))
      lines.push(
        `orders_total{service="${service}",version="v2"} ${e}`,
        `http_requests_total{service="${service}",version="v2",code="200"} ${e * 2}`,
        `http_requests_total{service="${service}",version="v2",code="503"} ${Math.floor(e / 3)}`,
      );
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${lines.join('\n')}\n`);
  });
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      resolve(`127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`);
    }),
  );
}

let url = '';
/** a second pod of svc0, scraped from the start but down (nothing listens) until a test starts it */
let pod = 0;
beforeAll(async () => {
  const targets = await Promise.all(SERVICES.map((s) => target(s)));
  pod = await freePort();
  url = (await startPrometheus(procs, { targets: [...targets, `127.0.0.1:${pod}`], scrapeInterval: '1s' })).url;
  // Every target scraped a few times, then svc2's fails and svc3's canary vanishes: the grids below hold both.
  await waitUntil('six scrapes', async () => Date.now() / 1000 - started > 7, 30_000);
  faultAt = Date.now() / 1000;
  await new Promise((r) => setTimeout(r, 4000));
}, 90_000);
afterAll(async () => {
  await procs.stopAll();
  for (const s of servers) s.close();
});

const by = ['version'];
/** A tick's selectors: per service its three (a count, a ratio's numerator and denominator). */
function tickSelectors(services: string[]): SeriesSelector[] {
  return services.flatMap((service): SeriesSelector[] => [
    { metric: 'orders_total', matchers: { service }, by },
    { metric: 'http_requests_total', matchers: { service, code: '5..' }, by },
    { metric: 'http_requests_total', matchers: { service }, by },
  ]);
}

/** An observation as plain data, its series in label order (the order of a sum's series is Prometheus'). */
function plain(o: Observed) {
  const arr = (v: Float64Array | undefined) => (v ? [...v].map((x) => (Number.isNaN(x) ? null : x)) : undefined);
  return {
    health: o.health,
    blind: o.blind,
    series: o.series
      .map((s) => ({ labels: s.labels, values: arr(s.values), up: arr(s.up) }))
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
  };
}

async function observeAll(source: PrometheusSource, sels: SeriesSelector[], from: number, to: number) {
  const before = source.requests;
  const answers = await Promise.allSettled(sels.map((s) => source.observe(s, from, to, 1)));
  return {
    queries: source.requests - before,
    answers: answers.map((a) => (a.status === 'fulfilled' ? { ok: plain(a.value) } : { error: a.reason as Error })),
  };
}

describe('batched observations on a real Prometheus', () => {
  it('give every selector what it gets alone, in one query per metric shape instead of one per service', async () => {
    const to = Math.floor(Date.now() / 1000) - 1;
    const from = to - 8;
    const sels = [
      ...tickSelectors([...SERVICES, 'svc9']), // svc9: no such service, no series, no target
      { metric: 'orders_total', matchers: { service: 'svc0|svc1' }, by }, // a regex value: asked alone
    ];
    const batched = await observeAll(new PrometheusSource({ url, timeout: 5, retries: 0 }), sels, from, to);
    const alone = await observeAll(new PrometheusSource({ url, timeout: 5, retries: 0, batch: false }), sels, from, to);
    expect(batched.answers).toEqual(alone.answers);
    // What the grids hold: svc2 blind after its fault, svc3's canary gone while its target lives.
    const obs = (i: number) => batched.answers[i]?.ok;
    expect(obs(0)?.health).toBe(true);
    expect(obs(0)?.series.length).toBe(2);
    expect(obs(0)?.blind.every((b) => b === null)).toBe(true);
    expect(obs(6)?.blind.some((b) => b !== null && /up == 0/.test(b))).toBe(true);
    expect(
      obs(9)
        ?.series.find((s) => s.labels.version === 'v2')
        ?.values?.at(-1),
    ).toBeNull();
    expect(obs(12)).toEqual({ health: false, blind: Array(9).fill(null), series: [] });
    expect(obs(15)?.series.length).toBe(4);
    // Alone: per selector an observation and a targets query, and one `up` query per set of targets (the
    // memo shares a service's): 16 x 2 + 5. Batched: one observation and one targets query per metric and
    // matcher labels (3), the regex alone (2), and one `up` query for all the targets of the tick.
    expect(alone.queries).toBe(37);
    expect(batched.queries).toBe(3 + 3 + 2 + 1);
  });

  it('a selector Prometheus refuses fails alone; the rest of its batch is answered as before', async () => {
    const to = Math.floor(Date.now() / 1000) - 1;
    const from = to - 8;
    // A lone surrogate is a literal to the batching (no regex metacharacter) but not valid PromQL text: it
    // stands for any selector Prometheus refuses (HTTP 400) that cannot be told from a good one beforehand.
    // And a bad regex, asked alone as every regex value is.
    const bad = [
      { metric: 'orders_total', matchers: { service: '\ud800' }, by },
      { metric: 'orders_total', matchers: { service: 'svc(' }, by },
    ];
    const sels = [...tickSelectors(SERVICES), ...bad];
    const source = new PrometheusSource({ url, timeout: 5, retries: 2, backoff: { base: 1, cap: 5 } });
    const batched = await observeAll(source, sels, from, to);
    const alone = await observeAll(
      new PrometheusSource({ url, timeout: 5, retries: 0, batch: false }),
      tickSelectors(SERVICES),
      from,
      to,
    );
    expect(batched.answers.slice(0, 12)).toEqual(alone.answers);
    for (const a of batched.answers.slice(12)) {
      expect(a.error).toBeInstanceOf(SourceError);
      expect(a.error?.message).toMatch(/HTTP 400/);
    }
    // The orders batch refused (observation and targets), then its 5 members asked alone (2 each, the bad
    // one's targets query refused too); the regex alone (2, refused); the other metrics batched (2 x 2);
    // one `up` for the tick. A refusal is not retried.
    expect(batched.queries).toBe(2 + 5 * 2 + 2 + 4 + 1);
  });

  it('remembers the targets serving each selector between ticks, and asks again when a new one serves it', async () => {
    const source = new PrometheusSource({ url, timeout: 5, retries: 0 });
    const alone = new PrometheusSource({ url, timeout: 5, retries: 0, batch: false });
    const sels = tickSelectors(SERVICES);
    const to = Math.floor(Date.now() / 1000) - 2;
    const first = await observeAll(source, sels, to - 8, to);
    expect(first.queries).toBe(3 + 3 + 1); // observations and targets per metric shape, one `up`
    // The next tick: the targets are remembered, only the observations and `up` are asked.
    const next = await observeAll(source, sels, to - 7, to + 1);
    expect(next.queries).toBe(3 + 1);
    expect(next.answers).toEqual((await observeAll(alone, sels, to - 7, to + 1)).answers);
    // svc0's second pod starts: its series show a target the remembered set lacks, so svc0's selectors
    // ask their targets again (each alone), and see both pods as the unbatched source does.
    await target('svc0', pod);
    await waitUntil('the new pod scraped', async () => {
      const r = (await (
        await fetch(`${url}/api/v1/query?query=${encodeURIComponent(`orders_total{instance="127.0.0.1:${pod}"}`)}`)
      ).json()) as { data: { result: unknown[] } };
      return r.data.result.length > 0;
    });
    await new Promise((r) => setTimeout(r, 3000)); // its samples well inside the tick grid below
    const later = Math.floor(Date.now() / 1000) - 1;
    const after = await observeAll(source, sels, later - 8, later);
    expect(after.queries).toBe(3 + 3 + 1);
    expect(after.answers).toEqual((await observeAll(alone, sels, later - 8, later)).answers);
    expect(after.answers[0]?.ok?.series.length).toBe(4); // two pods, two versions
  });
});
