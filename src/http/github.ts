// GitHub's webhook: the `deployment_protection_rule` event of Navigator's GitHub App. GitHub signs every
// delivery: X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(webhook secret, raw body); anything else is
// refused (compared in constant time, before the body is parsed). A request is matched to the registered
// deploy of its repository and commit and answered through its deployment_callback_url once Navigator's
// gate decides (actions/github.ts, through the outbox), so the GitHub environment waits on the gate without
// a runner blocked on `navigator gate --wait`.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Effects } from '../actions/effects.js';
import { callbackPath } from '../actions/github.js';
import type { Config } from '../config/schema.js';
import { AppError, badRequest } from '../deploys/errors.js';
import type { Store } from '../store/types.js';

export function githubSignature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** null when the body is signed with the secret, else why not. */
export function verifyGitHub(secret: string, header: string | string[] | undefined, body: string): string | null {
  if (typeof header !== 'string') return 'X-Hub-Signature-256 is required';
  if (!/^sha256=[0-9a-f]{64}$/.test(header)) return 'X-Hub-Signature-256 must be sha256=<64 hex digits>';
  const want = Buffer.from(githubSignature(secret, body));
  const got = Buffer.from(header);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return 'the signature does not match';
  return null;
}

interface ProtectionPayload {
  action?: unknown;
  environment?: unknown;
  event?: unknown;
  sha?: unknown;
  ref?: unknown;
  deployment_callback_url?: unknown;
  deployment?: { id?: unknown; sha?: unknown; ref?: unknown } | null;
  repository?: { full_name?: unknown } | null;
  installation?: { id?: unknown } | null;
  sender?: { login?: unknown } | null;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function githubRoutes(deps: {
  config: Config;
  effects: Pick<Effects, 'requestReview'>;
  store: Pick<Store, 'appendAudit'>;
  now: () => number;
}) {
  return (app: FastifyInstance) =>
    app.register(async (scope) => {
      // The signature covers the raw bytes: keep them as received.
      scope.addContentTypeParser(
        ['application/json', 'application/x-www-form-urlencoded'],
        { parseAs: 'string' },
        (_req, body, done) => done(null, body),
      );
      scope.post('/v1/github/webhook', { schema: { hide: true } }, async (req, reply) => {
        const secret = deps.config.github?.webhookSecret;
        if (!secret)
          throw new AppError(404, 'NOT_FOUND', 'the GitHub webhook is not configured (github.webhookSecret)');
        const raw = typeof req.body === 'string' ? req.body : '';
        const why = verifyGitHub(secret, req.headers['x-hub-signature-256'], raw);
        if (why) throw new AppError(401, 'BAD_SIGNATURE', `GitHub webhook refused: ${why}`);
        const event = str(req.headers['x-github-event']);
        let json = raw;
        if (String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
          json = new URLSearchParams(raw).get('payload') ?? '';
        let p: ProtectionPayload;
        try {
          p = JSON.parse(json) as ProtectionPayload;
        } catch {
          throw badRequest('body', 'is not JSON');
        }
        if (event === 'ping') return reply.status(200).send({ ok: true, event });
        if (event !== 'deployment_protection_rule' || p.action !== 'requested')
          return reply.status(202).send({ ignored: `${event || 'no X-GitHub-Event'} ${str(p.action)}`.trim() });
        const environment = str(p.environment);
        if (!environment) throw badRequest('environment', 'is required (the environment the rule protects)');
        const callbackUrl = str(p.deployment_callback_url);
        if (!callbackUrl) throw badRequest('deployment_callback_url', 'is required');
        if (callbackPath(deps.config, callbackUrl) === null)
          throw badRequest(
            'deployment_callback_url',
            `is not under github.apiUrl (${deps.config.github?.apiUrl ?? ''}): Navigator sends its token nowhere else`,
          );
        const repository = str(p.repository?.full_name);
        if (!/^[^/\s]+\/[^/\s]+$/.test(repository)) throw badRequest('repository.full_name', 'must be owner/name');
        const sha = str(p.deployment?.sha) || str(p.sha);
        const deployment = typeof p.deployment?.id === 'number' ? p.deployment.id : null;
        if (!sha && deployment === null)
          throw badRequest('deployment.sha', 'is required (the commit that is deployed) when deployment.id is absent');
        const installationId = typeof p.installation?.id === 'number' ? p.installation.id : null;
        const sender = str(p.sender?.login);
        const { deploy, key } = await deps.effects.requestReview({
          repository,
          environment,
          callbackUrl,
          sha,
          ref: str(p.deployment?.ref) || str(p.ref),
          deployment,
          installationId,
          event: str(p.event),
          sender,
        });
        await deps.store.appendAudit(deps.now(), `github:${sender || 'unknown'}`, 'github-review-requested', deploy, {
          repository,
          environment,
          sha,
          deployment,
          delivery: str(req.headers['x-github-delivery']),
        });
        return reply.status(202).send({
          deploy,
          effect: key,
          answer: deploy
            ? `answered when deploy ${deploy}'s gate says proceed or halt`
            : `no deploy of ${repository} at ${sha.slice(0, 12)} is registered yet: matched when one is`,
        });
      });
    });
}
