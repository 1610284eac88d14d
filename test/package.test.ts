// Installable outside this repository: `npx navigator` elsewhere would fetch an unrelated npm package of
// that name, so this package has a scoped name of its own (@navigator-guard/navigator) whose only bin is
// `navigator`: `npx @navigator-guard/navigator <command>` resolves the package and runs that bin. This packs
// the checkout and runs the packed bin from a clean directory outside the repository through npm's own npx,
// both as `npx <package spec> <command>` (what a registry name does) and `npx --package=<spec> navigator`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, assertBuilt } from './support/cli.js';

const npmEnv = {
  ...process.env,
  // The dependencies come from npm's cache (filled by `npm ci` of this checkout) without asking the
  // registry again; install scripts are skipped so no native module is compiled: the CLI loads
  // better-sqlite3's binding only when a command opens a store, and --help, --version and gate do not.
  npm_config_prefer_offline: 'true',
  npm_config_ignore_scripts: 'true',
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};

describe('the packed package', () => {
  it('runs its navigator bin from a directory outside the repository', async () => {
    assertBuilt();
    const dest = mkdtempSync(join(tmpdir(), 'navigator-pack-'));
    // dist/ is built by the global setup; the prepare script would only build it again.
    const pack = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], {
      cwd: ROOT,
      encoding: 'utf8',
      env: npmEnv,
    });
    expect(pack.status, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    const files = new Set(info!.files.map((f) => f.path));
    expect(files.has('bin/navigator.js')).toBe(true);
    expect(files.has('dist/cli/main.js')).toBe(true);
    expect([...files].filter((f) => f.startsWith('test/') || f.startsWith('src/'))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      name: string;
      private?: boolean;
      version: string;
      bin: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(manifest.bin).toEqual({ navigator: 'bin/navigator.js' });
    // A scoped name (nobody else's `navigator`) that can be published: npx resolves it to this project.
    expect(manifest.name).toBe('@navigator-guard/navigator');
    expect(manifest.private).toBeUndefined();
    expect(info!.filename).toBe(`navigator-guard-navigator-${manifest.version}.tgz`);
    // A dependency on a path inside the checkout cannot be installed from the tarball.
    expect(Object.values(manifest.dependencies).filter((v) => v.startsWith('file:'))).toEqual([]);

    const clean = mkdtempSync(join(tmpdir(), 'navigator-elsewhere-'));
    const tarball = join(dest, info!.filename);
    const npx = (args: string[]) =>
      spawnSync('npx', ['--yes', `--package=${tarball}`, 'navigator', ...args], {
        cwd: clean,
        encoding: 'utf8',
        env: npmEnv,
        timeout: 240_000,
      });
    const version = npx(['--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(manifest.version);
    // The package spec alone, as `npx @navigator-guard/navigator --version` would be: its one bin runs.
    const bySpec = spawnSync('npx', ['--yes', `file:${tarball}`, '--version'], {
      cwd: clean,
      encoding: 'utf8',
      env: npmEnv,
      timeout: 240_000,
    });
    expect(bySpec.status, bySpec.stderr).toBe(0);
    expect(bySpec.stdout.trim()).toBe(manifest.version);
    const help = npx(['--help']);
    expect(help.status, help.stderr).toBe(0);
    for (const c of ['serve', 'gate', 'deploy', 'backtest']) expect(help.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  }, 300_000);
});
