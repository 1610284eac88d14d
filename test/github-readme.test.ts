// The README's GitHub section as written: its deploy registration is accepted, its config parses with no
// problem once the key file exists, and the `navigator deploy start` line of its workflow, run by bash
// with the variables GitHub Actions sets, registers a deploy whose status reaches GitHub (a local server
// playing GitHub's REST API) across real processes: the CLI, Navigator, the GitHub stand-in.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { githubProblems } from '../src/actions/github-auth.js';
import { parseConfig } from '../src/config/load.js';
import { validateDeployInput } from '../src/model/validate.js';
import { assertBuilt, BIN, ROOT } from './support/cli.js';
import { FakeGitHub } from './support/github.js';
import { testNavigator, type TestNavigator } from './support/navigator.js';

const run = promisify(execFile);

function section(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### GitHub\n');
  if (start < 0) throw new Error('README has no "### GitHub" section');
  const end = readme.indexOf('\n### ', start + 10);
  return readme.slice(start, end);
}

function blocks(lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g');
  for (const m of section().matchAll(re)) out.push(m[1] as string);
  return out;
}

const SERVICES = `
services:
  checkout:
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`;

let gh: FakeGitHub | null = null;
let t: TestNavigator | null = null;
afterEach(async () => {
  await t?.nav.close();
  await gh?.stop();
  t = gh = null;
});

describe("the README's GitHub section", () => {
  it('its deploy registration is valid and its config parses; the App key file is the only thing to provide', () => {
    const [json] = blocks('json');
    const v = validateDeployInput(JSON.parse(json ?? ''));
    expect(v.ok).toBe(true);
    const yaml = blocks('yaml').find((b) => b.startsWith('github:')) ?? '';
    const env = { GITHUB_WEBHOOK_SECRET: 'whsec' };
    const cfg = parseConfig(`${yaml}${SERVICES}`, 'README.md', env);
    expect(cfg.github).toMatchObject({ apiUrl: 'https://api.github.com', appId: 123456, webhookSecret: 'whsec' });
    // As written, the key file is the user's to provide, and Navigator says so by name.
    expect(githubProblems(cfg)).toEqual([
      expect.stringMatching(/^github.privateKeyFile: cannot read \/etc\/navigator/),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'navigator-readme-'));
    const key = join(dir, 'github-app.pem');
    writeFileSync(
      key,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    const withKey = parseConfig(`${yaml.replace('/etc/navigator/github-app.pem', key)}${SERVICES}`, 'README.md', env);
    expect(githubProblems(withKey)).toEqual([]);
  });

  it("its workflow's promote job waits on the protected environment, and its deploy start line registers a deploy that reaches GitHub", async () => {
    assertBuilt();
    const workflow = blocks('yaml').find((b) => b.includes('jobs:')) ?? '';
    const doc = parse(workflow) as {
      jobs: Record<string, { needs?: string; environment?: string; steps: { run?: string }[] }>;
    };
    expect(doc.jobs.promote).toMatchObject({ needs: 'canary', environment: 'production' });
    const line = doc.jobs.canary?.steps.map((s) => s.run ?? '').find((r) => r.startsWith('navigator deploy start'));
    if (!line) throw new Error('no navigator deploy start step in the README workflow');

    gh = new FakeGitHub({ pat: 'ghp_readme' });
    await gh.start();
    // The CLI stamps the stage with the wall clock: Navigator's clock is the wall clock here.
    t = await testNavigator({
      start: Math.floor(Date.now() / 1000),
      config: `
server: { listen: "127.0.0.1:0", publicUrl: "https://navigator.example" }
auth: { tokens: [ { name: ci, role: pipeline, token: ci-token } ] }
github: { apiUrl: "${gh.apiUrl}", token: ghp_readme }
${SERVICES}`,
    });
    const url = await t.nav.http.listen({ host: '127.0.0.1', port: 0 });
    // `navigator` on PATH, as after `npm install -g` of the tarball.
    const bin = mkdtempSync(join(tmpdir(), 'navigator-bin-'));
    writeFileSync(join(bin, 'navigator'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, 'navigator'), 0o755);
    const sha = '30b2938aa2f35ac4e7dd8cbbcde90a8c0e7f4d21';
    // GitHub evaluates ${{ }} expressions before the shell runs the line.
    const command = line
      .replace('${{ vars.LIVE_VERSION }}', 'v1')
      .replace('${{ vars.NAVIGATOR_URL }}', url)
      .replace('${{ secrets.NAVIGATOR_TOKEN }}', 'ci-token');
    const out = await run('bash', ['-e', '-c', command], {
      env: {
        PATH: `${bin}:${process.env.PATH ?? ''}`,
        GITHUB_RUN_ID: '1042',
        GITHUB_SHA: sha,
        GITHUB_ACTOR: 'dev-a',
        GITHUB_REPOSITORY: 'acme/shop',
        NAVIGATOR_URL: url,
        NAVIGATOR_TOKEN: 'ci-token',
      },
      timeout: 60_000,
    });
    expect(out.stdout.trim()).toBe('gh-1042');
    const view = await t.nav.service.view('gh-1042');
    expect(view.status).toBe('watching');
    await t.nav.effects.drain();
    expect(gh.deployments).toEqual([expect.objectContaining({ repo: 'acme/shop', ref: sha, environment: 'canary' })]);
    const statuses = gh.at(`/repos/acme/shop/deployments/${gh.deployments[0]!.id}/statuses`);
    expect(statuses.map((c) => [c.status, (c.body as { state: string }).state])).toEqual([[201, 'in_progress']]);
  });
});
