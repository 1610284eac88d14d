// Slack interactivity: the Approve / Acknowledge buttons on Navigator's Slack pages post here. Slack signs
// every request: X-Slack-Signature = "v0=" + hex HMAC-SHA256(signing secret, "v0:" + timestamp + ":" + raw
// body), with X-Slack-Request-Timestamp within 5 minutes (a replayed request is refused). The Slack user is
// mapped to a Navigator identity through `slack.users` (Slack user id -> a name in auth.tokens, whose role
// applies), and the action goes through the deploy service: no self-approval, two people for critical,
// the same audit entries as the API. Slack ignores the HTTP answer's body for button clicks, so the outcome
// is posted to the message's response_url.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { AppError } from '../deploys/errors.js';
import type { Actor } from '../deploys/service.js';
import { acknowledgeDeploy, type PeopleDeps } from './people-actions.js';

export const SLACK_WINDOW = 300;
export const APPROVE = 'navigator_approve';
export const ACKNOWLEDGE = 'navigator_acknowledge';

/** Problems with the slack section that the schema cannot see: users mapped to unknown token names. */
export function slackProblems(config: Config): string[] {
  if (!config.slack) return [];
  const names = new Set(config.auth.tokens.map((t) => t.name));
  return Object.entries(config.slack.users)
    .filter(([, name]) => !names.has(name))
    .map(([id, name]) => `slack.users.${id}: "${name}" is not a name in auth.tokens`);
}

export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** null when the request is Slack's, else why not. */
export function verifySlack(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  now: number,
): string | null {
  const ts = headers['x-slack-request-timestamp'];
  const sig = headers['x-slack-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string')
    return 'X-Slack-Request-Timestamp and X-Slack-Signature are required';
  if (!/^\d+$/.test(ts) || Math.abs(now - Number(ts)) > SLACK_WINDOW)
    return 'the request timestamp is outside the 5-minute window';
  const want = Buffer.from(slackSignature(secret, ts, body));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'the signature does not match';
  return null;
}

interface BlockActions {
  type: string;
  user?: { id?: string; username?: string };
  actions?: { action_id?: string; value?: string }[];
  response_url?: string;
}

export function slackRoutes(deps: PeopleDeps & { config: Config; fetch?: typeof fetch }) {
  return (app: FastifyInstance) =>
    app.register(async (scope) => {
      // Slack posts application/x-www-form-urlencoded with one field, payload; the raw body is signed.
      scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
        done(null, body),
      );
      scope.post('/v1/slack/interactivity', { schema: { hide: true } }, async (req, reply) => {
        const cfg = deps.config.slack;
        if (!cfg) throw new AppError(404, 'NOT_FOUND', 'Slack interactivity is not configured (slack.signingSecret)');
        const raw = typeof req.body === 'string' ? req.body : '';
        const why = verifySlack(cfg.signingSecret, req.headers, raw, deps.now());
        if (why) throw new AppError(401, 'BAD_SIGNATURE', `Slack request refused: ${why}`);
        let payload: BlockActions;
        try {
          payload = JSON.parse(new URLSearchParams(raw).get('payload') ?? '') as BlockActions;
        } catch {
          throw new AppError(400, 'BAD_REQUEST', 'payload: not JSON', 'payload');
        }
        const action = payload.actions?.[0];
        if (payload.type !== 'block_actions' || !action?.value)
          throw new AppError(400, 'BAD_REQUEST', 'payload: only block_actions with a deploy id are handled', 'payload');
        const slackUser = payload.user?.id ?? '';
        const name = cfg.users[slackUser];
        const token = deps.config.auth.tokens.find((t) => t.name === name);
        let text: string;
        let ok = false;
        if (!name || !token) {
          text = `Slack user ${slackUser} is not mapped to a Navigator identity (slack.users); nothing was done.`;
        } else {
          const actor: Actor = { name: token.name, role: token.role };
          try {
            if (action.action_id === APPROVE) {
              const v = await deps.service.approve(action.value, actor, 'approved in Slack');
              text = `${actor.name} approved ${action.value}: ${v.status}, ${v.reason}`;
            } else if (action.action_id === ACKNOWLEDGE) {
              const r = await acknowledgeDeploy(deps, action.value, actor, 'acknowledged in Slack');
              text = `${actor.name} acknowledged ${action.value}; ${r.resolves} page(s) resolved`;
            } else
              throw new AppError(400, 'BAD_REQUEST', `action_id: "${action.action_id ?? ''}" is unknown`, 'action_id');
            ok = true;
          } catch (e) {
            if (!(e instanceof AppError) || e.statusCode >= 500) throw e;
            text = `Navigator refused ${actor.name}: ${e.message}`;
          }
        }
        // The payload is signed, so its response_url is Slack's own.
        if (payload.response_url) {
          await (deps.fetch ?? fetch)(payload.response_url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ response_type: 'in_channel', replace_original: false, text }),
            signal: AbortSignal.timeout(5000),
          }).catch((err: unknown) => req.log.warn({ err }, 'Slack response_url failed'));
        }
        return reply.status(200).send({ ok, text });
      });
    });
}
