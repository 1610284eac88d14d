// The Prometheus source on real setups (issue 11 item 1): a real Prometheus scraping a real storefront
// every 5 s while Navigator ticks every 2 s, behind a proxy that checks the configured credentials and
// tenant header; VictoriaMetrics as a second Prometheus-compatible backend; and a 60 s scrape judged at
// 15 s ticks, compressed through promtool backfill (samples and `up` every 60 s) and a backtest.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';
import { binary, startPrometheus } from './support/prometheus.js';
import { generateOpenMetrics, iso, type SeriesSpec } from './support/recording.js';

const procs = new Processes();
const servers: Server[] = [];
afterAll(async () => {
  await procs.stopAll();
  for (const s of servers) await s.close();
});

const SIGNALS = `
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: checkout, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: checkout } }`;

/** A reverse proxy that forwards only requests carrying exactly `want` headers; counts both kinds. */
async function authProxy(target: string, want: Record<string, string>) {
  const counts = { ok: 0, refused: 0 };
  const server = createServer((req, res) => {
    const good = Object.entries(want).every(([k, v]) => req.headers[k.toLowerCase()] === v);
    if (!good) {
      counts.refused++;
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end('{"status":"error","error":"unauthorized"}');
      return;
    }
    counts.ok++;
    const u = new URL(target);
    const up = request(
      { host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, counts };
}

async function startVictoriaMetrics(target: string, scrapeInterval: string): Promise<string> {
  const bin = binary(['victoria-metrics', 'victoriametrics'], 'victoria-metrics');
  const dir = mkdtempSync(join(tmpdir(), 'navigator-vm-'));
  const port = await freePort();
  const config = join(dir, 'scrape.yml');
  writeFileSync(
    config,
    `global: { scrape_interval: ${scrapeInterval} }
scrape_configs:
  - job_name: storefront
    static_configs: [ { targets: [ ${JSON.stringify(target)} ] } ]
`,
  );
  const p = procs.startBinary(bin, [
    `-promscrape.config=${config}`,
    `-storageDataPath=${join(dir, 'data')}`,
    `-httpListenAddr=127.0.0.1:${port}`,
    '-search.latencyOffset=0s',
    '-search.disableCache',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    `VictoriaMetrics on ${url}`,
    async () => p.exitCode === null && (await fetch(`${url}/health`)).ok,
    60_000,
  );
  return url;
}

/** A storefront with a good canary (v2) and a collapsed one (v3, orders down 99%) beside the baseline v1. */
async function storefront(): Promise<number> {
  const shop = await freePort();
  procs.storefront(shop);
  await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok, 90_000);
  await fetch(`http://127.0.0.1:${shop}/control`, {
    method: 'POST',
    body: JSON.stringify({ weights: { v1: 0.8, v2: 0.1, v3: 0.1 }, behaviour: { v3: { orders: 0.01 } } }),
  });
  return shop;
}

/** Navigator on `prometheus` at `tick` (2 s) ticks; registers a good and a bad canary; returns both outcomes. */
async function judgeLive(name: string, prometheus: string, auth: string, scrape: number, tick = '2s') {
  const dir = mkdtempSync(join(tmpdir(), `navigator-${name}-`));
  const port = await freePort();
  writeFileSync(
    join(dir, 'navigator.yaml'),
    `server: { listen: "127.0.0.1:${port}" }
metrics: { source: prometheus, prometheus: { url: "${prometheus}", timeout: 5s, ${auth} } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: ${tick} }
services:
  checkout:
    watchFor: 40s
${SIGNALS}
`,
  );
  procs.navigator(['serve', '--config', join(dir, 'navigator.yaml')]);
  const base = `http://127.0.0.1:${port}`;
  await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
  await new Promise((r) => setTimeout(r, 3 * scrape * 1000)); // a few scrapes in the backend
  const startedAt = Date.now() / 1000;
  for (const [id, version] of [
    ['good', 'v2'],
    ['bad', 'v3'],
  ]) {
    const r = await fetch(`${base}/v1/deploys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id,
        service: 'checkout',
        version,
        baselineVersion: 'v1',
        strategy: 'canary',
        stages: [{ at: new Date(startedAt * 1000).toISOString(), weight: 0.1 }],
        startedAt: new Date(startedAt * 1000).toISOString(),
      }),
    });
    expect(r.status).toBe(201);
  }
  // Polled (not `navigator gate`, which would block this process, and the auth proxy in it).
  const decided = (id: string, ms: number) =>
    waitUntil(
      `a verdict on ${id}`,
      async () => {
        const d = await getJson(`${base}/v1/deploys/${id}`);
        return d.status !== 'watching' ? d : undefined;
      },
      ms,
    );
  const badView = await decided('bad', 60_000);
  const goodView = await decided('good', 120_000);
  const gate = async (id: string) => {
    const r = await fetch(`${base}/v1/deploys/${id}/gate`);
    const body = (await r.json()) as { decision: string; reason: string };
    return { code: r.status, decision: body.decision, reason: body.reason };
  };
  return { bad: await gate('bad'), good: await gate('good'), badView, goodView, startedAt };
}

describe.concurrent('the Prometheus source at scrape intervals other than the tick', () => {
  it('Prometheus at a 5 s scrape, 2 s ticks, behind auth: passes a good canary, halts a 99% collapse within 3 scrapes', async () => {
    const shop = await storefront();
    const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`], scrapeInterval: '5s' });
    const proxy = await authProxy(prom.url, { authorization: 'Bearer sekret', 'x-scope-orgid': 'tenant-7' });
    const r = await judgeLive('prom5s', proxy.url, `bearerToken: sekret, headers: { X-Scope-OrgID: tenant-7 }`, 5);
    expect(r.bad).toMatchObject({ code: 409, decision: 'halt' });
    expect(r.badView.failedSignal).toBe('orders');
    // Four scrapes (and a tick): no traffic counter and no history here, so drops run on the assumed 3x
    // binomial dispersion (issue 9), which can cost the collapse one more scrape (18.0 s seen in CI).
    expect(Date.parse(r.badView.decidedAt as string) / 1000 - r.startedAt).toBeLessThanOrEqual(4 * 5 + 2);
    expect(r.good).toMatchObject({ code: 200, decision: 'proceed' });
    expect(r.goodView.status).toBe('passed');
    // Ticks without a sample were gaps, counted once with the next sample, never zero events.
    const orders = (r.goodView.verdicts as { signal: string; seeing: { gapTicks: number; blindTicks: number } }[]).find(
      (v) => v.signal === 'orders',
    );
    expect(orders?.seeing.gapTicks).toBeGreaterThan(5);
    expect(orders?.seeing.blindTicks).toBe(0);
    expect(proxy.counts.ok).toBeGreaterThan(20);
    expect(proxy.counts.refused).toBe(0);
  }, 240_000);

  it('Prometheus at a 1 s scrape, 5 s ticks: passes a good canary, halts a 99% collapse at its first ticks', async () => {
    const shop = await storefront();
    const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`], scrapeInterval: '1s' });
    const r = await judgeLive('prom1s', prom.url, 'retries: 2', 1, '5s');
    expect(r.bad).toMatchObject({ code: 409, decision: 'halt' });
    expect(r.badView.failedSignal).toBe('orders');
    // Two whole ticks after the first tick boundary: the deploy starts anywhere inside a 5 s tick, so the
    // second full tick ends up to 3 ticks after it (seen once at 11.2 s on a loaded CI machine). Without a
    // `traffic` counter and without history (this Prometheus started seconds ago, one storefront instance
    // per version, so no placebo floor), drops are judged at the assumed 3x binomial dispersion (issue 9),
    // which can cost the collapse a third judged tick. What the judge promises is counted in ticks: at most
    // three seen ticks of the canary's orders. The wall clock adds where the deploy fell in its first tick
    // and how late a loaded machine reads and judges: 9.7 to 20.5 s seen here (before and after batching),
    // 21.2 and 25.2 s in CI with every suite running at once; bounded at six tick lengths.
    const orders = (r.badView.verdicts as { signal: string; seeing: { seenTicks: number } }[]).find(
      (v) => v.signal === 'orders',
    );
    expect(orders?.seeing.seenTicks).toBeLessThanOrEqual(3);
    expect(Date.parse(r.badView.decidedAt as string) / 1000 - r.startedAt).toBeLessThanOrEqual(6 * 5);
    expect(r.good).toMatchObject({ code: 200, decision: 'proceed' });
    expect(r.goodView.status).toBe('passed');
  }, 240_000);

  it('VictoriaMetrics at a 5 s scrape, 2 s ticks, with basic auth: passes a good canary, halts a 99% collapse', async () => {
    const shop = await storefront();
    const vm = await startVictoriaMetrics(`127.0.0.1:${shop}`, '5s');
    const proxy = await authProxy(vm, { authorization: `Basic ${Buffer.from('nav:pw').toString('base64')}` });
    const r = await judgeLive('vm5s', proxy.url, `basicAuth: { username: nav, password: pw }`, 5);
    expect(r.bad).toMatchObject({ code: 409, decision: 'halt' });
    expect(r.badView.failedSignal).toBe('orders');
    // Four scrapes (and a tick): no traffic counter and no history here, so drops run on the assumed 3x
    // binomial dispersion (issue 9), which can cost the collapse one more scrape (18.0 s seen in CI).
    expect(Date.parse(r.badView.decidedAt as string) / 1000 - r.startedAt).toBeLessThanOrEqual(4 * 5 + 2);
    expect(r.good).toMatchObject({ code: 200, decision: 'proceed' });
    expect(proxy.counts.refused).toBe(0);
  }, 240_000);

  it('a 60 s scrape judged at 15 s ticks (promtool backfill, with up): no false halts, the collapse halted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-prom60-'));
    const start = Date.parse('2025-11-27T08:00:00Z') / 1000;
    const end = start + 4 * 3600;
    const target = { job: 'storefront', instance: 'shop:9400' };
    const goods = [1, 1.5, 2, 2.5].map((h) => ({ id: `good-${h}`, at: start + h * 3600, version: `g${h * 10}` }));
    const bad = { id: 'bad', at: start + 3 * 3600, version: 'b1' };
    const series: SeriesSpec[] = [
      { metric: 'orders_total', labels: { ...target, service: 'checkout', version: 'v1' }, rate: () => 27 },
      {
        metric: 'http_requests_total',
        labels: { ...target, service: 'checkout', version: 'v1', code: '200' },
        rate: () => 90,
      },
      {
        metric: 'http_requests_total',
        labels: { ...target, service: 'checkout', version: 'v1', code: '500' },
        rate: () => 0.5,
      },
      ...[...goods, bad].flatMap((d): SeriesSpec[] => [
        {
          metric: 'orders_total',
          labels: { ...target, service: 'checkout', version: d.version },
          rate: () => (d.id === 'bad' ? 0.03 : 3),
          startsAt: d.at,
          stopsAt: d.at + 45 * 60,
        },
        {
          metric: 'http_requests_total',
          labels: { ...target, service: 'checkout', version: d.version, code: '200' },
          rate: () => 10,
          startsAt: d.at,
          stopsAt: d.at + 45 * 60,
        },
      ]),
    ];
    let data = generateOpenMetrics({ from: start, to: end, step: 60, seed: 11, series }).replace(/# EOF\n$/, '');
    data += '# TYPE up gauge\n';
    for (let t = start; t <= end; t += 60) data += `up{instance="${target.instance}",job="${target.job}"} 1 ${t}\n`;
    data += '# EOF\n';
    writeFileSync(join(dir, 'data.om'), data);
    writeFileSync(
      join(dir, 'navigator.yaml'),
      `evaluation: { interval: 15s }\nservices:\n  checkout:\n    watchFor: 30m\n${SIGNALS}\n`,
    );
    const deploys = [...goods, bad].map((d) => ({
      id: d.id,
      service: 'checkout',
      version: d.version,
      baselineVersion: 'v1',
      strategy: 'canary',
      startedAt: iso(d.at),
      stages: [{ at: iso(d.at), weight: 0.1 }],
    }));
    writeFileSync(join(dir, 'deploys.json'), JSON.stringify(deploys));
    execFileSync(
      binary(['promtool'], 'prometheus'),
      ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'tsdb')],
      { stdio: 'pipe' },
    );
    const prom = await startPrometheus(procs, { tsdb: join(dir, 'tsdb') });
    const out = navigator([
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--deploys',
      join(dir, 'deploys.json'),
      '--prometheus',
      prom.url,
      '--json',
    ]);
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as { deploys: { id: string; verdict: string; decidedAt: string | null }[] };
    const byId = new Map(report.deploys.map((d) => [d.id, d]));
    for (const g of goods) expect(byId.get(g.id)?.verdict, g.id).toBe('pass');
    const b = byId.get('bad');
    expect(b?.verdict).toBe('fail');
    expect(Date.parse(b?.decidedAt as string) / 1000 - bad.at).toBeLessThanOrEqual(3 * 60);
  }, 240_000);
});
