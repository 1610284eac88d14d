/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The on-call page end to end in headless Chromium against a real Navigator over HTTP (real SQLite file,
// the embedded metric store filled by the test, ticks driven by the test's clock): a halted canary shows
// its chart and sentence; two approvers complete a critical deploy through the page; a pipeline token sees
// no approve button and cannot approve by posting the form; sessions are HttpOnly, SameSite=Strict cookies
// and forms are CSRF-checked. NAVIGATOR_SCREENSHOTS=docs writes the README's screenshots.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator;
let browser: Browser;
let base: string;
const shots = process.env.NAVIGATOR_SCREENSHOTS === 'docs' ? 'docs' : mkdtempSync(join(tmpdir(), 'navigator-shots-'));

const deploy = (id: string, service: string, version: string, over: Record<string, unknown> = {}) => ({
  id,
  service,
  version,
  baselineVersion: 'v1',
  strategy: 'canary',
  stages: [{ at: new Date(t.clock.now * 1000).toISOString(), weight: 0.1 }],
  startedAt: new Date(t.clock.now * 1000).toISOString(),
  change: { id: `PR-${id}`, title: `Change ${id}`, author: 'dev-a', commit: 'abc123', url: 'https://git.example/pr/1' },
  ...over,
});

beforeAll(async () => {
  t = await testNavigator();
  const start = t.clock.now;
  // checkout v2: orders collapse 99% in the canary from the start; payments v2 (critical): healthy.
  feedCanary(t.metrics, {
    service: 'checkout',
    from: start - 600,
    to: start + 600,
    baseline: 'v1',
    canary: 'v2',
    perTick: 300,
    weight: 0.1,
    canaryFactor: (x) => (x > start ? 0.01 : 1),
  });
  feedCanary(t.metrics, {
    service: 'payments',
    from: start - 600,
    to: start + 600,
    baseline: 'v1',
    canary: 'v2',
    perTick: 300,
    weight: 0.1,
    canaryFactor: () => 1,
  });
  const h = t.auth('ci-token');
  for (const body of [deploy('bad-1', 'checkout', 'v2'), deploy('pay-1', 'payments', 'v2')]) {
    const r = await t.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: h, payload: body });
    expect(r.statusCode).toBe(201);
  }
  for (let x = start + 15; x <= start + 330; x += 15) {
    t.clock.now = x;
    await t.nav.service.tick(x);
  }
  expect((await t.nav.service.view('bad-1')).status).toBe('halted');
  expect((await t.nav.service.view('pay-1')).status).toBe('awaiting_approval');
  base = await t.nav.http.listen({ host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await t?.nav.close();
});

async function signIn(token: string, width = 1100): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${base}/ui/`);
  expect(page.url()).toContain('/ui/login');
  // Keyboard only: the token field has focus and a label; Enter submits.
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('token');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${base}/ui/`);
  return page;
}

describe('the on-call page', () => {
  it('shows a halted canary with its chart, its sentence and its numbers', async () => {
    const page = await signIn('alice-token');
    const row = page.locator('tr', { has: page.locator('a', { hasText: 'bad-1' }) });
    await expect.poll(() => row.locator('.status').textContent()).toBe('halted');
    await page.selectOption('#status', 'halted');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(await page.locator('table.deploys tbody tr').count()).toBe(1);
    await page.click('text=bad-1');
    await page.waitForURL(/\/ui\/deploys\/bad-1$/);
    expect(await page.locator('h1 .status').textContent()).toBe('halted');
    const sentence = await page.locator('section .sentence').first().textContent();
    expect(sentence).toMatch(/orders/);
    expect(sentence).toMatch(/-9\d%|-100%/);
    // The chart: the canary's line, the expected line from the baseline, the decision tick.
    const chart = page.locator('svg.chart[data-signal="orders"]');
    await expect.poll(() => chart.count()).toBe(1);
    expect(await chart.locator('path.observed').getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+(L[\d.]+,[\d.]+){5,}/);
    expect(await chart.locator('path.expected').getAttribute('d')).toMatch(/L/);
    expect(await chart.locator('line.decision').count()).toBe(1);
    expect(await chart.locator('desc').textContent()).toMatch(/decided at/);
    // The canary's last points are far below what the baseline predicts (a 99% drop).
    const res = await fetch(`${base}/v1/deploys/bad-1/series`, { headers: t.auth('alice-token') });
    const series = (await res.json()) as {
      signals: { signal: string; t: number[]; observed: number[]; expected: number[]; decidedAt: number }[];
    };
    const orders = series.signals.find((s) => s.signal === 'orders');
    if (!orders) throw new Error('no orders series');
    const i = orders.t.findIndex((x) => x === orders.decidedAt);
    expect(i).toBeGreaterThan(0);
    expect(orders.observed[i]).toBeLessThan(0.2 * (orders.expected[i] ?? NaN));
    expect(await page.getByText('Timeline').count()).toBe(1);
    expect(await page.locator('ol.timeline li').filter({ hasText: 'halt' }).count()).toBeGreaterThan(0);
    // Every visible form control has a label.
    const unlabelled = await page.evaluate(
      () =>
        [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(
          (e) => (e as HTMLInputElement).labels?.length === 0,
        ).length,
    );
    expect(unlabelled).toBe(0);
    await page.screenshot({ path: join(shots, 'ui-deploy-halted.png'), fullPage: true });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
    await phone.addCookies(await page.context().cookies());
    const p2 = await phone.newPage();
    await p2.goto(`${base}/ui/deploys/bad-1`);
    // Readable on a phone: nothing wider than the screen.
    expect(await p2.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await p2
      .locator('section')
      .first()
      .screenshot({ path: join(shots, 'ui-deploy-phone.png') });
    await page.goto(`${base}/ui/`);
    await page.screenshot({ path: join(shots, 'ui-deploys.png') });
    await page.context().close();
    await phone.close();
  });

  it('two approvers complete a critical deploy; the first cannot approve twice', async () => {
    const alice = await signIn('alice-token');
    await alice.goto(`${base}/ui/deploys/pay-1`);
    expect(await alice.locator('h1 .status').textContent()).toBe('awaiting approval');
    await alice.locator('#approve-comment').fill('looks good on the chart');
    await alice.getByRole('button', { name: 'Approve' }).click();
    await alice.waitForURL(/\/ui\/deploys\/pay-1$/);
    expect(await alice.locator('.flash').textContent()).toMatch(/Approved by alice/);
    expect(await alice.locator('h1 .status').textContent()).toBe('awaiting approval');
    expect(await alice.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    const gate1 = await fetch(`${base}/v1/deploys/pay-1/gate`, { headers: t.auth('ci-token') });
    expect(gate1.status).toBe(423);

    const bob = await signIn('bob-token');
    await bob.goto(`${base}/ui/deploys/pay-1`);
    await bob.getByRole('button', { name: 'Approve' }).click();
    await bob.waitForURL(/\/ui\/deploys\/pay-1$/);
    expect(await bob.locator('h1 .status').textContent()).toBe('passed');
    expect(await bob.locator('.flash').textContent()).toMatch(/approved by alice and bob/);
    const gate2 = await fetch(`${base}/v1/deploys/pay-1/gate`, { headers: t.auth('ci-token') });
    expect(gate2.status).toBe(200);
    const audit = (await (await fetch(`${base}/v1/audit?deploy=pay-1`, { headers: t.auth('admin-token') })).json()) as {
      entries: { actor: string; action: string }[];
    };
    expect(audit.entries.filter((e) => e.action === 'approve').map((e) => e.actor)).toEqual(['alice', 'bob']);
    await bob.screenshot({ path: join(shots, 'ui-approved.png'), fullPage: true });
    await alice.context().close();
    await bob.context().close();
  });

  it('a pipeline token sees no approve button and cannot approve by posting the form', async () => {
    const ci = await signIn('ci-token');
    await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: deploy('pay-2', 'payments', 'v2'),
    });
    await ci.goto(`${base}/ui/deploys/pay-2`);
    expect(await ci.locator('h1').textContent()).toMatch(/pay-2/);
    expect(await ci.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await ci.getByText(/has no actions/).count()).toBe(1);
    // The session cookie: not readable by scripts, never sent cross-site.
    const [cookie] = await ci.context().cookies();
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe('Strict');
    expect(await ci.evaluate(() => document.cookie)).toBe('');
    // Posting the approve form by hand with the session's own CSRF token: refused by the role rule.
    const csrf = await ci.locator('form.who input[name=csrf]').getAttribute('value');
    // (The page's CSP forbids scripts and fetch, so the post goes through the browser context's own client.)
    const res = await ci.context().request.post(`${base}/ui/deploys/pay-2/approve`, {
      form: { csrf: csrf ?? '', comment: 'x' },
    });
    expect(res.url()).toMatch(/\/ui\/deploys\/pay-2$/);
    expect(await res.text()).toMatch(/Refused: .*pipeline/);
    // Without the CSRF token, nothing happens at all.
    const forged = await ci.context().request.post(`${base}/ui/deploys/pay-2/approve`, { form: { comment: 'x' } });
    expect(forged.status()).toBe(403);
    // And the page forbids scripts from talking to Navigator at all.
    expect(
      await ci.evaluate(() =>
        fetch('/v1/deploys').then(
          () => 'fetched',
          () => 'blocked',
        ),
      ),
    ).toBe('blocked');
    expect((await t.nav.service.view('pay-2')).approvals).toEqual([]);
    // The audit log page is for people.
    await ci.goto(`${base}/ui/audit`);
    expect(await ci.locator('h1').textContent()).toMatch(/Cannot do that/);
    await ci.context().close();
  });
});
