// Approval requests in Slack: when a deploy waits for people (judged good and awaiting approvals, or a
// plan held before it starts), each Slack route of its service gets one message with Approve and
// Acknowledge buttons (paging/providers.ts renders them; http/slack.ts handles the clicks). Only Slack
// routes: an approval is not an incident, so PagerDuty and Opsgenie are not woken for it. The message goes
// through the durable outbox like every page, keyed per deploy and phase, so it is sent once.
import type { Config } from '../config/schema.js';
import type { DecisionEvent } from '../deploys/service.js';
import type { Deploy } from '../model/deploy.js';
import { describeChange, type Page } from '../paging/page.js';
import { slack } from '../paging/providers.js';
import type { Store } from '../store/types.js';

export function slackApprovalRequests(d: {
  config: Config;
  store: Pick<Store, 'enqueue' | 'getDeploy'>;
  now: () => number;
}) {
  const request = async (deploy: Deploy, phase: 'start' | 'promote', reason: string) => {
    const svc = d.config.services[deploy.service];
    if (!svc) return;
    const base = d.config.server.publicUrl ?? `http://${d.config.server.listen}`;
    const page: Page = {
      key: `navigator/${deploy.service}/${deploy.id}/approval-${phase}`,
      action: 'trigger',
      severity: 'info',
      service: deploy.service,
      signal: null,
      summary:
        `${deploy.service}: deploy ${deploy.id} (${describeChange(deploy.change)}) waits for approval: ${reason}`.slice(
          0,
          1000,
        ),
      details: { waiting_for: phase === 'start' ? 'approval to start the plan' : 'approval to promote' },
      links: [
        { href: `${base}/ui/deploys/${encodeURIComponent(deploy.id)}`, text: 'Deploy in Navigator' },
        ...(deploy.change?.url ? [{ href: deploy.change.url, text: `Change ${deploy.change.id}` }] : []),
      ],
      deploy: {
        id: deploy.id,
        service: deploy.service,
        version: deploy.version,
        baselineVersion: deploy.baselineVersion,
        strategy: deploy.strategy,
      },
      change: deploy.change,
      evidence: null,
      done: [phase === 'start' ? 'held before it starts' : 'gate waits for approvals'],
      at: d.now(),
      actions: ['approve', 'acknowledge'],
    };
    for (const route of svc.page) {
      const cfg = d.config.paging.routes[route]?.slack;
      if (!cfg) continue;
      const req = slack(cfg, page);
      await d.store.enqueue(
        `page:${route}:slack:${page.key}:trigger`,
        'page:slack:approval',
        deploy.id,
        { type: 'request', request: req },
        d.now(),
      );
    }
  };
  return {
    async decisionInTransaction(e: DecisionEvent): Promise<void> {
      if (e.status === 'awaiting_approval') await request(e.deploy, 'promote', e.reason);
    },
    async registered(deploy: Deploy): Promise<void> {
      const row = await d.store.getDeploy(deploy.id);
      if (row?.status === 'pending_approval' && row.hold === 'plan') await request(deploy, 'start', row.reason);
    },
  };
}
