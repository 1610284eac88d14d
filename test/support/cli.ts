// Runs the built `navigator` command as a user would, for CLI and cross-process tests.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = resolve(ROOT, 'bin/navigator.js');

/** Throws the compiler's output when the global setup could not build dist/. */
export function assertBuilt(): void {
  const marker = resolve(ROOT, 'dist/.build-failed');
  if (existsSync(marker))
    throw new Error(`the build failed, so the CLI cannot be tested:\n${readFileSync(marker, 'utf8')}`);
}

export function navigator(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {},
): SpawnSyncReturns<string> {
  assertBuilt();
  return spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
    input: opts.input,
    timeout: opts.timeout ?? 120_000,
    maxBuffer: 1 << 28,
  });
}
