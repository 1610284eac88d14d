// navigator deploy start (flags or a JSON file; prints the id), navigator status ID, navigator approve ID.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { callOrExit, printJson } from './client.js';
import { InputError, UsageError } from './errors.js';

interface StartOptions {
  file?: string;
  id?: string;
  service?: string;
  version?: string;
  baseline?: string;
  strategy?: string;
  weight?: string;
  changeId?: string;
  title?: string;
  author?: string;
  authorKind?: string;
  commit?: string;
  url?: string;
  destructive?: boolean;
  githubRepo?: string;
  githubDeployment?: string;
  githubRef?: string;
  githubEnvironment?: string;
  environmentUrl?: string;
  server?: string;
  token?: string;
  json?: boolean;
}

export function registerDeploy(program: Command): void {
  const deploy = program.command('deploy').description('register and inspect deploys');
  deploy
    .command('start')
    .description('register a deploy (contracts §2) and print its id')
    .option('--file <deploy.json>', 'the deploy as JSON (flags override its fields)')
    .option('--id <id>', 'idempotency key (default: service-version-time)')
    .option('--service <name>')
    .option('--version <version>')
    .option('--baseline <version>', 'the version it is compared with')
    .option('--strategy <canary|all-at-once>')
    .option('--weight <0..1>', 'first canary stage weight')
    .option('--change-id <id>')
    .option('--title <text>')
    .option('--author <name>')
    .option('--author-kind <human|agent>')
    .option('--commit <sha>')
    .option('--url <url>')
    .option('--destructive', 'the change replaces or deletes infrastructure')
    .option('--github-repo <owner/name>', 'post GitHub deployment statuses to this repository (README "GitHub")')
    .option('--github-deployment <id>', 'the GitHub deployment id (default: Navigator creates one)')
    .option('--github-ref <ref>', 'what a deployment Navigator creates is for (default: --commit)')
    .option('--github-environment <name>', 'GitHub environment (default: production)')
    .option('--environment-url <url>', 'where the new version runs (environment_url)')
    .option('--server <url>', 'Navigator URL (default $NAVIGATOR_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default $NAVIGATOR_TOKEN)')
    .option('--json', 'print the registered deploy as JSON')
    .action(async (o: StartOptions) => {
      const body: Record<string, unknown> = o.file ? readJson(o.file) : {};
      const set = (k: string, v: unknown) => {
        if (v !== undefined) body[k] = v;
      };
      set('service', o.service);
      set('version', o.version);
      set('baselineVersion', o.baseline);
      set('strategy', o.strategy);
      if (o.weight !== undefined) {
        const w = Number(o.weight);
        if (!(w >= 0 && w <= 1)) throw new UsageError(`--weight: "${o.weight}" is not a number from 0 to 1`);
        body.stages = [{ at: new Date().toISOString(), weight: w }];
      }
      if (o.changeId || o.title || o.author || o.commit || o.url || o.authorKind || o.destructive) {
        const change = (body.change as Record<string, unknown> | undefined) ?? {};
        body.change = {
          ...change,
          id: o.changeId ?? change.id ?? 'unknown',
          ...(o.title ? { title: o.title } : {}),
          ...(o.author ? { author: o.author } : {}),
          ...(o.authorKind ? { authorKind: o.authorKind } : {}),
          ...(o.commit ? { commit: o.commit } : {}),
          ...(o.url ? { url: o.url } : {}),
          ...(o.destructive ? { destructive: true } : {}),
        };
      }
      if (o.githubRepo || o.githubDeployment || o.githubRef || o.githubEnvironment || o.environmentUrl) {
        const github = (body.github as Record<string, unknown> | undefined) ?? {};
        let deployment: number | undefined;
        if (o.githubDeployment !== undefined) {
          deployment = Number(o.githubDeployment);
          if (!Number.isInteger(deployment) || deployment < 1)
            throw new UsageError(`--github-deployment: "${o.githubDeployment}" is not a GitHub deployment id`);
        }
        body.github = {
          ...github,
          ...(o.githubRepo ? { repository: o.githubRepo } : {}),
          ...(deployment !== undefined ? { deployment } : {}),
          ...(o.githubRef ? { ref: o.githubRef } : {}),
          ...(o.githubEnvironment ? { environment: o.githubEnvironment } : {}),
          ...(o.environmentUrl ? { environmentUrl: o.environmentUrl } : {}),
        };
      }
      if (!body.service) throw new InputError('deploy start: --service is required (or a --file with "service")');
      if (!body.version) throw new InputError('deploy start: --version is required (or a --file with "version")');
      body.id = o.id ?? body.id ?? `${String(body.service)}-${String(body.version)}-${Date.now()}`;
      const r = await callOrExit(o, 'POST', '/v1/deploys', body);
      if (o.json) printJson(r);
      else process.stdout.write(`${String(r.id)}\n`);
    });

  program
    .command('status <id>')
    .description('a readable summary of a deploy: status, verdicts and their evidence')
    .option('--server <url>', 'Navigator URL (default $NAVIGATOR_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default $NAVIGATOR_TOKEN)')
    .option('--json', 'the deploy as JSON')
    .action(async (id: string, o: { server?: string; token?: string; json?: boolean }) => {
      const r = await callOrExit(o, 'GET', `/v1/deploys/${encodeURIComponent(id)}`);
      if (o.json) printJson(r);
      else process.stdout.write(formatStatus(r));
    });

  program
    .command('approve <id>')
    .description('approve a deploy (your token names you); exit 1 when refused')
    .option('--comment <text>', 'why', '')
    .option('--server <url>', 'Navigator URL (default $NAVIGATOR_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default $NAVIGATOR_TOKEN)')
    .option('--json', 'the deploy after the approval as JSON')
    .action(async (id: string, o: { comment: string; server?: string; token?: string; json?: boolean }) => {
      const r = await callOrExit(o, 'POST', `/v1/deploys/${encodeURIComponent(id)}/approvals`, { comment: o.comment });
      if (o.json) printJson(r);
      else process.stdout.write(`${id}: ${String(r.status)}: ${String(r.reason)}\n`);
    });
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
}

export function formatStatus(d: Record<string, unknown>): string {
  const lines = [
    `${String(d.id)}  ${String(d.service)} ${String(d.version)} (${String(d.strategy)}, against ${String(d.baselineVersion ?? 'history')})`,
    `status: ${String(d.status).toUpperCase()}${d.decidedAt ? ` at ${String(d.decidedAt)}` : ''}${d.blind ? `  BLIND since ${String(d.blindSince)}${Array.isArray(d.blindSignals) && d.blindSignals.length ? ` (${(d.blindSignals as { signal: string; reason: string }[]).map((x) => `${x.signal}: ${x.reason}`).join('; ')})` : ''}` : ''}`,
    `reason: ${String(d.reason)}`,
  ];
  const change = d.change as Record<string, string> | null;
  if (change)
    lines.push(
      `change: ${change.id} ${change.title ?? ''} by ${change.author || 'unknown'} ${change.url ?? ''}`.trim(),
    );
  for (const v of (d.verdicts as { signal: string; status: string; evidence: { sentence: string } | null }[]) ?? []) {
    lines.push(`  ${v.signal}: ${v.status}${v.evidence ? ` - ${v.evidence.sentence}` : ''}`);
  }
  const approvals = (d.approvals as { approver: string }[]) ?? [];
  if (Number(d.approvalsRequired) > 0 || approvals.length)
    lines.push(
      `approvals: ${approvals.map((a) => a.approver).join(', ') || 'none'} (${String(d.approvalsRequired)} required)`,
    );
  for (const e of (d.effects as { kind: string; status: string; lastError: string | null }[]) ?? [])
    lines.push(`  effect ${e.kind}: ${e.status}${e.lastError ? ` (${e.lastError})` : ''}`);
  return `${lines.join('\n')}\n`;
}
