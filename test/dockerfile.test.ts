// No Docker engine runs here, so the image is checked statically: multi-stage, production dependencies
// only in the runtime, a non-root user, a health check, config and data as mounts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = text.split(/^FROM /m).slice(1);

describe('Dockerfile', () => {
  it('builds in stages and runs only production dependencies as a non-root user', () => {
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

  it('copies every file the runtime needs from the repository', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of (m[1] as string).split(/\s+/))
        expect(() => readFileSync(join(ROOT, src))).not.toThrow(/ENOENT/);
    }
  });
});
