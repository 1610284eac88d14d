// The fault suite for "seeing is part of every verdict" (issue 10 item 7), across real processes: the
// embedded scraper's target answers 503 or dies mid-watch, a real Prometheus whose target died, Prometheus
// itself down, and a canary that collapses while Navigator is down (embedded: the missed ticks are blind;
// Prometheus: they are recovered from its history). Every blind case must never pass and must page "blind".
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';
import { Receiver } from './support/receiver.js';

const procs = new Processes();
const rx = new Receiver();
beforeAll(() => rx.start());
afterAll(async () => {
  await procs.stopAll();
  await rx.stop();
});

const WATCH_FOR = 20;
const SIGNALS = `
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: checkout, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: checkout } }`;

interface Setup {
  shop: number;
  shopProc: ChildProcess;
  base: string;
  config: string;
  nav: ChildProcess;
  control: (body: unknown) => Promise<Response>;
  startNav: () => Promise<ChildProcess>;
}

async function storefront(): Promise<{ shop: number; shopProc: ChildProcess; control: Setup['control'] }> {
  const shop = await freePort();
  const shopProc = procs.storefront(shop);
  await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok, 90_000);
  const control = (body: unknown) =>
    fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });
  await control({ weights: { v1: 0.9, v2: 0.1 } });
  return { shop, shopProc, control };
}

async function setup(name: string, metrics: (shop: number) => Promise<string>): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), `navigator-seeing-${name}-`));
  const { shop, shopProc, control } = await storefront();
  const port = await freePort();
  const config = join(dir, 'navigator.yaml');
  writeFileSync(
    config,
    `server: { listen: "127.0.0.1:${port}" }
metrics: ${await metrics(shop)}
store: { path: "${join(dir, 'navigator.db')}" }
evaluation: { interval: 1s }
paging: { blindAfter: 3s, routes: { oncall: { webhook: { url: "${rx.url}/pages/${name}" } } } }
services:
  checkout:
    page: [ oncall ]
    watchFor: ${WATCH_FOR}s
${SIGNALS}
`,
  );
  const base = `http://127.0.0.1:${port}`;
  const startNav = async () => {
    const nav = procs.navigator(['serve', '--config', config]);
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    return nav;
  };
  const nav = await startNav();
  return { shop, shopProc, base, config, nav, control, startNav };
}

async function register(base: string, id: string): Promise<number> {
  const startedAt = Date.now() / 1000;
  const r = await fetch(`${base}/v1/deploys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id,
      service: 'checkout',
      version: 'v2',
      baselineVersion: 'v1',
      strategy: 'canary',
      startedAt: new Date(startedAt * 1000).toISOString(),
      stages: [{ at: new Date(startedAt * 1000).toISOString(), weight: 0.1 }],
    }),
  });
  expect(r.status).toBe(201);
  return startedAt;
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
const ticks = async (base: string, id: string, n: number) =>
  waitUntil(`${n} judged ticks`, async () => ((await getJson(`${base}/v1/deploys/${id}`)).ticks as number) >= n);

/** Past watchFor, blind from the fault on: never passed, blind in the API, the gate, /metrics, and paged. */
async function expectBlind(s: Setup, id: string, startedAt: number, page: string, reason: RegExp): Promise<void> {
  const wait = startedAt + WATCH_FOR + 6 - Date.now() / 1000;
  if (wait > 0) await sleep(wait);
  const d = await getJson(`${s.base}/v1/deploys/${id}`);
  expect(d.status).toBe('watching');
  expect(d.blind).toBe(true);
  expect(typeof d.blindSince).toBe('string');
  const signals = d.blindSignals as { signal: string; since: string; reason: string }[];
  expect(signals.map((x) => x.signal).sort()).toEqual(['errors', 'orders']);
  for (const x of signals) expect(x.reason).toMatch(reason);
  const gate = await fetch(`${s.base}/v1/deploys/${id}/gate`);
  expect(gate.status).toBe(423);
  expect(((await gate.json()) as { reason: string }).reason).toMatch(/blind since .*cannot pass while blind/);
  const metrics = await (await fetch(`${s.base}/metrics`)).text();
  expect(metrics).toMatch(/navigator_signal_blind\{service="checkout",signal="orders"\} 1/);
  expect(metrics).toMatch(/navigator_blind_watches 1/);
  await waitUntil('the blind page', async () =>
    rx.at(`/pages/${page}`).some((r) => /cannot see/.test(r.body) && r.body.includes(id)),
  );
}

describe.concurrent('seeing: faults across real processes', () => {
  it('embedded scraper: a target answering 503 mid-watch never passes, pages blind, and passes once seen again', async () => {
    const s = await setup(
      's503',
      async (shop) => `{ source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ], timeout: 1s } }`,
    );
    await sleep(2);
    const startedAt = await register(s.base, 'd-503');
    await ticks(s.base, 'd-503', 5);
    await s.control({ metricsStatus: 503 });
    await expectBlind(s, 'd-503', startedAt, 's503', /HTTP 503/);
    await s.control({ metricsStatus: 200 });
    const done = await waitUntil(
      'a verdict once it sees again',
      async () => {
        const d = await getJson(`${s.base}/v1/deploys/d-503`);
        return d.status !== 'watching' ? d : undefined;
      },
      90_000,
    );
    expect(done.status).toBe('passed');
    const orders = (done.verdicts as { signal: string; seeing: { blindTicks: number; seenTicks: number } }[]).find(
      (v) => v.signal === 'orders',
    );
    expect(orders?.seeing.blindTicks).toBeGreaterThan(5);
    expect(orders?.seeing.seenTicks).toBeGreaterThanOrEqual(16);
  }, 180_000);

  it('embedded scraper: a target that dies mid-watch never passes and pages blind', async () => {
    const s = await setup(
      'sdead',
      async (shop) => `{ source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ], timeout: 1s } }`,
    );
    await sleep(2);
    const startedAt = await register(s.base, 'd-dead');
    await ticks(s.base, 'd-dead', 5);
    s.shopProc.kill('SIGKILL');
    await expectBlind(s, 'd-dead', startedAt, 'sdead', /scrape of .* failed/);
  }, 120_000);

  it('Prometheus: a target that died (up == 0) never passes and pages blind', async () => {
    const s = await setup('pdead', async (shop) => {
      const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] });
      return `{ source: prometheus, prometheus: { url: "${prom.url}", timeout: 2s } }`;
    });
    await sleep(3);
    const startedAt = await register(s.base, 'd-pdead');
    await ticks(s.base, 'd-pdead', 5);
    s.shopProc.kill('SIGKILL');
    await expectBlind(s, 'd-pdead', startedAt, 'pdead', /down \(up == 0\)/);
  }, 120_000);

  it('Prometheus itself down never passes and pages blind', async () => {
    let prom: ChildProcess | null = null;
    const s = await setup('pdown', async (shop) => {
      const p = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] });
      prom = p.proc;
      return `{ source: prometheus, prometheus: { url: "${p.url}", timeout: 1s, retries: 1 } }`;
    });
    await sleep(3);
    const startedAt = await register(s.base, 'd-pdown');
    await ticks(s.base, 'd-pdown', 5);
    (prom as ChildProcess | null)?.kill('SIGKILL');
    await expectBlind(s, 'd-pdown', startedAt, 'pdown', /Prometheus http/);
  }, 120_000);

  it('embedded scraper: a canary that collapses while Navigator is down past watchFor is halted after the restart', async () => {
    const s = await setup(
      'sdown',
      async (shop) => `{ source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ], timeout: 1s } }`,
    );
    await sleep(2);
    const startedAt = await register(s.base, 'd-sdown');
    await ticks(s.base, 'd-sdown', 6);
    s.nav.kill('SIGKILL');
    await new Promise((r) => s.nav.once('exit', r));
    await s.control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });
    await sleep(startedAt + WATCH_FOR + 5 - Date.now() / 1000);
    await s.startNav();
    const readyAt = Date.now() / 1000;
    const gate = navigator(['gate', '--server', s.base, '--deploy', 'd-sdown', '--wait', '--timeout', '60s']);
    expect(gate.status, gate.stdout + gate.stderr).toBe(1);
    expect(gate.stdout).toMatch(/halt: orders/);
    const d = await getJson(`${s.base}/v1/deploys/d-sdown`);
    expect(d.status).toBe('halted');
    // The embedded store cannot recover the ticks Navigator missed: they are blind, never zero or healthy.
    const orders = (d.verdicts as { signal: string; seeing: { blindTicks: number } }[]).find(
      (v) => v.signal === 'orders',
    );
    expect(orders?.seeing.blindTicks).toBeGreaterThanOrEqual(WATCH_FOR - 8);
    // Halted within a few ticks of being up again (its first ticks are the blind catch-up and a re-anchor).
    expect(Date.parse(d.decidedAt as string) / 1000 - readyAt).toBeLessThan(15);
  }, 120_000);

  it('Prometheus: a canary that collapses while Navigator is down past watchFor is halted from the recovered history', async () => {
    const s = await setup('pnav', async (shop) => {
      const prom = await startPrometheus(procs, { targets: [`127.0.0.1:${shop}`] });
      return `{ source: prometheus, prometheus: { url: "${prom.url}", timeout: 2s } }`;
    });
    await sleep(3);
    const startedAt = await register(s.base, 'd-pnav');
    await ticks(s.base, 'd-pnav', 6);
    s.nav.kill('SIGKILL');
    await new Promise((r) => s.nav.once('exit', r));
    await s.control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });
    await sleep(startedAt + WATCH_FOR + 5 - Date.now() / 1000);
    const restartedAt = Date.now() / 1000;
    await s.startNav();
    const gate = navigator(['gate', '--server', s.base, '--deploy', 'd-pnav', '--wait', '--timeout', '60s']);
    expect(gate.status, gate.stdout + gate.stderr).toBe(1);
    expect(gate.stdout).toMatch(/halt: orders/);
    const d = await getJson(`${s.base}/v1/deploys/d-pnav`);
    expect(d.status).toBe('halted');
    // Judged on the ticks Navigator missed, read back from Prometheus: decided before the restart.
    expect(Date.parse(d.decidedAt as string) / 1000).toBeLessThan(restartedAt);
    const orders = (d.verdicts as { signal: string; seeing: { blindTicks: number } }[]).find(
      (v) => v.signal === 'orders',
    );
    expect(orders?.seeing.blindTicks).toBeLessThanOrEqual(2);
  }, 120_000);
});
