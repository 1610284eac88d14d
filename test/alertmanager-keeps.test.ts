// Against a real Alertmanager with a short resolve_timeout (2 s): Navigator's alert for a halted deploy
// stays active for five resolve_timeouts (re-posted with endsAt ahead of now) and is resolved when a human
// acknowledges the page. Alertmanager's webhook comes back to Navigator: its own alert is never paged
// again, and a user's alert that Navigator paged for is resolved when Alertmanager says it is.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';
import { startAlertmanager } from './support/prometheus.js';
import { Receiver } from './support/receiver.js';

const procs = new Processes();
const rx = new Receiver();
afterAll(async () => {
  await procs.stopAll();
  await rx.stop();
});

interface AmAlert {
  labels: Record<string, string>;
  status: { state: string };
  endsAt: string;
  fingerprint: string;
}

describe('Alertmanager keeps Navigator alert while the deploy is halted', () => {
  it('stays active past five resolve_timeouts, resolves on acknowledgement; resolved alerts resolve their pages; no self-paging', async () => {
    await rx.start();
    const dir = mkdtempSync(join(tmpdir(), 'navigator-am-keeps-'));
    const [shop, port] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    const am = await startAlertmanager(procs, `${base}/v1/integrations/alertmanager`, { resolveTimeout: '2s' });
    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    const control = (body: unknown) =>
      fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });
    await control({ weights: { v1: 0.9, v2: 0.1 } });
    const config = join(dir, 'navigator.yaml');
    writeFileSync(
      config,
      `server: { listen: "127.0.0.1:${port}" }
metrics: { source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ] } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: 1s }
paging:
  routes:
    am: { alertmanager: { url: "${am}", refresh: 1s } }
    oncall: { webhook: { url: "${rx.url}/pages" } }
services:
  checkout:
    page: [ am, oncall ]
    watchFor: 120s
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
    );
    procs.navigator(['serve', '--config', config]);
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 2500));
    await control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });
    const reg = await fetch(`${base}/v1/deploys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'a-1', service: 'checkout', version: 'v2', baselineVersion: 'v1' }),
    });
    expect(reg.status).toBe(201);
    await waitUntil('a-1 halted', async () => (await getJson(`${base}/v1/deploys/a-1`)).status === 'halted', 40_000);

    const active = async () =>
      ((await (await fetch(`${am}/api/v2/alerts?active=true`)).json()) as AmAlert[]).filter(
        (a) => a.labels.alertname === 'NavigatorRegression' && a.labels.deploy === 'a-1',
      );
    await waitUntil('the alert in Alertmanager', async () => (await active()).length === 1);
    // Five resolve_timeouts while halted: active at every look.
    const until = Date.now() + 10_000;
    let looks = 0;
    while (Date.now() < until) {
      const a = await active();
      expect(a, `look ${looks}`).toHaveLength(1);
      expect(a[0]!.status.state).toBe('active');
      expect(Date.parse(a[0]!.endsAt)).toBeGreaterThan(Date.now());
      looks++;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(looks).toBeGreaterThanOrEqual(15);

    // A user's alert, routed by Alertmanager to Navigator: attributed to a-1 and paged; then resolved.
    const userAlert = (endsAt: number) => [
      {
        labels: { alertname: 'OrdersLow', service: 'checkout' },
        annotations: { summary: 'orders fell' },
        startsAt: new Date(Date.now() - 10_000).toISOString(),
        endsAt: new Date(endsAt).toISOString(),
      },
    ];
    const post = async (body: unknown) =>
      expect(
        (
          await fetch(`${am}/api/v2/alerts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        ).status,
      ).toBe(200);
    await post(userAlert(Date.now() + 3_600_000));
    const pages = () => rx.at('/pages').map((r) => r.json as { key: string; action: string });
    const alertPage = await waitUntil('the user alert paged', async () =>
      pages().find((p) => p.key.startsWith('navigator/checkout/a-1/alert:')),
    );
    expect(alertPage.action).toBe('trigger');
    await post(userAlert(Date.now() - 1000));
    await waitUntil('the user alert page resolved', async () =>
      pages().some((p) => p.key === alertPage.key && p.action === 'resolve'),
    );

    // Acknowledged: Navigator resolves its alert explicitly, and Alertmanager shows it no more.
    const ack = await fetch(`${base}/v1/deploys/a-1/acknowledge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'looking' }),
    });
    expect(ack.status).toBe(200);
    await waitUntil('the alert resolved in Alertmanager', async () => (await active()).length === 0, 15_000);

    // Alertmanager sent Navigator's own alerts to its webhook, and Navigator paged none of them.
    const amMetrics = await (await fetch(`${am}/metrics`)).text();
    const sent = amMetrics.match(/alertmanager_notifications_total\{integration="webhook"[^}]*\} (\d+)/);
    expect(Number(sent?.[1] ?? 0)).toBeGreaterThanOrEqual(2);
    const keys = pages().map((p) => p.key);
    expect(keys.filter((k) => k.includes('/alert:')).every((k) => k === alertPage.key)).toBe(true);
    expect(new Set(keys)).toEqual(new Set(['navigator/checkout/a-1/regression', alertPage.key]));
  }, 150_000);
});
