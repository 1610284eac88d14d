// A `watch: always` signal in the live service: judged every tick against its history, a collapse after
// another service's change is paged within a tick or two, blaming that change.
import { afterEach, describe, expect, it } from 'vitest';
import { testNavigator, type TestNavigator } from './support/navigator.js';
import { Receiver } from './support/receiver.js';

let t: TestNavigator | null = null;
const rx = new Receiver();
afterEach(async () => {
  await t?.nav.close();
  await rx.stop();
});

describe('always-watched signals, live', () => {
  it('pages a collapse and blames the recent change of another service', async () => {
    await rx.start();
    t = await testNavigator({
      config: `evaluation: { interval: 60s }
server: { listen: "127.0.0.1:0" }
paging: { routes: { oncall: { webhook: { url: "${rx.url}/pages" } } } }
services:
  checkout:
    page: [ oncall ]
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout }, watch: always }
  payments:
    signals:
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: payments, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: payments } }
`,
    });
    const now = t.clock.now;
    const onset = now + 120;
    let total = 0;
    for (let s = now - 3 * 86400; s <= now + 600; s += 60) {
      const rate = 20 * (1 + 0.5 * Math.sin((2 * Math.PI * (s % 86400)) / 86400));
      total += Math.round(rate * 60 * (s >= onset ? 0.01 : 1));
      t.metrics.append('orders_total', { service: 'checkout', version: 'v1' }, s, total);
    }
    const register = (id: string, startedAt: number) =>
      t!.nav.http.inject({
        method: 'POST',
        url: '/v1/deploys',
        payload: {
          id,
          service: 'payments',
          version: id,
          strategy: 'all-at-once',
          startedAt: new Date(startedAt * 1000).toISOString(),
        },
      });
    await register('payments-old', now - 4 * 3600);
    await register('payments-new', onset - 60);
    for (let s = now + 60; s <= onset + 120; s += 60) {
      t.clock.now = s;
      await t.nav.loop.runTick(s);
    }
    await t.nav.effects.drain();
    const pages = rx
      .at('/pages')
      .map((r) => r.json as { summary: string; deploy: { id: string } | null; signal: string });
    expect(pages.length).toBe(1);
    expect(pages[0]!.signal).toBe('orders');
    expect(pages[0]!.deploy?.id).toBe('payments-new');
    expect(pages[0]!.summary).toMatch(/checkout\/orders regressed/);
    const audit = (await t.nav.store.audit()).filter((a) => a.action === 'incident');
    expect(audit).toHaveLength(1);
    expect(Date.parse(new Date(audit[0]!.at * 1000).toISOString()) / 1000 - onset).toBeLessThanOrEqual(120);
    // Three days of history: the watch says it is warming up (only a collapse can page), in the API and /metrics.
    const res = await t.nav.http.inject({ method: 'GET', url: '/v1/watches/always' });
    expect(res.statusCode).toBe(200);
    const watches = (res.json() as { watches: Record<string, unknown>[] }).watches;
    const orders = watches.find((w) => w.signal === 'orders')!;
    expect(orders.state).toBe('warming-up');
    expect(orders.reason).toMatch(/only a collapse/);
    expect(orders.episode).toBe('collapse');
    const cal = orders.calibration as { replayedSeconds: number; pages: number };
    expect(cal.replayedSeconds).toBeGreaterThan(2.9 * 86400);
    expect(cal.pages).toBe(0);
    const metrics = await t.nav.http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/navigator_always_warming_up\{service="checkout",signal="orders"\} 1/);
    expect(metrics.body).toMatch(/navigator_always_history_seconds\{service="checkout",signal="orders"\} 2[5-9]\d{4}/);
  });
});
