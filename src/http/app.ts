// The HTTP API (contracts §5) as a fastify app. Schemas are the TypeBox ones the domain validates with,
// so validation, types and the OpenAPI document at /docs come from one source. Every error is JSON with a
// code and a message naming the field; 5xx messages are hidden.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DeployInput } from '../model/deploy.js';
import { AppError } from '../deploys/errors.js';
import type { DeployService } from '../deploys/service.js';
import type { Store } from '../store/sqlite.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Auth } from './auth.js';
import { verifyAuditChain } from '../audit/verify.js';

export interface HttpDeps {
  service: DeployService;
  store: Store;
  auth: Auth;
  metrics: Metrics;
  ready: () => boolean;
  logger?: boolean | object;
  extraRoutes?: (app: FastifyInstance) => void;
}

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), field: Type.Optional(Type.String()) }),
});
const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

function fieldOf(e: FastifyError): string | undefined {
  const v = e.validation?.[0];
  if (!v) return undefined;
  const base = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const params = v.params as Record<string, unknown>;
  const extra = (params.additionalProperty ?? params.missingProperty) as string | undefined;
  return [base, extra].filter(Boolean).join('.') || undefined;
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    bodyLimit: 1 << 20,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Navigator',
        description: 'A deploy guard: register deploys, block on the gate',
        version: '0.1.0',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof AppError) {
      return reply
        .status(err.statusCode)
        .send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
    if (err.validation) {
      const field = fieldOf(err) ?? err.validationContext ?? 'body';
      const message = `${field}: ${err.validation[0]?.message ?? 'is invalid'}`;
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message, field } });
    }
    if (err.statusCode && err.statusCode < 500) {
      return reply
        .status(err.statusCode)
        .send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message, field: 'body' } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } }),
  );

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, method: req.method, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ route, method: req.method }, reply.elapsedTime / 1000);
  });

  const { service, auth } = deps;
  const actor = (req: { headers: { authorization?: string } }) => auth.actor(req.headers.authorization);

  app.post('/v1/deploys', { schema: { body: DeployInput } }, async (req, reply) => {
    const a = actor(req);
    auth.require(a, 'pipeline');
    const r = service.register(req.body, a);
    return reply.status(r.created ? 201 : 200).send(r.view);
  });
  app.get(
    '/v1/deploys',
    { schema: { querystring: Type.Object({ status: Type.Optional(Type.String()) }, { additionalProperties: false }) } },
    async (req) => {
      actor(req);
      return { deploys: service.list(req.query.status) };
    },
  );
  app.get('/v1/deploys/:id', { schema: { params: Id } }, async (req) => {
    actor(req);
    return service.view(req.params.id);
  });
  app.post(
    '/v1/deploys/:id/stages',
    {
      schema: {
        params: Id,
        body: Type.Object(
          { weight: Type.Number({ minimum: 0, maximum: 1 }), at: Type.Optional(Type.String({ format: 'date-time' })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const a = actor(req);
      auth.require(a, 'pipeline');
      return service.addStage(req.params.id, req.body.weight, a, req.body.at);
    },
  );
  app.get('/v1/deploys/:id/gate', { schema: { params: Id } }, async (req, reply) => {
    const a = actor(req);
    auth.require(a, 'pipeline', 'approver');
    const g = service.gate(req.params.id);
    if (g.retryAfter) reply.header('Retry-After', String(g.retryAfter));
    return reply.status(g.httpStatus).send({ decision: g.decision, status: g.status, reason: g.reason });
  });
  app.post(
    '/v1/deploys/:id/approvals',
    {
      schema: {
        params: Id,
        body: Type.Object(
          { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
      },
    },
    async (req, reply) => {
      const a = actor(req);
      return reply.status(201).send(service.approve(req.params.id, a, req.body.comment));
    },
  );
  app.post(
    '/v1/deploys/:id/overrides',
    {
      schema: {
        params: Id,
        body: Type.Object(
          {
            action: Type.Union([Type.Literal('proceed'), Type.Literal('halt')]),
            reason: Type.String({ minLength: 3, maxLength: 2000 }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => service.override(req.params.id, actor(req), req.body.action, req.body.reason),
  );
  app.post('/v1/deploys/:id/end', { schema: { params: Id } }, async (req) => {
    const a = actor(req);
    auth.require(a, 'pipeline');
    return service.end(req.params.id, a);
  });
  app.get(
    '/v1/audit',
    {
      schema: {
        querystring: Type.Object(
          { after: Type.Optional(Type.Integer({ minimum: 0 })), deploy: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
      },
    },
    async (req) => {
      const a = actor(req);
      auth.require(a, 'approver');
      const rows = deps.store.audit(req.query.after ?? 0, 1000, req.query.deploy);
      return {
        entries: rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as unknown })),
        chain: verifyAuditChain(deps.store.audit(0, 1_000_000)),
      };
    },
  );
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) =>
    deps.ready() ? { ready: true } : reply.status(503).send({ ready: false }),
  );
  deps.extraRoutes?.(app);
  return app;
}
