// Pipeline and alerting integrations (shared/reference/integrations.md):
// - Flagger webhooks: src/http/flagger.ts (each revision its own deploy; answers per hook type).
// - Argo Rollouts web metric provider: GET returns the gate decision as JSON, always 200 (a non-2xx is an
//   Error measurement in Argo), for jsonPath `{$.decision}` (README template; test/argo.test.ts).
// - Alertmanager webhook (version 4): each firing alert is attributed to recent changes and paged; a resolved
//   one resolves those pages; Navigator's own alerts coming back are ignored.
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ATTRIBUTION_WINDOW, attributionSettings, recentCandidates } from '../attribution/candidates.js';
import { rankCandidates } from '../attribution/rank.js';
import type { Config } from '../config/schema.js';
import type { DeployService } from '../deploys/service.js';
import { notFound } from '../deploys/errors.js';
import type { Deploy } from '../model/deploy.js';
import type { Store } from '../store/types.js';
import type { Auth } from './auth.js';
import type { Effects } from '../actions/effects.js';
import { flaggerRoutes } from './flagger.js';

const AlertmanagerPayload = Type.Object(
  {
    version: Type.String(),
    status: Type.String(),
    receiver: Type.Optional(Type.String()),
    alerts: Type.Array(
      Type.Object(
        {
          status: Type.String(),
          labels: Type.Record(Type.String(), Type.String()),
          annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
          startsAt: Type.String(),
          endsAt: Type.Optional(Type.String()),
          fingerprint: Type.Optional(Type.String()),
          generatorURL: Type.Optional(Type.String()),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);

export function integrationRoutes(deps: {
  config: Config;
  service: DeployService;
  store: Store;
  auth: Auth;
  effects: Effects;
  now: () => number;
}) {
  const { service, auth } = deps;
  return (app: FastifyInstance) => {
    flaggerRoutes(deps)(app);

    app.post(
      '/v1/deploys/:id/acknowledge',
      {
        schema: {
          summary: "A human acknowledges the deploy's page: it is resolved at every provider now",
          params: Type.Object({ id: Type.String({ minLength: 1 }) }),
          body: Type.Optional(
            Type.Object({ comment: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
          ),
        },
      },
      async (req) => {
        const a = auth.actor(req.headers.authorization);
        auth.require(a, 'approver');
        const id = (req.params as { id: string }).id;
        const row = await deps.store.getDeploy(id);
        if (!row) throw notFound(`deploy ${id}`);
        const comment = (req.body as { comment?: string } | undefined)?.comment ?? '';
        const queued = await deps.effects.acknowledge(JSON.parse(row.deploy) as Deploy, a.name, comment);
        await deps.store.appendAudit(deps.now(), a.name, 'acknowledge', id, { comment, resolves: queued });
        return { deploy: id, acknowledgedBy: a.name, resolves: queued };
      },
    );

    app.get('/v1/integrations/argo/:id', { schema: { params: Type.Object({ id: Type.String() }) } }, async (req) => {
      auth.require(auth.actor(req.headers.authorization), 'pipeline');
      const g = await service.gate((req.params as { id: string }).id);
      return {
        decision: g.decision,
        status: g.status,
        reason: g.reason,
        proceed: g.decision === 'proceed',
        halt: g.decision === 'halt',
      };
    });

    app.post('/v1/integrations/alertmanager', { schema: { body: AlertmanagerPayload } }, async (req) => {
      auth.require(auth.actor(req.headers.authorization), 'pipeline');
      const body = req.body as {
        alerts: {
          status: string;
          labels: Record<string, string>;
          annotations?: Record<string, string>;
          startsAt: string;
          fingerprint?: string;
        }[];
      };
      const now = deps.now();
      const { candidates, byId } = await recentCandidates(deps.store, now, ATTRIBUTION_WINDOW);
      const results = [];
      const resolved = [];
      let own = 0;
      for (const a of body.alerts) {
        // Navigator's own alerts come back through this receiver when Alertmanager routes them here: never
        // page them again (Navigator resolves them itself).
        if (isNavigatorAlert(a.labels)) {
          own++;
          continue;
        }
        const identity = a.fingerprint ?? JSON.stringify(a.labels);
        if (a.status === 'resolved') {
          // Alertmanager sends resolved notifications (send_resolved): the pages raised for the alert resolve too.
          const deploys = await deps.effects.resolveAlert(
            identity,
            `alert ${a.labels.alertname ?? 'alert'} resolved in Alertmanager`,
          );
          if (deploys.length > 0)
            await deps.store.appendAudit(now, 'alertmanager', 'alert-resolved', deploys[0] ?? null, {
              alert: a.labels,
              deploys,
            });
          resolved.push({ alert: a.labels.alertname ?? null, resolves: deploys });
          continue;
        }
        if (a.status !== 'firing') continue;
        const svc = a.labels.service ?? a.labels.job ?? '';
        const onset = Date.parse(a.startsAt) / 1000 || now;
        const ranked = rankCandidates(
          { service: svc, onset, detectedAt: now },
          candidates,
          attributionSettings(deps.config, 60),
        );
        const top = byId.get(ranked[0]?.id ?? '');
        if (top)
          await deps.effects.pageAlert(
            top,
            a.labels.alertname ?? 'alert',
            a.annotations?.summary ?? a.labels.alertname ?? 'firing alert',
            ranked.map((r) => r.id),
            identity,
          );
        await deps.store.appendAudit(now, 'alertmanager', 'attribute', top?.id ?? null, {
          alert: a.labels,
          candidates: ranked,
        });
        results.push({
          alert: a.labels.alertname ?? null,
          service: svc,
          attributedTo: ranked[0]?.id ?? null,
          candidates: ranked,
        });
      }
      return { attributed: results, resolved, ignoredOwn: own };
    });
  };
}

/** An alert Navigator raised itself (paging/providers.ts alertmanager: its alertname and incident labels). */
function isNavigatorAlert(labels: Record<string, string>): boolean {
  return labels.alertname === 'NavigatorRegression' && (labels.incident ?? '').startsWith('navigator/');
}
