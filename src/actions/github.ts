// GitHub as a place people already look (README "GitHub"): the deploy's GitHub deployment gets a status
// each time the deploy moves, and a GitHub environment with Navigator's custom deployment protection rule
// waits on Navigator's gate. Both go through the outbox (actions/effects.ts): retried with backoff, never
// blocking a decision, surviving restarts.
//
// - A status says the deploy's state when it is sent, not when it was queued: a status delayed by retries
//   (GitHub answering 5xx) can never overwrite a later one with an older state.
// - A protection rule request waits in the outbox until the gate decides: the decision makes it due at once
//   (Effects.onDecision), and a slow poll is the safety net (another replica decided, a restart). The answer
//   is the gate's: approved once it says proceed, which for a critical service means two approvals from
//   distinct people, neither the change's author (the same rules as the API, the page and Slack).
import { createHash } from 'node:crypto';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { DeployService } from '../deploys/service.js';
import type { DeployView } from '../deploys/view.js';
import type { Deploy } from '../model/deploy.js';
import type { Store } from '../store/types.js';
import { GitHubAuth, GitHubError } from './github-auth.js';

export const DESCRIPTION_MAX = 140;

export type DeploymentState = 'pending' | 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface GitHubStatusEffect {
  type: 'github-status';
  deploy: string;
  repository: string;
}

/** A deployment_protection_rule request, as the webhook said it (http/github.ts). */
export interface ReviewRequest {
  repository: string;
  environment: string;
  callbackUrl: string;
  sha: string;
  ref: string;
  /** the GitHub deployment waiting on the rule */
  deployment: number | null;
  installationId: number | null;
  event: string;
  sender: string;
}

export interface GitHubReviewEffect extends ReviewRequest {
  type: 'github-review';
  /** the Navigator deploy it waits on; null until one matches */
  deploy: string | null;
  receivedAt: number;
}

export type GitHubEffect = GitHubStatusEffect | GitHubReviewEffect;

/** GitHub's description field holds 140 characters: longer sentences are cut with an ellipsis. */
export function clip(s: string, max = DESCRIPTION_MAX): string {
  const chars = Array.from(s.replace(/\s+/g, ' ').trim());
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

/** The sentence that explains a deploy's state: the failing signal's evidence when it failed. */
export function verdictSentence(v: DeployView): string {
  const failing = v.verdicts.find((s) => s.signal === v.failedSignal)?.evidence?.sentence;
  return failing ?? v.reason;
}

/** The deployment status for a deploy's state now (pure). */
export function deploymentState(v: DeployView): { state: DeploymentState; description: string } {
  switch (v.status) {
    case 'pending_approval':
      return { state: 'pending', description: v.reason };
    case 'watching':
      return v.blind
        ? {
            state: 'error',
            description: `Navigator cannot see ${v.service}'s metrics since ${v.blindSince ?? '?'}: not judged`,
          }
        : {
            state: 'in_progress',
            description: `Navigator is watching ${v.service} ${v.version}${v.reason && v.reason !== 'watching' ? `: ${v.reason}` : ''}`,
          };
    case 'awaiting_approval':
      return { state: 'in_progress', description: v.reason };
    case 'passed':
      return { state: 'success', description: v.reason };
    case 'halted':
      return { state: 'failure', description: verdictSentence(v) };
    case 'rolled_back':
      return { state: 'failure', description: `rolled back: ${verdictSentence(v)}` };
    case 'ended':
      return { state: 'inactive', description: v.reason };
  }
}

/** Whether two commit ids name the same commit (a short SHA of 7+ characters matches its full form). */
export function sameCommit(a: string, b: string): boolean {
  const x = a.trim().toLowerCase();
  const y = b.trim().toLowerCase();
  if (!x || !y) return false;
  if (x === y) return true;
  const [short, long] = x.length < y.length ? [x, y] : [y, x];
  return short.length >= 7 && /^[0-9a-f]+$/.test(short) && long.startsWith(short);
}

/** How far back a protection rule request looks for its deploy (newest first). */
const MATCH_SCAN = 1000;

export type ReviewStep =
  | { kind: 'wait'; at: number; why: string }
  | { kind: 'moved'; to: string; why: string }
  | { kind: 'answer'; state: 'approved' | 'rejected'; comment: string };

export class GitHubEffects {
  readonly auth: GitHubAuth;
  /** Navigator deploy id -> GitHub deployment id, for deployments Navigator created (found again after a restart) */
  private readonly created = new Map<string, number>();

  constructor(
    private readonly d: {
      config: Config;
      store: Store;
      service: DeployService;
      now: () => number;
      fetch: typeof fetch;
    },
  ) {
    const cfg = d.config.github as NonNullable<Config['github']>;
    this.auth = new GitHubAuth(cfg, d.fetch, d.now, () => parseDuration(d.config.paging.delivery.timeout) * 1000);
  }

  private get scale(): number {
    return this.d.config.paging.delivery.timeScale;
  }

  private link(id: string): string {
    const base = this.d.config.server.publicUrl ?? `http://${this.d.config.server.listen}`;
    return `${base.replace(/\/+$/, '')}/ui/deploys/${encodeURIComponent(id)}`;
  }

  /** Queues a status for the deploy's state (sent as it is then); once per key. */
  async queueStatus(deploy: Deploy, why: string): Promise<string | null> {
    if (!deploy.github) return null;
    const key = `github:status:${deploy.id}:${why}`;
    const payload: GitHubStatusEffect = {
      type: 'github-status',
      deploy: deploy.id,
      repository: deploy.github.repository,
    };
    const now = this.d.now();
    const queued = await this.d.store.enqueue(key, 'github:status', deploy.id, payload, now, now, {
      lane: `github:${deploy.github.repository.toLowerCase()}`,
      provider: 'github',
      action: 'github-status',
    });
    return queued ? key : null;
  }

  /** Posts the deploy's current state to its GitHub deployment (creating the deployment when none is given). */
  async sendStatus(p: GitHubStatusEffect): Promise<void> {
    const row = await this.d.store.getDeploy(p.deploy);
    if (!row) throw new GitHubError(`deploy ${p.deploy} is not in the store`, 422);
    const deploy = JSON.parse(row.deploy) as Deploy;
    const target = deploy.github;
    if (!target) throw new GitHubError(`deploy ${p.deploy} has no github field`, 422);
    const token = await this.auth.token(target.repository);
    const id = target.deployment ?? (await this.deploymentOf(deploy, token));
    const { state, description } = deploymentState(await this.d.service.view(p.deploy));
    await this.auth.call('POST', `/repos/${target.repository}/deployments/${id}/statuses`, token, {
      state,
      log_url: this.link(deploy.id),
      description: clip(description),
      ...(target.environment ? { environment: target.environment } : {}),
      ...(target.environmentUrl ? { environment_url: target.environmentUrl } : {}),
    });
  }

  /**
   * The GitHub deployment Navigator created for a deploy without one: found again by its payload
   * (navigator_deploy) among the deployments of its ref and environment, else created. Find-then-create
   * makes a retry after a lost answer, or a restart, reuse the first one.
   */
  private async deploymentOf(deploy: Deploy, token: string): Promise<number> {
    const known = this.created.get(deploy.id);
    if (known !== undefined) return known;
    const target = deploy.github as NonNullable<Deploy['github']>;
    const ref = target.ref ?? deploy.change?.commit ?? '';
    const environment = target.environment ?? 'production';
    const q = new URLSearchParams({ ref, environment, per_page: '100' });
    const list = await this.auth.call<unknown>('GET', `/repos/${target.repository}/deployments?${q}`, token);
    const mine = (Array.isArray(list) ? (list as { id?: number; payload?: unknown }[]) : []).find(
      (x) => (x.payload as { navigator_deploy?: unknown } | null)?.navigator_deploy === deploy.id,
    );
    let id = mine?.id;
    if (typeof id !== 'number') {
      const made = await this.auth.call<{ id?: number; message?: string }>(
        'POST',
        `/repos/${target.repository}/deployments`,
        token,
        {
          ref,
          environment,
          task: 'deploy',
          auto_merge: false,
          required_contexts: [],
          payload: { navigator_deploy: deploy.id },
          description: clip(`Navigator deploy ${deploy.id}: ${deploy.service} ${deploy.version}`),
        },
      );
      if (typeof made.id !== 'number')
        throw new GitHubError(`creating a deployment: GitHub made none (${made.message ?? 'no id'})`, 422);
      id = made.id;
    }
    this.created.set(deploy.id, id);
    return id;
  }

  /** Queues a protection rule request; returns the deploy it waits on (null: none registered yet). */
  async queueReview(r: ReviewRequest): Promise<{ deploy: string | null; key: string }> {
    const deploy = await this.match(r);
    return { deploy, key: await this.enqueueReview(r, deploy, this.d.now()) };
  }

  private async enqueueReview(r: ReviewRequest, deploy: string | null, receivedAt: number): Promise<string> {
    // One request per workflow run (its callback URL) and environment: GitHub re-sending it is a no-op.
    const run = createHash('sha256').update(r.callbackUrl).digest('hex').slice(0, 16);
    const key = `github:review:${r.repository.toLowerCase()}:${run}:${r.environment}:${deploy ?? '?'}`;
    const payload: GitHubReviewEffect = { type: 'github-review', ...r, deploy, receivedAt };
    const now = this.d.now();
    await this.d.store.enqueue(key, 'github:review', deploy, payload, now, now, {
      lane: `github-review:${r.repository.toLowerCase()}`,
      provider: 'github',
      action: 'github-review',
    });
    return key;
  }

  /** The newest registered deploy of the repository for the request's commit (or its GitHub deployment). */
  async match(r: Pick<ReviewRequest, 'repository' | 'sha' | 'deployment'>): Promise<string | null> {
    const repo = r.repository.toLowerCase();
    for (const row of await this.d.store.listDeploys(undefined, MATCH_SCAN)) {
      const d = JSON.parse(row.deploy) as Deploy;
      if (d.github?.repository.toLowerCase() !== repo) continue;
      if (r.deployment !== null && d.github.deployment === r.deployment) return d.id;
      if (sameCommit(d.change?.commit ?? '', r.sha) || sameCommit(d.github.ref ?? '', r.sha)) return d.id;
    }
    return null;
  }

  /** What a protection rule request does now: wait, move to its matched deploy, or be answered. */
  async reviewStep(p: GitHubReviewEffect): Promise<ReviewStep> {
    const now = this.d.now();
    const cfg = this.d.config.github as NonNullable<Config['github']>;
    if (p.deploy === null) {
      const found = await this.match(p);
      if (found) {
        const to = await this.enqueueReview(p, found, p.receivedAt);
        return { kind: 'moved', to, why: `matched to deploy ${found}` };
      }
      const within = parseDuration(cfg.matchWithin);
      if (now - p.receivedAt >= within * this.scale)
        return {
          kind: 'answer',
          state: 'rejected',
          comment: `Navigator: no deploy of ${p.repository} at ${p.sha.slice(0, 12)} was registered within ${cfg.matchWithin}; register it with "github": {"repository": "${p.repository}"} and change.commit`,
        };
      return {
        kind: 'wait',
        at: now + parseDuration(this.d.config.evaluation.interval) * this.scale,
        why: `waiting for a deploy of ${p.repository} at ${p.sha.slice(0, 12)} to be registered`,
      };
    }
    const gate = await this.d.service.gate(p.deploy);
    if (gate.decision === 'wait')
      return { kind: 'wait', at: now + 60 * this.scale, why: `the gate says wait: ${gate.reason}` };
    const view = await this.d.service.view(p.deploy);
    const what = `deploy ${view.id} (${view.service} ${view.version})`;
    return gate.decision === 'proceed'
      ? {
          kind: 'answer',
          state: 'approved',
          comment: clip(`Navigator: ${what} ${view.status}: ${view.reason}. ${this.link(view.id)}`, 1000),
        }
      : {
          kind: 'answer',
          state: 'rejected',
          comment: clip(`Navigator ${view.status} ${what}: ${verdictSentence(view)} ${this.link(view.id)}`, 1000),
        };
  }

  /** Answers GitHub through the request's callback URL, as the App's installation. */
  async sendReview(p: GitHubReviewEffect, answer: Extract<ReviewStep, { kind: 'answer' }>): Promise<void> {
    const token = await this.auth.token(p.repository, p.installationId ?? undefined);
    const path = callbackPath(this.d.config, p.callbackUrl);
    if (path === null)
      throw new GitHubError(`deployment_callback_url ${p.callbackUrl} is not under github.apiUrl`, 422);
    try {
      await this.auth.call('POST', path, token, {
        environment_name: p.environment,
        state: answer.state,
        comment: answer.comment,
      });
      await this.d.store.appendAudit(this.d.now(), 'navigator', 'github-review-answered', p.deploy, {
        repository: p.repository,
        environment: p.environment,
        deployment: p.deployment,
        state: answer.state,
        comment: answer.comment,
      });
    } catch (e) {
      if (e instanceof GitHubError && e.status === 401) this.auth.forget(p.installationId ?? undefined);
      throw e;
    }
  }
}

/**
 * The callback URL's path under github.apiUrl, or null when it points elsewhere: the installation token
 * goes only to the configured GitHub, whatever a payload says.
 */
export function callbackPath(config: Config, url: string): string | null {
  const api = (config.github?.apiUrl ?? '').replace(/\/+$/, '');
  let u: URL;
  let base: URL;
  try {
    u = new URL(url);
    base = new URL(api);
  } catch {
    return null;
  }
  if (u.origin !== base.origin) return null;
  const prefix = base.pathname.replace(/\/+$/, '');
  if (!u.pathname.startsWith(`${prefix}/`)) return null;
  return `${u.pathname.slice(prefix.length)}${u.search}`;
}
