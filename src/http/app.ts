// The HTTP API (contracts §5) as a fastify app. Schemas are TypeBox (src/http/schemas.ts and the model's
// DeployInput), so validation, types and the OpenAPI document at /docs come from one source. Every error
// is JSON `{ error: { code, message, field? } }` naming the field; bad input is a 4xx, never a 5xx; 5xx
// messages are hidden and logged.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ErrorObject } from 'ajv';
import { DeployInput } from '../model/deploy.js';
import { problemsOf } from '../model/validate.js';
import { AppError } from '../deploys/errors.js';
import type { DeployService } from '../deploys/service.js';
import type { Store } from '../store/types.js';
import type { Metrics } from '../telemetry/metrics.js';
import { moveQueryToken, type Auth } from './auth.js';
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
  store: Pick<Store, 'audit'>;
  auth: Auth;
  metrics: Metrics;
  ready: () => boolean;
  logger?: boolean | object;
  extraRoutes?: (app: FastifyInstance) => void;
}

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
    // No coercion (a string is not a number), no silent removal of unknown fields (they are errors), and
    // the first error only: allErrors on untrusted input lets a big body cost a lot of validation.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    bodyLimit: 1 << 20,
    rewriteUrl: moveQueryToken, // ?token= on integration routes (contracts §7), out of the URL before logs
  }).withTypeProvider<TypeBoxTypeProvider>();

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
      return reply
        .status(err.statusCode)
        .send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
    if (err.validation) return reply.status(400).send(validationError(err));
    if (err.statusCode && err.statusCode < 500) {
      // Fastify's own 4xx: unparsable JSON, an unsupported content type, a body too large.
      return reply
        .status(err.statusCode)
        .send({ error: { code: err.code ?? 'BAD_REQUEST', message: `body: ${err.message}`, field: 'body' } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } }),
  );

  app.addHook('onResponse', async (req, reply) => {
    // The route template, never the URL: deploy ids must not become label values.
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });

  const { service, auth } = deps;
  const actor = (req: { headers: { authorization?: string } }) => auth.actor(req.headers.authorization);

  app.post(
    '/v1/deploys',
    {
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
      const r = service.register(req.body, a);
      return reply.status(r.created ? 201 : 200).send(r.view);
    },
  );
  app.get(
    '/v1/deploys',
    { schema: { summary: 'List deploys, newest first', querystring: ListQuery, security } },
    async (req) => {
      actor(req);
      return { deploys: service.list(req.query.status, req.query.limit) };
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
      const g = service.gate(req.params.id);
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
    async (req, reply) => reply.status(201).send(service.approve(req.params.id, actor(req), req.body.comment)),
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
      schema: {
        summary: 'The audit log (hash-chained), with the result of checking the chain',
        querystring: AuditQuery,
        security,
      },
    },
    async (req) => {
      const a = actor(req);
      auth.require(a, 'approver');
      const rows = deps.store.audit(req.query.after ?? 0, req.query.limit ?? 1000, req.query.deploy);
      return {
        entries: rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown })),
        chain: verifyAuditChain(deps.store.audit(0, 10_000_000)),
      };
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  app.get('/healthz', { schema: { summary: 'The process is up' } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { summary: 'The store is open and the watch loop runs' } }, async (_req, reply) =>
    deps.ready() ? { ready: true } : reply.status(503).send({ ready: false }),
  );
  deps.extraRoutes?.(app);
  return app;
}
