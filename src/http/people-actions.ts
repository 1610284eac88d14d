// What a person does to a deploy from the page, Slack or the CLI, in one place so every door applies the
// same rules (the deploy service's two-person rule, roles) and writes the same audit entries.
import type { Effects } from '../actions/effects.js';
import { notFound } from '../deploys/errors.js';
import type { Actor, DeployService } from '../deploys/service.js';
import type { Deploy } from '../model/deploy.js';
import type { Store } from '../store/types.js';
import type { Auth } from './auth.js';

export interface PeopleDeps {
  service: DeployService;
  store: Pick<Store, 'getDeploy' | 'appendAudit'>;
  effects: Pick<Effects, 'acknowledge'>;
  auth: Auth;
  now: () => number;
}

/** Resolves the deploy's page at every provider and records who acknowledged it. Approvers and admins. */
export async function acknowledgeDeploy(d: PeopleDeps, id: string, actor: Actor, comment: string) {
  d.auth.require(actor, 'approver');
  const row = await d.store.getDeploy(id);
  if (!row) throw notFound(`deploy ${id}`);
  const resolves = await d.effects.acknowledge(JSON.parse(row.deploy) as Deploy, actor.name, comment);
  await d.store.appendAudit(d.now(), actor.name, 'acknowledge', id, { comment, resolves });
  return { deploy: id, acknowledgedBy: actor.name, resolves };
}
