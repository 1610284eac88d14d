// No Docker engine runs here, so the image is checked statically: multi-stage, production dependencies
// only in the runtime, a non-root user, a health check, config and data as mounts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { parseConfig } from '../src/config/load.js';

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = text.split(/^FROM /m).slice(1);

describe('Dockerfile', () => {
  it('builds in stages and runs only production dependencies as a non-root user', async () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const runtime = stages[stages.length - 1] as string;
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/COPY --from=deps \/app\/node_modules/);
    expect(runtime).not.toMatch(/g\+\+|npm ci(?! --omit)/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(runtime).toMatch(/^VOLUME \["\/data", "\/config"\]$/m);
    expect(runtime).toMatch(/CMD \["serve"\]/);
  });

  it('copies every file the runtime needs from the repository', async () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of (m[1] as string).split(/\s+/))
        expect(() => readFileSync(join(ROOT, src))).not.toThrow(/ENOENT/);
    }
  });
});

describe("the image's config (config/docker.yaml)", () => {
  const runtime = stages[stages.length - 1] as string;
  const copied = /^COPY (config\/\S+) \/config\/navigator\.yaml$/m.exec(runtime)?.[1] as string;
  const yaml = readFileSync(join(ROOT, copied), 'utf8');

  it('runs on a supported Node LTS with an init process as PID 1', async () => {
    for (const s of stages) expect(s).toMatch(/^node:(22|24)-/);
    expect(runtime).toMatch(/apt-get install[^\n]*\btini\b/);
    expect(runtime).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "bin\/navigator\.js"\]$/m);
  });

  it('listens on all interfaces with tokens from the environment', async () => {
    const env = { NAVIGATOR_PIPELINE_TOKEN: 'p-token', NAVIGATOR_ADMIN_TOKEN: 'a-token' };
    const config = parseConfig(yaml, copied, env);
    expect(config.server.listen).toBe('0.0.0.0:8080');
    expect(config.auth.tokens.map((t) => t.role).sort()).toEqual(['admin', 'pipeline']);
  });

  it('refuses to start without its tokens, naming the unset variable', async () => {
    expect(() => parseConfig(yaml, copied, { NAVIGATOR_ADMIN_TOKEN: 'a-token' })).toThrow(/NAVIGATOR_PIPELINE_TOKEN/);
  });
});
