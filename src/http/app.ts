// The HTTP API (contracts §5) as a fastify app. Schemas are TypeBox (src/http/schemas.ts and the model's
// DeployInput), so validation, types and the OpenAPI document at /docs come from one source. Every error
// is JSON `{ error: { code, message, field? } }` naming the field; bad input is a 4xx, never a 5xx; 5xx
// messages are hidden and logged.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ErrorObject } from 'ajv';
import { DeployInput } from '../model/deploy.js';
import { newAjv, problemsOf } from '../model/validate.js';
import { faultCode } from '../store/faults.js';
import { AppError } from '../deploys/errors.js';
import type { DeployService } from '../deploys/service.js';
import type { Store } from '../store/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Actor } from '../deploys/service.js';
import type { Role } from '../policy/approvals.js';
import { moveQueryToken, type Auth } from './auth.js';
import { RateLimiter } from './rate-limit.js';
import { verifyAuditChain } from '../audit/verify.js';
import {
  ApprovalBody,
  AuditQuery,
  DeployViewBody,
  ErrorBody,
  GateBody,
  IdParams,
  ListQuery,
  OverrideBody,
  StageBody,
} from './schemas.js';

export { ErrorBody } from './schemas.js';

export interface HttpDeps {
  service: DeployService;
  store: Pick<Store, 'audit'> & Partial<Pick<Store, 'health' | 'probe'>>;
  auth: Auth;
  metrics: Metrics;
  ready: () => boolean;
  logger?: boolean | object;
  /** pipeline tokens' writes per second and burst (config auth.pipelineWrites) */
  pipelineWrites?: { perSecond: number; burst: number };
  /** incremental verification of the audit log (audit/verifier.ts); default: the whole chain per request */
  audit?: { check(): Promise<unknown> };
  /** where every 5xx is logged, with its request id */
  log?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  extraRoutes?: (app: FastifyInstance) => void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** the authenticated caller of a /v1 route (set before the body is parsed or validated) */
    actor: Actor | null;
    /** why this request answered 5xx, for the one log line per 5xx */
    failure: { code: string; message: string; stack?: string } | null;
  }
  interface FastifyContextConfig {
    /** roles allowed on this route, checked with authentication, before validation (admin always may) */
    roles?: Role[];
  }
}

// Fastify's own 4xx (the body could not be read) in the documented shape, with stable codes.
const FASTIFY_4XX: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'BAD_REQUEST' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'BAD_REQUEST' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
};
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };
const security = [{ bearer: [] }];

/** A request validation failure as one JSON error naming the field (through the model's problemsOf). */
function validationError(err: FastifyError) {
  const problems = problemsOf(err.validation as ErrorObject[]).map((p) => ({
    field: p.path || err.validationContext || 'body',
    message: p.message,
  }));
  const first = problems[0] ?? { field: err.validationContext ?? 'body', message: 'is invalid' };
  return {
    error: { code: 'BAD_REQUEST', message: `${first.field}: ${first.message}`, field: first.field, problems },
  };
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: 1 << 20,
    // A caller's X-Request-Id is kept when it is short and plain; otherwise a fresh one. Every answer
    // carries it back, and every 5xx is logged with it.
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    rewriteUrl: moveQueryToken, // ?token= on integration routes (contracts §7), out of the URL before logs
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Bodies: no coercion (a string is not a number), no silent removal of unknown fields (they are errors),
  // the first error only (allErrors on untrusted input lets a big body cost a lot of validation).
  // Query strings and path parameters are text by nature: coerced to the schema's types (`?limit=10`).
  const strict = newAjv({
    removeAdditional: false,
    coerceTypes: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  const coercing = newAjv({
    removeAdditional: false,
    coerceTypes: 'array',
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const a = httpPart === 'querystring' || httpPart === 'params' || httpPart === 'headers' ? coercing : strict;
    for (const [id, shared] of Object.entries(app.getSchemas()))
      if (!a.getSchema(id)) a.addSchema(shared as object, id);
    return a.compile(schema as object);
  });
  app.decorateRequest('actor', null);
  app.decorateRequest('failure', null);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Navigator',
        description:
          'A deploy guard: register deploys, block on the gate. Every error is `{ error: { code, message, field? } }`.',
        version: '0.1.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.addSchema(ErrorBody);

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof AppError) {
      if (err.statusCode >= 500) req.failure = { code: err.code, message: err.message, stack: err.stack };
      return reply
        .status(err.statusCode)
        .send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
    const fault = faultCode(err);
    if (fault) {
      // The store cannot write (full disk, read-only, corrupt): refuse clearly; nothing was half-written.
      req.failure = { code: fault, message: err.message };
      return reply
        .status(503)
        .header('Retry-After', '15')
        .send({
          error: {
            code: 'STORE_UNAVAILABLE',
            message: `the store cannot write now (${fault}); nothing was recorded, retry later`,
            requestId: req.id,
          },
        });
    }
    if (err.validation) return reply.status(400).send(validationError(err));
    if (err.statusCode && err.statusCode < 500) {
      // Fastify's own 4xx: unparsable JSON, an unsupported content type, a body too large.
      const known = FASTIFY_4XX[err.code];
      const status = known?.status ?? err.statusCode;
      const code = known?.code ?? (status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST');
      return reply.status(status).send({ error: { code, message: `body: ${err.message}`, field: 'body' } });
    }
    req.failure = { code: err.code ?? 'INTERNAL', message: err.message, stack: err.stack };
    return reply
      .status(500)
      .send({ error: { code: 'INTERNAL', message: 'internal error; see the server log', requestId: req.id } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } }),
  );

  // Authentication (and the route's roles) before the body is read or validated: an unauthenticated
  // caller learns nothing about fields. (An integration route's `?token=` is already in the header:
  // moveQueryToken.)
  const writes = new RateLimiter(deps.pipelineWrites?.perSecond ?? 20, deps.pipelineWrites?.burst ?? 300);
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/v1/') && req.url !== '/v1') return;
    if (req.url.startsWith('/v1/slack/')) return; // Slack signs its requests; its route checks the signature
    if (req.url.startsWith('/v1/github/')) return; // so does GitHub (X-Hub-Signature-256): http/github.ts
    req.actor = deps.auth.actor(req.headers.authorization);
    const roles = req.routeOptions.config?.roles;
    if (roles) deps.auth.require(req.actor, ...roles);
    if (req.actor.role === 'pipeline' && req.method !== 'GET' && req.method !== 'HEAD') {
      const wait = writes.take(req.actor.name);
      if (wait > 0) {
        reply.header('Retry-After', String(Math.ceil(wait)));
        throw new AppError(
          429,
          'RATE_LIMITED',
          `the ${req.actor.name} token writes faster than auth.pipelineWrites allows; retry in ${Math.ceil(wait)} s`,
        );
      }
    }
  });
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    // The route template, never the URL: deploy ids must not become label values.
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) {
      // One line per 5xx, with the request id the caller got back (never the query: it may hold a token).
      const f = req.failure;
      deps.log?.error(
        {
          reqId: req.id,
          method: req.method,
          route,
          status: reply.statusCode,
          code: f?.code ?? null,
          err: f?.message ?? null,
          ...(f?.stack ? { stack: f.stack } : {}),
        },
        `${req.method} ${route} answered ${reply.statusCode}${f ? `: ${f.message}` : ''}`,
      );
    }
  });

  const { service, auth } = deps;
  const actor = (req: FastifyRequest) => req.actor ?? auth.actor(req.headers.authorization);

  app.post(
    '/v1/deploys',
    {
      config: { roles: ['pipeline'] },
      schema: {
        summary: 'Register a deploy (idempotent on id)',
        description: '201 with the new deploy; 200 with the first registration when the id was registered before.',
        body: DeployInput,
        response: { 200: DeployViewBody, 201: DeployViewBody, ...errors },
        security,
      },
    },
    async (req, reply) => {
      const a = actor(req);
      auth.require(a, 'pipeline');
      const r = await service.register(req.body, a);
      return reply.status(r.created ? 201 : 200).send(r.view);
    },
  );
  app.get(
    '/v1/deploys',
    { schema: { summary: 'List deploys, newest first', querystring: ListQuery, security } },
    async (req) => {
      actor(req);
      return { deploys: await service.list(req.query.status, req.query.limit) };
    },
  );
  app.get(
    '/v1/deploys/:id',
    {
      schema: {
        summary: 'A deploy: status, reason, verdicts per signal with evidence, approvals, effects',
        params: IdParams,
        response: { 200: DeployViewBody, ...errors },
        security,
      },
    },
    async (req) => {
      actor(req);
      return service.view(req.params.id);
    },
  );
  app.post(
    '/v1/deploys/:id/stages',
    {
      config: { roles: ['pipeline'] },
      schema: {
        summary: 'The pipeline moved traffic',
        params: IdParams,
        body: StageBody,
        response: { 200: DeployViewBody, ...errors },
        security,
      },
    },
    async (req) => {
      const a = actor(req);
      auth.require(a, 'pipeline');
      return service.addStage(req.params.id, req.body.weight, a, req.body.at);
    },
  );
  app.get(
    '/v1/deploys/:id/gate',
    {
      config: { roles: ['pipeline', 'approver'] },
      schema: {
        summary: 'May the pipeline advance now?',
        description: '200 proceed; 423 wait (with Retry-After); 409 halt. Each with a reason a human can read.',
        params: IdParams,
        response: { 200: GateBody, 409: GateBody, 423: GateBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
        security,
      },
    },
    async (req, reply) => {
      const a = actor(req);
      auth.require(a, 'pipeline', 'approver');
      const g = await service.gate(req.params.id);
      if (g.retryAfter) reply.header('Retry-After', String(g.retryAfter));
      return reply.status(g.httpStatus).send({ decision: g.decision, status: g.status, reason: g.reason });
    },
  );
  app.post(
    '/v1/deploys/:id/approvals',
    {
      schema: {
        summary: "Approve (the caller's token names the approver)",
        description:
          'Starts a deploy held in pending_approval for its plan, or counts toward its promotion. Refused (403) for the change author or a pipeline token, (409) for a repeated approver.',
        params: IdParams,
        body: ApprovalBody,
        response: { 201: DeployViewBody, ...errors },
        security,
      },
    },
    async (req, reply) => reply.status(201).send(await service.approve(req.params.id, actor(req), req.body.comment)),
  );
  app.post(
    '/v1/deploys/:id/overrides',
    {
      schema: {
        summary: 'Force proceed (admin: breaks the glass of a freeze) or force halt (approver, admin)',
        params: IdParams,
        body: OverrideBody,
        response: { 200: DeployViewBody, ...errors },
        security,
      },
    },
    async (req) => service.override(req.params.id, actor(req), req.body.action, req.body.reason),
  );
  app.post(
    '/v1/deploys/:id/end',
    {
      config: { roles: ['pipeline'] },
      schema: {
        summary: 'The pipeline is done with this deploy',
        params: IdParams,
        response: { 200: DeployViewBody, ...errors },
        security,
      },
    },
    async (req) => {
      const a = actor(req);
      auth.require(a, 'pipeline');
      return service.end(req.params.id, a);
    },
  );
  app.get(
    '/v1/audit',
    {
      config: { roles: ['approver'] },
      schema: {
        summary: 'The audit log (hash-chained), with the result of checking the chain',
        querystring: AuditQuery,
        security,
      },
    },
    async (req) => {
      const a = actor(req);
      auth.require(a, 'approver');
      // A page after the cursor (`?after=` the last seq seen), at the cost of the page; the chain check is
      // incremental (what was appended since the last check), never the whole log per request.
      const limit = req.query.limit ?? 1000;
      const rows = await deps.store.audit(req.query.after ?? 0, limit, req.query.deploy);
      const last = rows.at(-1);
      return {
        entries: rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown })),
        next: rows.length === limit && last ? last.seq : null,
        chain: deps.audit ? await deps.audit.check() : verifyAuditChain(await deps.store.audit(0, 10_000_000)),
      };
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  app.get('/healthz', { schema: { summary: 'The process is up' } }, async () => ({ ok: true }));
  app.get(
    '/readyz',
    { schema: { summary: 'The store is open and can write, and the watch loop runs' } },
    async (_req, reply) => {
      if (deps.store.health && !deps.store.health().writable) await deps.store.probe?.();
      const store = deps.store.health?.() ?? { writable: true, error: null, since: null };
      const ready = deps.ready() && store.writable;
      if (ready) return { ready };
      const body = {
        ready,
        store: {
          writable: store.writable,
          error: store.error,
          since: store.since === null ? null : new Date(store.since * 1000).toISOString(),
        },
      };
      return reply.status(503).send(body);
    },
  );
  deps.extraRoutes?.(app);
  return app;
}
