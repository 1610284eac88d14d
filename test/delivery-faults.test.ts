// Fault suite for delivery, across real processes: `navigator serve` as a child process judging the demo
// storefront's collapsing canary, receivers as real HTTP servers in a process of their own (they outlive
// Navigator and count what arrived). Long outages run in compressed time (paging.delivery.timeScale).
//  - a SIGKILL loop: every effect delivered, duplicates bounded by the effects in flight at each kill, and
//    every duplicate announced by the claim Navigator made before sending;
//  - a receiver answering 500 for "ten minutes" then back: no page lost, fallback and "cannot deliver";
//  - a hung receiver beside a healthy one: the halt hook and the healthy route within 1 s of the decision.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';
import { RemoteReceiver, type RemoteRequest } from './support/remote-receiver.js';
import { mulberry32 } from './support/random.js';

let procs = new Processes();
afterEach(async () => {
  await procs.stopAll();
  procs = new Processes();
});

interface Stack {
  rx: RemoteReceiver;
  base: string;
  start(): Promise<ChildProcess>;
  collapse(): Promise<void>;
  register(id: string): Promise<void>;
  log(): string;
}

/** Storefront with a collapsing v2, a receiver process, and `navigator serve` with `paging` as given. */
async function stack(paging: (rx: string) => string, page: string[]): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-faults-'));
  const [shop, port] = [await freePort(), await freePort()];
  const rx = await RemoteReceiver.start(procs);
  procs.storefront(shop);
  await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
  await fetch(`http://127.0.0.1:${shop}/control`, {
    method: 'POST',
    body: JSON.stringify({ weights: { v1: 0.9, v2: 0.1 } }),
  });
  const config = join(dir, 'navigator.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}" }
metrics: { source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ] } }
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: 1s }
paging:
${paging(rx.url)}
services:
  checkout:
    page: [ ${page.join(', ')} ]
    watchFor: 120s
    rollback: never
    hooks:
      halt: { url: "${rx.url}/halt", secret: "hook-key" }
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
  );
  const base = `http://127.0.0.1:${port}`;
  const navs: ChildProcess[] = [];
  return {
    rx,
    base,
    // v2 serves healthily first (its series exist, with history), then its orders fall 99%.
    async collapse() {
      await fetch(`http://127.0.0.1:${shop}/control`, {
        method: 'POST',
        body: JSON.stringify({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } }),
      });
    },
    async start() {
      const nav = procs.navigator(['serve', '--config', config]);
      navs.push(nav);
      await waitUntil('navigator', async () => nav.exitCode === null && (await fetch(`${base}/readyz`)).ok);
      return nav;
    },
    async register(id: string) {
      const r = await fetch(`${base}/v1/deploys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, service: 'checkout', version: 'v2', baselineVersion: 'v1', strategy: 'canary' }),
      });
      expect(r.status, await r.text()).toBe(201);
    },
    log: () => navs.map((n) => procs.logs.get(n) ?? '').join('\n'),
  };
}

const keyOf = (r: RemoteRequest) => String(r.headers['idempotency-key'] ?? '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const halted = (base: string, id: string) =>
  waitUntil(
    `${id} halted`,
    async () => {
      const d = await getJson(`${base}/v1/deploys/${id}`);
      if (d.status !== 'halted') throw new Error(JSON.stringify(d).slice(0, 1500));
      return true;
    },
    30_000,
  );
/** When Navigator logged the decision (pino `time`, ms), per deploy. */
function decisionTimes(log: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as { msg?: string; deploy?: string; time?: number };
    if (j.msg === 'deploy halted' && j.deploy && j.time) out.set(j.deploy, j.time);
  }
  return out;
}

describe('delivery faults across real processes', () => {
  it('SIGKILL loop: every effect is delivered, and each duplicate was announced and is bounded by what was in flight', async () => {
    const s = await stack(
      (rx) => `  routes:
    oncall:
      webhook: { url: "${rx}/pages", secret: "s3cret" }
      pagerduty: { routingKey: "0123456789abcdef0123456789abcdef", url: "${rx}/pd/v2/enqueue" }`,
      ['oncall'],
    );
    await s.rx.delay(150); // a slow receiver: kills land while requests are in flight
    let nav = await s.start();
    await sleep(2500); // a little scraped history before the first deploy
    await s.collapse();
    const rand = mulberry32(7);
    const ids: string[] = [];
    const kills = 6;
    for (let k = 0; k < kills; k++) {
      for (const i of [0, 1]) {
        const id = `k-${k}-${i}`;
        ids.push(id);
        await s.register(id);
      }
      await sleep(1500 + rand() * 2000);
      nav.kill('SIGKILL');
      await new Promise((r) => nav.once('exit', r));
      nav = await s.start();
    }
    const expected = ids.flatMap((id) => [
      `halt:${id}`,
      `page:oncall:webhook:navigator/checkout/${id}/regression:trigger`,
      `page:oncall:pagerduty:navigator/checkout/${id}/regression:trigger`,
      `change:oncall:${id}`,
    ]);
    await waitUntil(
      'every effect at the receiver',
      async () => {
        const got = new Set((await s.rx.requests()).filter((r) => r.answered === 202).map(keyOf));
        return expected.every((k) => got.has(k));
      },
      90_000,
    );
    await sleep(2000); // anything still to be re-sent
    const reqs = await s.rx.requests();
    const perKey = new Map<string, number>();
    for (const r of reqs) perKey.set(keyOf(r), (perKey.get(keyOf(r)) ?? 0) + 1);
    for (const k of expected) expect(perKey.get(k) ?? 0, k).toBeGreaterThanOrEqual(1);
    expect([...perKey.keys()].every((k) => k !== '')).toBe(true); // every delivery carried its key
    const duplicates = [...perKey.values()].reduce((a, n) => a + n - 1, 0);
    const announced = (s.log().match(/maybe sent before a crash/g) ?? []).length;
    // At-least-once: a kill can repeat only what was in flight, at most one effect per lane (the service's
    // hooks, the webhook, PagerDuty), and Navigator said so when it sent it again.
    expect(duplicates).toBeLessThanOrEqual(3 * kills);
    expect(announced).toBeGreaterThanOrEqual(duplicates);
    for (const id of ids) expect((await getJson(`${s.base}/v1/deploys/${id}`)).status).toBe('halted');
    console.log(JSON.stringify({ kills, effects: expected.length, deliveries: reqs.length, duplicates, announced }));
  }, 180_000);

  it('a receiver down for ten minutes (compressed 100x) gets the page when it is back; the fallback and undeliverable routes meanwhile', async () => {
    const s = await stack(
      (rx) => `  fallback: backup
  undeliverable: cant
  delivery: { timeScale: 0.01, escalateAfter: 4, maxBackoff: 5m, timeout: 2s }
  routes:
    oncall: { webhook: { url: "${rx}/pages" } }
    backup: { webhook: { url: "${rx}/backup" } }
    cant: { webhook: { url: "${rx}/cant" } }`,
      ['oncall'],
    );
    await s.start();
    await sleep(2500);
    await s.collapse();
    const outageMs = 6000; // ten minutes at timeScale 0.01
    await s.rx.outage('/pages', 500, outageMs); // from the page's first attempt
    await s.register('o-1');
    await halted(s.base, 'o-1');
    const key = 'page:oncall:webhook:navigator/checkout/o-1/regression:trigger';
    await waitUntil(
      'the page delivered after the outage',
      async () => (await s.rx.requests('/pages')).some((r) => keyOf(r) === key && r.answered === 202),
      40_000,
    );
    await sleep(1500);
    const attempts = (await s.rx.requests('/pages')).filter((r) => keyOf(r) === key);
    const failed = attempts.filter((r) => r.answered === 500);
    const outageEnds = attempts[0]!.arrival + outageMs;
    // Capped exponential backoff over ten (compressed) minutes: about ten attempts, then one success.
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(failed.length).toBeLessThanOrEqual(16);
    expect(attempts.filter((r) => r.answered === 202)).toHaveLength(1);
    expect(attempts.at(-1)!.arrival).toBeGreaterThanOrEqual(outageEnds);
    expect((await s.rx.requests('/backup')).map((r) => (r.json as { key: string }).key)).toEqual([
      'navigator/checkout/o-1/regression',
    ]);
    const cant = (await s.rx.requests('/cant')).map((r) => r.json as { action: string; summary: string });
    expect(cant.map((c) => c.action)).toEqual(['trigger', 'resolve']);
    expect(cant[0]!.summary).toMatch(/cannot deliver a page for deploy o-1 to route oncall/);
    const halt = (await s.rx.requests('/halt')).filter((r) => keyOf(r) === 'halt:o-1');
    expect(halt).toHaveLength(1);
    expect(halt[0]!.arrival).toBeLessThan(outageEnds); // the outage held nothing else up
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toMatch(/navigator_deliveries_total\{route="oncall",provider="webhook",outcome="fallback"\} 1/);
    expect(metrics).toMatch(
      /navigator_deliveries_total\{route="oncall",provider="webhook",outcome="undeliverable"\} 1/,
    );
    console.log(JSON.stringify({ outageMs, failedAttempts: failed.length, delivered: 1 }));
    const effects = (await getJson(`${s.base}/v1/deploys/o-1`)).effects as { status: string }[];
    expect(effects.filter((e) => e.status !== 'done')).toEqual([]);
  }, 120_000);

  it('a hung receiver beside a healthy one delays neither the halt hook nor the healthy route by 1 s', async () => {
    const s = await stack(
      (rx) => `  delivery: { timeout: 5s }
  routes:
    slow: { webhook: { url: "${rx}/hung" } }
    oncall: { webhook: { url: "${rx}/pages" } }`,
      ['slow', 'oncall'],
    );
    await s.rx.script('/hung', Array<'hang'>(500).fill('hang'));
    await s.start();
    await sleep(2500);
    await s.collapse();
    const ids = ['h-1', 'h-2', 'h-3'];
    for (const id of ids) {
      await s.register(id);
      await halted(s.base, id);
    }
    await waitUntil('halt hooks', async () => (await s.rx.requests('/halt')).length >= ids.length);
    await sleep(500);
    const decided = decisionTimes(s.log());
    const reqs = await s.rx.requests();
    const delays: Record<string, { halt: number; page: number }> = {};
    for (const id of ids) {
      const at = decided.get(id);
      expect(at, `decision of ${id} in the log`).toBeDefined();
      const halt = reqs.find((r) => keyOf(r) === `halt:${id}`)!;
      const page = reqs.find((r) => keyOf(r) === `page:oncall:webhook:navigator/checkout/${id}/regression:trigger`)!;
      delays[id] = { halt: halt.arrival - at!, page: page.arrival - at! };
      expect(delays[id]!.halt).toBeLessThan(1000);
      expect(delays[id]!.page).toBeLessThan(1000);
    }
    // The slow route really was hung while the others went out: its requests were never answered.
    const hung = reqs.filter((r) => r.path === '/hung');
    expect(hung.length).toBeGreaterThanOrEqual(1);
    expect(hung.every((r) => r.answered === null)).toBe(true);
    console.log(JSON.stringify({ delaysMs: delays }));
  }, 120_000);
});
