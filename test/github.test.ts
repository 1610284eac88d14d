// GitHub: deployment statuses as a deploy moves, and a custom deployment protection rule answered from
// Navigator's gate. A local server plays GitHub (test/support/github.ts: paths, headers and bodies as
// GitHub's REST documentation gives them, a GitHub App JWT checked with the App's public key); GitHub's
// webhooks reach Navigator over real HTTP, signed as GitHub signs them (X-Hub-Signature-256). Navigator
// runs in this process with a clock the test moves, so retries and the watch run in compressed time.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clip, deploymentState, sameCommit } from '../src/actions/github.js';
import { githubProblems } from '../src/actions/github-auth.js';
import { parseConfig } from '../src/config/load.js';
import { githubSignature, verifyGitHub } from '../src/http/github.js';
import { FakeGitHub } from './support/github.js';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';

const SECRET = 'webhook-secret-for-tests';
const SHA = '30b2938aa2f35ac4e7dd8cbbcde90a8c0e7f4d21';
const SHA2 = '8a1f0c9d2e3b4a5f60718293a4b5c6d7e8f90123';

const config = (github: string, extra = '') => `
evaluation: { interval: 15s }
server: { listen: "127.0.0.1:0", publicUrl: "https://navigator.example" }
paging: { delivery: { initialBackoff: 1s, maxBackoff: 1m, timeout: 2s } }
auth:
  tokens:
    - { name: ci, role: pipeline, token: ci-token }
    - { name: alice, role: approver, token: alice-token }
    - { name: bob, role: approver, token: bob-token }
    - { name: dev-a, role: approver, token: dev-a-token }
github: ${github}
services:
  checkout:
    watchFor: 5m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
  payments:
    tier: critical
    watchFor: 5m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: payments } }
${extra}`;

let gh: FakeGitHub | null = null;
let t: TestNavigator | null = null;
afterEach(async () => {
  await t?.nav.close();
  await gh?.stop();
  t = null;
  gh = null;
});

const iso = (s: number) => new Date(s * 1000).toISOString();

async function register(n: TestNavigator, body: Record<string, unknown>) {
  const r = await n.nav.http.inject({ method: 'POST', url: '/v1/deploys', headers: n.auth('ci-token'), payload: body });
  return { status: r.statusCode, json: r.json() as Record<string, unknown> };
}

/** Moves the clock in steps, ticking the judge and delivering what is due, until `until` or `done()`. */
async function run(
  n: TestNavigator,
  seconds: number,
  o: { step?: number; tick?: boolean; done?: () => boolean | Promise<boolean> } = {},
) {
  const end = n.clock.now + seconds;
  while (n.clock.now < end && !(await o.done?.())) {
    n.clock.now += o.step ?? 5;
    if (o.tick !== false && n.clock.now % 15 === 0) await n.nav.service.tick(n.clock.now);
    await n.nav.effects.drain();
  }
}

function expectGitHubHeaders(h: Record<string, unknown>, token: RegExp | string) {
  expect(h.accept).toBe('application/vnd.github+json');
  expect(h['x-github-api-version']).toBe('2022-11-28');
  expect(h['user-agent']).toBeTruthy();
  if (typeof token === 'string') expect(h.authorization).toBe(`Bearer ${token}`);
  else expect(String(h.authorization)).toMatch(token);
}

describe('pure parts', () => {
  it("verifies GitHub's documented signature example, and refuses others", () => {
    // docs.github.com, "Validating webhook deliveries": the test values.
    const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(githubSignature("It's a Secret to Everybody", 'Hello, World!')).toBe(sig);
    expect(verifyGitHub("It's a Secret to Everybody", sig, 'Hello, World!')).toBeNull();
    expect(verifyGitHub("It's a Secret to Everybody", sig, 'Hello, World?')).toMatch(/does not match/);
    expect(verifyGitHub('another secret', sig, 'Hello, World!')).toMatch(/does not match/);
    expect(verifyGitHub("It's a Secret to Everybody", undefined, 'Hello, World!')).toMatch(/required/);
    expect(verifyGitHub("It's a Secret to Everybody", 'sha1=abc', 'Hello, World!')).toMatch(/sha256=/);
  });

  it('clips descriptions to 140 characters and matches short SHAs', () => {
    expect(clip('a'.repeat(140))).toHaveLength(140);
    expect(Array.from(clip('é'.repeat(300)))).toHaveLength(140);
    expect(clip('x'.repeat(200)).endsWith('…')).toBe(true);
    expect(sameCommit('30b2938', SHA)).toBe(true);
    expect(sameCommit(SHA.toUpperCase(), SHA)).toBe(true);
    expect(sameCommit('30b29', SHA)).toBe(false); // too short to mean one commit
    expect(sameCommit('', SHA)).toBe(false);
    expect(sameCommit(SHA2, SHA)).toBe(false);
  });

  it('maps every deploy status to a GitHub deployment state', () => {
    const view = (status: string, extra: Record<string, unknown> = {}) =>
      ({
        id: 'd',
        service: 'checkout',
        version: 'v2',
        status,
        reason: 'the reason',
        verdicts: [],
        failedSignal: null,
        blind: false,
        blindSince: null,
        ...extra,
      }) as unknown as Parameters<typeof deploymentState>[0];
    const states = [
      'pending_approval',
      'watching',
      'awaiting_approval',
      'passed',
      'halted',
      'rolled_back',
      'ended',
    ].map((s) => deploymentState(view(s)).state);
    expect(states).toEqual(['pending', 'in_progress', 'in_progress', 'success', 'failure', 'failure', 'inactive']);
    expect(deploymentState(view('watching', { reason: 'watching' })).description).toBe(
      'Navigator is watching checkout v2',
    );
    const blind = deploymentState(view('watching', { blind: true, blindSince: '2025-11-27T10:00:00.000Z' }));
    expect(blind).toEqual({
      state: 'error',
      description: "Navigator cannot see checkout's metrics since 2025-11-27T10:00:00.000Z: not judged",
    });
    const halted = view('halted', {
      failedSignal: 'orders',
      verdicts: [{ signal: 'orders', evidence: { sentence: 'orders fell 99% against the baseline' } }],
    });
    expect(deploymentState(halted).description).toBe('orders fell 99% against the baseline');
  });

  it('names the credentials a github section lacks', () => {
    const parse = (g: string) => parseConfig(config(g), 'navigator.yaml', {});
    expect(githubProblems(parse('{ apiUrl: "https://ghe.example/api/v3" }'))).toEqual([
      'github: set github.token, or github.appId with github.privateKey',
    ]);
    expect(githubProblems(parse('{ token: "t", webhookSecret: "s" }'))[0]).toMatch(
      /github.webhookSecret: a deployment protection rule is answered as a GitHub App/,
    );
    expect(githubProblems(parse('{ appId: 1, privateKeyFile: "/nonexistent/key.pem" }'))).toEqual([
      expect.stringMatching(/^github.privateKeyFile: cannot read \/nonexistent\/key.pem/),
    ]);
    expect(githubProblems(parse('{ token: "t" }'))).toEqual([]);
  });
});

describe('deployment statuses', () => {
  it('posts in_progress then failure with the sentence, retries a GitHub 502, and never holds up the gate', async () => {
    gh = new FakeGitHub({ pat: 'ghp_test' });
    await gh.start();
    t = await testNavigator({ config: config(`{ apiUrl: "${gh.apiUrl}", token: "ghp_test" }`) });
    const start = t.clock.now;
    feedCanary(t.metrics, {
      service: 'checkout',
      from: start - 600,
      to: start + 900,
      baseline: 'v1',
      canary: 'v2',
      perTick: 300,
      weight: 0.1,
      canaryFactor: (x) => (x > start + 15 ? 0.01 : 1),
    });
    const path = '/repos/acme/shop/deployments/42/statuses';
    gh.failNext.set(path, [502]);
    const r = await register(t, {
      id: 'd-1',
      service: 'checkout',
      version: 'v2',
      baselineVersion: 'v1',
      stages: [{ at: iso(start), weight: 0.1 }],
      change: { id: 'PR-1', title: 'Cache cart totals', author: 'dev-a', commit: SHA },
      github: {
        repository: 'acme/shop',
        deployment: 42,
        environment: 'production',
        environmentUrl: 'https://shop.example',
      },
    });
    expect(r.status).toBe(201);
    await t.nav.effects.drain();
    expect(gh.at(path).map((c) => c.status)).toEqual([502]); // GitHub is down; the deploy is watched anyway
    await run(t, 10, { tick: false, done: () => gh!.at(path).some((c) => c.status === 201) });
    const first = gh.at(path).filter((c) => c.status === 201);
    expect(first).toHaveLength(1);
    expectGitHubHeaders(first[0]!.headers, 'ghp_test');
    expect(first[0]!.body).toMatchObject({
      state: 'in_progress',
      log_url: 'https://navigator.example/ui/deploys/d-1',
      environment: 'production',
      environment_url: 'https://shop.example',
    });

    // GitHub fails every call from now on: the halt is decided and the gate answers at once all the same.
    gh.failNext.set(path, Array<number>(3).fill(503));
    for (let x = start + 15; x <= start + 90 && (await t.nav.service.view('d-1')).status === 'watching'; x += 15) {
      t.clock.now = x;
      await t.nav.service.tick(x);
    }
    const view = await t.nav.service.view('d-1');
    expect(view.status).toBe('halted');
    const gate = await t.nav.http.inject({ method: 'GET', url: '/v1/deploys/d-1/gate', headers: t.auth('ci-token') });
    expect(gate.statusCode).toBe(409);
    await run(t, 120, { tick: false, done: () => gh!.at(path).filter((c) => c.status === 201).length === 2 });
    const done = gh.at(path).filter((c) => c.status === 201);
    expect(done.map((c) => (c.body as { state: string }).state)).toEqual(['in_progress', 'failure']);
    expect(gh.at(path).filter((c) => c.status === 503)).toHaveLength(3);
    const sentence = view.verdicts.find((v) => v.signal === 'orders')?.evidence?.sentence ?? '';
    expect(sentence.length).toBeGreaterThan(20);
    const description = (done[1]!.body as { description: string }).description;
    expect(description.length).toBeLessThanOrEqual(140);
    expect(description).toBe(clip(sentence));
    // What the outbox did, for the deploy's page and API.
    const effects = (await t.nav.service.view('d-1')).effects.filter((e) => e.kind === 'github:status');
    expect(effects.map((e) => e.status)).toEqual(['done', 'done']);
    expect(deploymentState(await t.nav.service.view('d-1')).state).toBe('failure');
  });

  it('creates the GitHub deployment when the pipeline gives none, once, and a bad registration names github.ref', async () => {
    gh = new FakeGitHub({ pat: 'ghp_test' });
    await gh.start();
    t = await testNavigator({ config: config(`{ apiUrl: "${gh.apiUrl}", token: "ghp_test" }`) });
    const bad = await register(t, {
      id: 'd-bad',
      service: 'checkout',
      version: 'v2',
      github: { repository: 'acme/shop' },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toMatch(/github.ref/);
    const wrong = await register(t, {
      id: 'd-bad',
      service: 'checkout',
      version: 'v2',
      github: { repository: 'shop' },
    });
    expect(wrong.status).toBe(400);
    expect(JSON.stringify(wrong.json)).toMatch(/github.repository/);

    const r = await register(t, {
      id: 'd-2',
      service: 'checkout',
      version: 'v2',
      baselineVersion: 'v1',
      change: { id: 'PR-2', commit: SHA },
      github: { repository: 'acme/shop', environment: 'staging' },
    });
    expect(r.status).toBe(201);
    await t.nav.effects.drain();
    expect(gh.deployments).toHaveLength(1);
    const made = gh.deployments[0]!;
    expect(made).toMatchObject({ ref: SHA, environment: 'staging', payload: { navigator_deploy: 'd-2' } });
    const created = gh.at('/repos/acme/shop/deployments').find((c) => c.path === '/repos/acme/shop/deployments');
    expect(created?.body).toMatchObject({ ref: SHA, environment: 'staging', auto_merge: false, required_contexts: [] });
    // The pipeline ends it: the next status goes to the same deployment, none is created again.
    await t.nav.http.inject({ method: 'POST', url: '/v1/deploys/d-2/end', headers: t.auth('ci-token') });
    await t.nav.effects.drain();
    expect(gh.deployments).toHaveLength(1);
    const states = gh
      .at(`/repos/acme/shop/deployments/${made.id}/statuses`)
      .map((c) => (c.body as { state: string }).state);
    expect(states).toEqual(['in_progress', 'inactive']);
  });
});

describe('a custom deployment protection rule', () => {
  async function appNavigator(extraGithub = '') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'navigator-gh-'));
    const keyFile = join(dir, 'app.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    // GitHub Enterprise Server: the API under /api/v3.
    gh = new FakeGitHub({
      appId: 4242,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      installationId: 777,
      prefix: '/api/v3',
    });
    await gh.start();
    t = await testNavigator({
      config: config(
        `{ apiUrl: "${gh.apiUrl}", appId: 4242, privateKeyFile: "${keyFile}", webhookSecret: "${SECRET}"${extraGithub} }`,
      ),
    });
    const base = await t.nav.http.listen({ host: '127.0.0.1', port: 0 });
    return base;
  }

  /** A deployment_protection_rule delivery as GitHub sends it (webhook payload documentation). */
  function protectionPayload(o: { sha: string; run: number; environment?: string; deployment?: number }) {
    const api = gh!.apiUrl;
    return {
      action: 'requested',
      environment: o.environment ?? 'production',
      event: 'push',
      sha: o.sha,
      ref: 'refs/heads/main',
      deployment_callback_url: `${api}/repos/acme/shop/actions/runs/${o.run}/deployment_protection_rule`,
      deployment: {
        url: `${api}/repos/acme/shop/deployments/${o.deployment ?? o.run}`,
        id: o.deployment ?? o.run,
        node_id: 'DE_kwDOA',
        task: 'deploy',
        sha: o.sha,
        ref: 'main',
        environment: o.environment ?? 'production',
        payload: {},
        original_environment: o.environment ?? 'production',
        created_at: '2025-11-27T10:00:00Z',
        updated_at: '2025-11-27T10:00:00Z',
        creator: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
      },
      pull_requests: [],
      repository: { id: 1296269, name: 'shop', full_name: 'acme/shop', owner: { login: 'acme' }, private: true },
      organization: { login: 'acme', id: 1 },
      installation: { id: 777, node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNzc3' },
      sender: { login: 'dev-a', id: 5, type: 'User' },
    };
  }

  function deliver(base: string, payload: unknown, o: { secret?: string; event?: string; signature?: string } = {}) {
    const body = JSON.stringify(payload);
    return fetch(`${base}/v1/github/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': o.event ?? 'deployment_protection_rule',
        'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        'x-hub-signature-256': o.signature ?? githubSignature(o.secret ?? SECRET, body),
        'user-agent': 'GitHub-Hookshot/044aadd',
      },
      body,
    });
  }

  const reviews = (run: number) => gh!.at(`/repos/acme/shop/actions/runs/${run}/deployment_protection_rule`);

  it('refuses a bad signature; answers a halted canary "rejected" with the sentence, as the App, after a GitHub 5xx', async () => {
    const base = await appNavigator();
    const n = t!;
    const start = n.clock.now;
    feedCanary(n.metrics, {
      service: 'checkout',
      from: start - 600,
      to: start + 900,
      baseline: 'v1',
      canary: 'v2',
      perTick: 300,
      weight: 0.1,
      canaryFactor: (x) => (x > start + 15 ? 0.01 : 1),
    });
    expect(
      (
        await register(n, {
          id: 'c-1',
          service: 'checkout',
          version: 'v2',
          baselineVersion: 'v1',
          stages: [{ at: iso(start), weight: 0.1 }],
          change: { id: 'PR-3', author: 'dev-a', commit: SHA },
          github: { repository: 'acme/shop', deployment: 11 },
        })
      ).status,
    ).toBe(201);

    // Forged, altered, unsigned: 401, nothing queued, nothing audited.
    const payload = protectionPayload({ sha: SHA, run: 555 });
    expect((await deliver(base, payload, { secret: 'not-the-secret' })).status).toBe(401);
    expect((await deliver(base, payload, { signature: githubSignature(SECRET, '{}') })).status).toBe(401);
    const unsigned = await fetch(`${base}/v1/github/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'deployment_protection_rule' },
      body: JSON.stringify(payload),
    });
    expect(unsigned.status).toBe(401);
    expect((await unsigned.json()).error.message).toMatch(/X-Hub-Signature-256 is required/);
    expect((await n.nav.store.audit()).filter((a) => a.action === 'github-review-requested')).toEqual([]);
    expect((await n.nav.store.effects('c-1')).filter((e) => e.kind === 'github:review')).toEqual([]);

    // GitHub's ping when the App's webhook is set up.
    expect((await deliver(base, { zen: 'Keep it logically awesome.', hook_id: 1 }, { event: 'ping' })).status).toBe(
      200,
    );

    const ok = await deliver(base, payload);
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ deploy: 'c-1' });
    // GitHub re-sending the same delivery is one request, not two answers.
    expect((await deliver(base, payload)).status).toBe(202);
    await n.nav.effects.drain();
    expect(reviews(555)).toEqual([]); // watching: the gate says wait, GitHub is not answered yet

    gh!.failNext.set('/repos/acme/shop/actions/runs/555/deployment_protection_rule', [503]);
    for (let x = start + 15; x <= start + 90 && (await n.nav.service.view('c-1')).status === 'watching'; x += 15) {
      n.clock.now = x;
      await n.nav.service.tick(x);
    }
    expect((await n.nav.service.view('c-1')).status).toBe('halted');
    await run(n, 60, { tick: false, done: () => reviews(555).some((c) => c.status === 204) });
    const calls = reviews(555);
    expect(calls.map((c) => c.status)).toEqual([503, 204]);
    const answer = calls[1]!;
    expectGitHubHeaders(answer.headers, /^Bearer ghs_\d+$/);
    const sentence =
      (await n.nav.service.view('c-1')).verdicts.find((v) => v.signal === 'orders')?.evidence?.sentence ?? '';
    expect(answer.body).toMatchObject({ environment_name: 'production', state: 'rejected' });
    const comment = (answer.body as { comment: string }).comment;
    expect(comment).toContain(sentence);
    expect(comment).toContain('https://navigator.example/ui/deploys/c-1');
    // The installation token came from the App's JWT, for the installation the webhook named.
    const tokenCalls = gh!.at('/app/installations/777/access_tokens');
    expect(tokenCalls.length).toBeGreaterThanOrEqual(1);
    expect(tokenCalls.every((c) => c.status === 201)).toBe(true);
    expect(String(tokenCalls[0]!.headers.authorization)).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    // The deploy's own status went to GitHub as the App too.
    expect(gh!.at('/repos/acme/shop/deployments/11/statuses').map((c) => (c.body as { state: string }).state)).toEqual([
      'in_progress',
      'failure',
    ]);
    expect((await n.nav.store.audit()).map((a) => a.action)).toEqual(
      expect.arrayContaining(['github-review-requested', 'github-review-answered']),
    );
    // Answered once: later ticks and deliveries do not answer again.
    await run(n, 120, { tick: false });
    expect(reviews(555).filter((c) => c.status === 204)).toHaveLength(1);
  });

  it('waits for a deploy registered after the request, then for two approvers who are not the author (critical)', async () => {
    const base = await appNavigator();
    const n = t!;
    const start = n.clock.now;
    feedCanary(n.metrics, {
      service: 'payments',
      from: start - 600,
      to: start + 900,
      baseline: 'v1',
      canary: 'v2',
      perTick: 300,
      weight: 0.1,
      canaryFactor: () => 1,
    });
    // The request arrives first (the workflow reached the protected job before the canary registered).
    const early = await deliver(base, protectionPayload({ sha: SHA2, run: 601 }));
    expect(early.status).toBe(202);
    expect((await early.json()).deploy).toBeNull();
    // A request nobody registers a deploy for is rejected after github.matchWithin (10m).
    expect((await deliver(base, protectionPayload({ sha: 'f'.repeat(40), run: 602 }))).status).toBe(202);

    n.clock.now = start + 5;
    const r = await register(n, {
      id: 'p-1',
      service: 'payments',
      version: 'v2',
      baselineVersion: 'v1',
      stages: [{ at: iso(start), weight: 0.1 }],
      change: { id: 'PR-9', title: 'Retry payments', author: 'dev-a', commit: SHA2.slice(0, 12) },
      github: { repository: 'acme/shop', deployment: 12 },
    });
    expect(r.status).toBe(201);
    await run(n, 330, { done: async () => (await n.nav.service.view('p-1')).status !== 'watching' });
    expect((await n.nav.service.view('p-1')).status).toBe('awaiting_approval');
    expect(reviews(601)).toEqual([]); // judged good, but a critical deploy needs its approvals first

    // The author may not approve (as in the API, the page and Slack); GitHub hears nothing.
    const self = await n.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/p-1/approvals',
      headers: n.auth('dev-a-token'),
      payload: { comment: 'mine' },
    });
    expect(self.statusCode).toBe(403);
    const one = await n.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/p-1/approvals',
      headers: n.auth('alice-token'),
      payload: { comment: 'looks good' },
    });
    expect(one.statusCode).toBe(201);
    await run(n, 120, { tick: false });
    expect(reviews(601)).toEqual([]);

    const two = await n.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys/p-1/approvals',
      headers: n.auth('bob-token'),
      payload: {},
    });
    expect(two.json().status).toBe('passed');
    await n.nav.effects.drain();
    const answered = reviews(601);
    expect(answered.map((c) => c.status)).toEqual([204]);
    expect(answered[0]!.body).toMatchObject({ environment_name: 'production', state: 'approved' });
    expect((answered[0]!.body as { comment: string }).comment).toMatch(/approved by alice and bob/);

    // The unmatched one: rejected once matchWithin has passed since it arrived, saying why.
    await run(n, 600, { tick: false, step: 15, done: () => reviews(602).length > 0 });
    const lonely = reviews(602);
    expect(lonely.map((c) => c.status)).toEqual([204]);
    expect(lonely[0]!.body).toMatchObject({ state: 'rejected' });
    expect((lonely[0]!.body as { comment: string }).comment).toMatch(/no deploy of acme\/shop at ffffffffffff/);
    expect(n.clock.now - start).toBeGreaterThanOrEqual(600);
  });

  it('refuses malformed requests by field and a callback URL outside github.apiUrl; ignores other events', async () => {
    const base = await appNavigator();
    const p = protectionPayload({ sha: SHA, run: 700 });
    const bad = async (payload: unknown) => {
      const r = await deliver(base, payload);
      return { status: r.status, message: ((await r.json()) as { error: { message: string } }).error.message };
    };
    expect(await bad({ ...p, environment: undefined })).toMatchObject({ status: 400, message: /^environment:/ });
    expect(await bad({ ...p, deployment_callback_url: 42 })).toMatchObject({
      status: 400,
      message: /^deployment_callback_url: is required/,
    });
    expect(
      await bad({ ...p, deployment_callback_url: 'https://evil.example/repos/acme/shop/actions/runs/1/x' }),
    ).toMatchObject({ status: 400, message: /is not under github.apiUrl/ });
    expect(await bad({ ...p, repository: { full_name: 'nope' } })).toMatchObject({
      status: 400,
      message: /^repository.full_name/,
    });
    expect(await bad({ ...p, sha: undefined, deployment: { id: 'x' } })).toMatchObject({
      status: 400,
      message: /^deployment.sha/,
    });
    const notJson = await fetch(`${base}/v1/github/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'deployment_protection_rule',
        'x-hub-signature-256': githubSignature(SECRET, '{not json'),
      },
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    const other = await deliver(base, { action: 'created' }, { event: 'deployment_status' });
    expect(other.status).toBe(202);
    expect((await other.json()).ignored).toMatch(/deployment_status/);
    expect(gh!.calls).toEqual([]);
  });

  it('is not there without github.webhookSecret', async () => {
    gh = new FakeGitHub({ pat: 'ghp_test' });
    await gh.start();
    t = await testNavigator({ config: config(`{ apiUrl: "${gh.apiUrl}", token: "ghp_test" }`) });
    const base = await t.nav.http.listen({ host: '127.0.0.1', port: 0 });
    const r = await fetch(`${base}/v1/github/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': githubSignature('x', '{}') },
      body: '{}',
    });
    expect(r.status).toBe(404);
  });
});
