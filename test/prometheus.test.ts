// Next to the real parts users run: Prometheus (scraping a real storefront over HTTP, and replaying a
// recording loaded with promtool) and Alertmanager (receiving Navigator's page, sending its webhook).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';
import { binary, startAlertmanager, startPrometheus } from './support/prometheus.js';
import { Receiver } from './support/receiver.js';
import { diurnal, generateOpenMetrics, iso } from './support/recording.js';

const procs = new Processes();
const rx = new Receiver();
afterAll(async () => {
  await procs.stopAll();
  await rx.stop();
});

const SIGNALS = `
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: checkout, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: checkout } }`;

describe('backtest from Prometheus', () => {
  it('gives the same verdicts and decision ticks as --data on the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-promtool-'));
    const start = Date.parse('2025-11-27T08:00:00Z') / 1000;
    const bad = start + 3600;
    const good = start + 2 * 3600;
    const orders = diurnal(20);
    const data = generateOpenMetrics({
      from: start,
      to: start + 3 * 3600,
      step: 15,
      seed: 5,
      burstShape: 20,
      series: [
        { metric: 'orders_total', labels: { service: 'checkout', version: 'v1' }, rate: (t) => orders(t) * 0.9 },
        {
          metric: 'orders_total',
          labels: { service: 'checkout', version: 'v2' },
          rate: (t) => orders(t) * 0.001,
          startsAt: bad,
          stopsAt: bad + 1800,
        },
        {
          metric: 'orders_total',
          labels: { service: 'checkout', version: 'v3' },
          rate: (t) => orders(t) * 0.1,
          startsAt: good,
        },
        { metric: 'http_requests_total', labels: { service: 'checkout', version: 'v1', code: '200' }, rate: () => 90 },
        { metric: 'http_requests_total', labels: { service: 'checkout', version: 'v1', code: '500' }, rate: () => 0.5 },
        {
          metric: 'http_requests_total',
          labels: { service: 'checkout', version: 'v2', code: '200' },
          rate: () => 10,
          startsAt: bad,
          stopsAt: bad + 1800,
        },
        {
          metric: 'http_requests_total',
          labels: { service: 'checkout', version: 'v3', code: '200' },
          rate: () => 10,
          startsAt: good,
        },
      ],
    });
    writeFileSync(join(dir, 'data.om'), data);
    writeFileSync(
      join(dir, 'navigator.yaml'),
      `evaluation: { interval: 15s }\nservices:\n  checkout:\n    watchFor: 30m\n${SIGNALS}\n`,
    );
    writeFileSync(
      join(dir, 'deploys.json'),
      JSON.stringify([
        {
          id: 'bad',
          service: 'checkout',
          version: 'v2',
          baselineVersion: 'v1',
          strategy: 'canary',
          startedAt: iso(bad),
          stages: [{ at: iso(bad), weight: 0.1 }],
        },
        {
          id: 'good',
          service: 'checkout',
          version: 'v3',
          baselineVersion: 'v1',
          strategy: 'canary',
          startedAt: iso(good),
          stages: [{ at: iso(good), weight: 0.1 }],
        },
      ]),
    );
    execFileSync(
      binary(['promtool'], 'prometheus'),
      ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'tsdb')],
      { stdio: 'pipe' },
    );
    const prom = await startPrometheus(procs, { tsdb: join(dir, 'tsdb') });
    const args = [
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--deploys',
      join(dir, 'deploys.json'),
      '--json',
    ];
    const fromFile = navigator([...args, '--data', join(dir, 'data.om')]);
    const fromProm = navigator([...args, '--prometheus', prom.url]);
    expect(fromFile.status, fromFile.stderr).toBe(0);
    expect(fromProm.status, fromProm.stderr).toBe(0);
    const pick = (out: string) =>
      (
        JSON.parse(out) as {
          deploys: { id: string; verdict: string; decidedAt: string | null; signal: string | null }[];
        }
      ).deploys.map((d) => ({
        id: d.id,
        verdict: d.verdict,
        decidedAt: d.decidedAt,
        signal: d.signal,
      }));
    expect(pick(fromFile.stdout).map((d) => d.verdict)).toEqual(['fail', 'pass']);
    expect(pick(fromProm.stdout)).toEqual(pick(fromFile.stdout));
  }, 180_000);
});

describe('live, on a real Prometheus and Alertmanager', () => {
  it('halts a bad canary, pages Alertmanager, and resolves after the rollback', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-live-prom-'));
    await rx.start();
    const [shop, port] = [await freePort(), await freePort()];
    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    const control = (body: unknown) =>
      fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });
    await control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });
    const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] });
    const am = await startAlertmanager(procs, `${rx.url}/am-webhook`);
    writeFileSync(
      join(dir, 'navigator.yaml'),
      `server: { listen: "127.0.0.1:${port}" }
metrics: { source: prometheus, prometheus: { url: "${prom.url}", timeout: 5s } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: 1s }
paging: { resolveAfter: 5s, routes: { am: { alertmanager: { url: "${am}" } } } }
services:
  checkout:
    page: [ am ]
    watchFor: 90s
    rollback: automatic
    hooks: { rollback: { url: "${rx.url}/rollback" } }
${SIGNALS}
`,
    );
    procs.navigator(['serve', '--config', join(dir, 'navigator.yaml')]);
    const base = `http://127.0.0.1:${port}`;
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 4000)); // a few scrapes in Prometheus
    const reg = navigator([
      'deploy',
      'start',
      '--server',
      base,
      '--id',
      'p-1',
      '--service',
      'checkout',
      '--version',
      'v2',
      '--baseline',
      'v1',
      '--weight',
      '0.1',
      '--change-id',
      'PR-7',
      '--author',
      'dev-c',
    ]);
    expect(reg.status, reg.stderr).toBe(0);
    const gate = navigator(['gate', '--server', base, '--deploy', 'p-1', '--wait', '--timeout', '60s']);
    expect(gate.status, gate.stdout + gate.stderr).toBe(1);
    expect(gate.stdout).toMatch(/halt: orders/);

    // The page reached the real Alertmanager (its API) and its webhook (the receiver), then resolved.
    await waitUntil('the page effect', async () => {
      const effects = (await getJson(`${base}/v1/deploys/p-1`)).effects as {
        kind: string;
        status: string;
        lastError: string | null;
      }[];
      const page = effects.find((e) => e.kind === 'page:alertmanager:trigger');
      if (page?.status === 'failed') throw new Error(`the page failed: ${page.lastError}`);
      return page?.status === 'done';
    });
    await waitUntil('the alert in Alertmanager', async () => {
      const alerts = (await (await fetch(`${am}/api/v2/alerts?active=true&silenced=false&inhibited=false`)).json()) as {
        labels: Record<string, string>;
      }[];
      return (
        alerts.some((a) => a.labels.deploy === 'p-1' && a.labels.alertname === 'NavigatorRegression') ||
        rx.at('/am-webhook').length > 0
      );
    });
    const firing = await waitUntil('the firing webhook', async () =>
      rx.at('/am-webhook').find((r) => (r.json as { status: string }).status === 'firing'),
    );
    const body = firing.json as {
      version: string;
      alerts: { labels: Record<string, string>; annotations: Record<string, string> }[];
    };
    expect(body.version).toBe('4');
    expect(body.alerts[0]?.labels.deploy).toBe('p-1');
    expect(body.alerts[0]?.annotations.change).toMatch(/PR-7/);
    expect(rx.at('/rollback')).toHaveLength(1);
    await waitUntil('rolled back', async () => (await getJson(`${base}/v1/deploys/p-1`)).status === 'rolled_back');
    await waitUntil(
      'the resolved webhook',
      async () => rx.at('/am-webhook').some((r) => (r.json as { status: string }).status === 'resolved'),
      60_000,
    );
  }, 180_000);
});
