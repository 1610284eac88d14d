// Slack: a deploy that waits for approvals gets a Slack message with Approve / Acknowledge buttons
// (Block Kit), delivered through the outbox to a local receiver standing in for Slack's webhook; the
// clicks come back as Slack sends them (form-encoded payload, X-Slack-Signature v0 over
// "v0:timestamp:body", a 5-minute window) over real HTTP; the Slack user is mapped to a Navigator
// identity and the same rules as the API apply (no self-approval, two people for critical).
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { slackSignature, verifySlack } from '../src/http/slack.js';
import { BASE_CONFIG, feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { Receiver } from './support/receiver.js';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
let t: TestNavigator;
let slack: Receiver;
let base: string;

interface Button {
  action_id: string;
  value: string;
  text: { text: string };
}

beforeAll(async () => {
  slack = new Receiver();
  const url = await slack.start();
  t = await testNavigator({
    config: BASE_CONFIG(`
paging:
  routes:
    chat: { slack: { webhookUrl: "${url}/services/T000/B000/XXX" } }
slack:
  signingSecret: "${SECRET}"
  users: { U_ALICE: alice, U_BOB: bob, U_DEVA: dev-a }
`).replace('    tier: critical\n', '    tier: critical\n    page: [ chat ]\n'),
  });
  base = await t.nav.http.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await t?.nav.close();
  await slack?.stop();
});

/** Sends a button click as Slack does. */
async function click(user: string, button: Button, o: { secret?: string; at?: number; responseUrl?: string } = {}) {
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase() },
    actions: [{ action_id: button.action_id, value: button.value, type: 'button' }],
    response_url: o.responseUrl ?? `${slack.url}/actions/T000/1/abc`,
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const ts = String(Math.floor(o.at ?? t.clock.now));
  return fetch(`${base}/v1/slack/interactivity`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': slackSignature(o.secret ?? SECRET, ts, body),
    },
    body,
  });
}

describe('Slack signatures', () => {
  it("matches Slack's documented example and refuses stale or altered requests", async () => {
    // The example from Slack's "Verifying requests from Slack" guide.
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const ts = '1531420618';
    const sig = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
    expect(slackSignature(SECRET, ts, body)).toBe(sig);
    const h = { 'x-slack-request-timestamp': ts, 'x-slack-signature': sig };
    expect(verifySlack(SECRET, h, body, 1531420618 + 299)).toBeNull();
    expect(verifySlack(SECRET, h, body, 1531420618 + 301)).toMatch(/5-minute window/);
    expect(verifySlack(SECRET, h, `${body}&x=1`, 1531420618)).toMatch(/does not match/);
    expect(verifySlack(SECRET, { 'x-slack-request-timestamp': ts }, body, 1531420618)).toMatch(/required/);
  });
});

describe('approvals in Slack', () => {
  it('a waiting critical deploy gets buttons; two mapped people approve it; the author cannot', async () => {
    const start = t.clock.now;
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
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: {
        id: 'p-1',
        service: 'payments',
        version: 'v2',
        baselineVersion: 'v1',
        stages: [{ at: new Date(start * 1000).toISOString(), weight: 0.1 }],
        change: { id: 'PR-7', title: 'Retry <!channel> payments', author: 'dev-a' },
      },
    });
    expect(r.statusCode).toBe(201);
    for (let x = start + 15; x <= start + 330; x += 15) {
      t.clock.now = x;
      await t.nav.service.tick(x);
    }
    expect((await t.nav.service.view('p-1')).status).toBe('awaiting_approval');
    await t.nav.effects.drain();
    const msg = slack.requests.find((q) => q.path === '/services/T000/B000/XXX');
    if (!msg) throw new Error(`no Slack message; got ${slack.requests.map((q) => q.path).join(', ')}`);
    const blocks = (msg.json as { blocks: { type: string; elements?: Button[] }[] }).blocks;
    const actions = blocks.find((b) => b.type === 'actions')?.elements ?? [];
    expect(actions.map((b) => b.text.text)).toEqual(['Approve', 'Acknowledge']);
    const approve = actions[0] as Button;
    expect(approve.value).toBe('p-1');

    // The author, mapped through slack.users, is refused like in the API; nothing is recorded.
    const self = await click('U_DEVA', approve);
    expect(self.status).toBe(200);
    expect((await self.json()).text).toMatch(/refused dev-a: dev-a wrote this change/);
    expect((await t.nav.service.view('p-1')).approvals).toEqual([]);
    // A Slack user nobody mapped: nothing is done.
    expect((await (await click('U_MALLORY', approve)).json()).text).toMatch(/not mapped/);

    const first = await click('U_ALICE', approve);
    expect((await first.json()).ok).toBe(true);
    expect((await t.nav.service.view('p-1')).status).toBe('awaiting_approval');
    const again = await click('U_ALICE', approve);
    expect((await again.json()).text).toMatch(/refused alice/i);
    const second = await click('U_BOB', approve);
    expect((await second.json()).text).toMatch(/bob approved p-1: passed/);
    const v = await t.nav.service.view('p-1');
    expect(v.status).toBe('passed');
    expect(v.approvals.map((a) => [a.approver, a.comment])).toEqual([
      ['alice', 'approved in Slack'],
      ['bob', 'approved in Slack'],
    ]);
    // The outcome is posted back to the message's response_url.
    const replies = slack.requests
      .filter((q) => q.path === '/actions/T000/1/abc')
      .map((q) => (q.json as { text: string }).text);
    expect(replies.at(-1)).toMatch(/bob approved p-1: passed/);
    const audit = (await t.nav.store.audit(0, 1000, 'p-1')).filter((a) => a.action === 'approve');
    expect(audit.map((a) => a.actor)).toEqual(['alice', 'bob']);
  });

  it('refuses a forged or replayed click before doing anything', async () => {
    const button = { action_id: 'navigator_acknowledge', value: 'p-1', text: { text: 'Acknowledge' } };
    const forged = await click('U_ALICE', button, { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    const replayed = await click('U_ALICE', button, { at: t.clock.now - 600 });
    expect(replayed.status).toBe(401);
    expect((await replayed.json()).error.message).toMatch(/5-minute window/);
    expect((await t.nav.store.audit(0, 1000, 'p-1')).filter((a) => a.action === 'acknowledge')).toEqual([]);
    const ack = await click('U_BOB', button);
    expect((await ack.json()).text).toMatch(/bob acknowledged p-1/);
    expect(
      (await t.nav.store.audit(0, 1000, 'p-1')).filter((a) => a.action === 'acknowledge').map((a) => a.actor),
    ).toEqual(['bob']);
  });
});
