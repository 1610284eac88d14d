// The HTTP API's schemas (TypeBox): one source for request validation, the handlers' types and the
// OpenAPI document at /docs. The deploy body is the model's own schema (src/model/deploy.ts).
import { Type } from '@sinclair/typebox';
import { STATUSES } from '../policy/lifecycle.js';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable, machine-readable: BAD_REQUEST, NOT_FOUND, FORBIDDEN_ROLE, ...' }),
      message: Type.String({ description: 'for a human; names the field' }),
      field: Type.Optional(Type.String({ description: 'the offending field, dotted path: stages.0.weight' })),
      problems: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    }),
  },
  { $id: 'ErrorBody' },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const Status = Type.Union(
  STATUSES.map((s) => Type.Literal(s)),
  { description: 'pending_approval | watching | awaiting_approval | passed | halted | rolled_back | ended' },
);

export const ListQuery = Type.Object(
  {
    status: Type.Optional(Status),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
  },
  { additionalProperties: false },
);

export const StageBody = Type.Object(
  {
    weight: Type.Number({ minimum: 0, maximum: 1, description: 'the canary share of traffic now' }),
    at: Type.Optional(Type.String({ format: 'date-time', description: 'when it moved (default: now)' })),
  },
  { additionalProperties: false },
);

export const ApprovalBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);

export const OverrideBody = Type.Object(
  {
    action: Type.Union([Type.Literal('proceed'), Type.Literal('halt')], {
      description: 'proceed: start a held deploy or promote it (admin); halt: stop it (approver or admin)',
    }),
    reason: Type.String({ minLength: 3, maxLength: 2000, description: 'why: recorded in the audit log' }),
  },
  { additionalProperties: false },
);

export const GateBody = Type.Object({
  decision: Type.Union([Type.Literal('proceed'), Type.Literal('wait'), Type.Literal('halt')]),
  status: Status,
  reason: Type.String(),
});

export const AuditQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'entries after this sequence number' })),
    deploy: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 })),
  },
  { additionalProperties: false },
);

/** The deploy as the API shows it (deploys/view.ts); open-ended so new fields reach clients. */
export const DeployViewBody = Type.Object(
  {
    id: Type.String(),
    service: Type.String(),
    version: Type.String(),
    status: Status,
    reason: Type.String(),
    blind: Type.Boolean(),
    blindSince: Type.Union([Type.String(), Type.Null()]),
    verdicts: Type.Array(Type.Unknown(), { description: 'per signal: status, decidedAt, evidence' }),
  },
  { additionalProperties: true },
);
