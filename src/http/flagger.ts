// Flagger webhooks (POST /v1/integrations/flagger/{hook}). A Flagger user configures only the Canary's
// webhooks (and ?token=, since Flagger cannot send headers): each revision, named by the payload's
// `checksum`, is its own Navigator deploy, registered from the first hook sent during its analysis when
// no pipeline registered it, judged on its own data only, and closed by Flagger's final phase.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Effects } from '../actions/effects.js';
import type { Config } from '../config/schema.js';
import { badRequest, notFound } from '../deploys/errors.js';
import type { Actor, DeployService } from '../deploys/service.js';
import type { Deploy } from '../model/deploy.js';
import {
  FINAL_PHASES,
  FLAGGER_HOOKS,
  carriesRevisionUnderAnalysis,
  flaggerAnswer,
  type FlaggerHook,
} from '../policy/flagger.js';
import { activeFreeze } from '../policy/freeze.js';
import type { DeployStatus } from '../policy/lifecycle.js';
import type { Store } from '../store/types.js';
import type { Auth } from './auth.js';

/** CanaryWebhookPayload (pkg/apis/flagger/v1beta1/canary.go); event hooks add eventMessage/eventType/timestamp. */
const FlaggerPayload = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    namespace: Type.String({ minLength: 1 }),
    phase: Type.Optional(Type.String()),
    checksum: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: true },
);
type FlaggerPayload = {
  name: string;
  namespace: string;
  phase?: string;
  checksum?: string;
  metadata?: Record<string, string>;
};

const OPEN: ReadonlySet<DeployStatus> = new Set(['pending_approval', 'watching', 'awaiting_approval']);

/** The deploy id of one revision of a canary: stable, so every hook of that revision finds it. */
export const flaggerDeployId = (namespace: string, name: string, revision: string) =>
  `flagger:${namespace}:${name}:${revision}`;

export function flaggerRoutes(deps: {
  config: Config;
  service: DeployService;
  auth: Auth;
  store: Pick<Store, 'getDeploy'>;
  effects: Effects;
  now: () => number;
}) {
  const { service, auth } = deps;
  const statusOf = async (id: string): Promise<DeployStatus | null> => {
    try {
      return (await service.view(id)).status;
    } catch {
      return null;
    }
  };

  /** This revision's deploy: the pipeline's (metadata.deploy), else the checksum's, registered on first sight. */
  const revisionDeploy = async (
    hook: FlaggerHook,
    p: FlaggerPayload,
    actor: Actor,
  ): Promise<{ id: string | null; service: string }> => {
    const md = p.metadata ?? {};
    const svc = md.service ?? p.name;
    if (md.deploy) {
      if ((await statusOf(md.deploy)) === null && hook !== 'event' && hook !== 'post-rollout')
        throw notFound(`deploy ${md.deploy} (metadata.deploy); register it first, or leave metadata.deploy out`);
      return { id: md.deploy, service: svc };
    }
    const revision = md.revision ?? p.checksum;
    if (!revision)
      throw badRequest(
        'checksum',
        'missing: Flagger sends the revision checksum; or set metadata.revision on the webhook',
      );
    const id = flaggerDeployId(p.namespace, p.name, revision);
    if ((await statusOf(id)) !== null) return { id, service: svc };
    if (!carriesRevisionUnderAnalysis(hook, p.phase ?? '')) return { id: null, service: svc };
    if (!deps.config.services[svc])
      throw badRequest(
        'metadata.service',
        `"${svc}" is not a configured service (${Object.keys(deps.config.services).join(', ')}): set metadata.service on the webhook`,
      );
    await service.register(
      {
        id,
        service: svc,
        // Flagger's canary Deployment keeps the target's name; its primary is "<name>-primary": the values
        // the cohort label takes on each side unless the webhook's metadata says otherwise.
        version: md.version ?? p.name,
        baselineVersion: md.baselineVersion ?? `${p.name}-primary`,
        strategy: 'canary',
        change: {
          id: revision,
          title: md.title ?? `Flagger canary ${p.namespace}/${p.name}, revision ${revision}`,
          author: md.author ?? '',
        },
      },
      actor,
    );
    // A revision replaced during its analysis ("New revision detected! Restarting analysis"): the one
    // before it is done, whatever it was heading for.
    const prefix = flaggerDeployId(p.namespace, p.name, '');
    for (const d of await service.list())
      if (d.id !== id && d.id.startsWith(prefix) && OPEN.has(d.status)) await service.end(d.id, actor);
    return { id, service: svc };
  };

  /** Flagger is done with the revision: promoted (Succeeded) or rolled back (Failed). */
  const close = async (id: string, phase: string, actor: Actor): Promise<void> => {
    const status = await statusOf(id);
    if (phase === 'Failed' && status === 'halted') {
      await service.markRolledBack(id, 'rolled back by Flagger');
      const row = await deps.store.getDeploy(id);
      if (row)
        await deps.effects.onDecision({
          deploy: JSON.parse(row.deploy) as Deploy,
          status: 'rolled_back',
          reason: 'rolled back by Flagger',
          watch: null,
          at: deps.now(),
        });
    } else if (status !== null && OPEN.has(status)) await service.end(id, actor);
  };

  return (app: FastifyInstance) => {
    app.post(
      '/v1/integrations/flagger/:hook',
      {
        schema: {
          params: Type.Object({ hook: Type.Union(FLAGGER_HOOKS.map((h) => Type.Literal(h))) }),
          body: FlaggerPayload,
        },
      },
      async (req, reply) => {
        const actor = auth.actor(req.headers.authorization);
        auth.require(actor, 'pipeline');
        const hook = (req.params as { hook: FlaggerHook }).hook;
        const p = req.body as FlaggerPayload;
        const phase = p.phase ?? '';
        const { id, service: svc } = await revisionDeploy(hook, p, actor);
        if (id && (hook === 'post-rollout' || hook === 'event') && FINAL_PHASES.has(phase))
          await close(id, phase, actor);
        let status = id ? await statusOf(id) : null;
        let reason = id
          ? status
            ? (await service.gate(id)).reason
            : 'not registered'
          : 'no deploy of this revision yet';
        if (hook === 'confirm-rollout' && !p.metadata?.deploy) {
          // Sent before the analysis starts, with the previous revision's checksum: never that revision's
          // verdict. A freeze window holds the rollout; Navigator judges the revision once it progresses.
          status = null;
          const freeze = activeFreeze(deps.config.freezes, svc, deps.now());
          reason = freeze
            ? `held by the freeze window "${freeze.reason}"`
            : 'Navigator judges the revision once it progresses';
          if (freeze) status = 'pending_approval';
        }
        const a = flaggerAnswer(hook, status, reason);
        return reply.status(a.code).send({
          hook,
          deploy: id,
          phase: p.phase ?? null,
          status,
          advance: a.code === 200,
          reason: a.reason,
        });
      },
    );
  };
}
