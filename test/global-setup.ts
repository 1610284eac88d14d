// CLI and cross-process tests run the built `navigator` command, so build once before any test runs.
// A failed build must not hide the unit tests' results: it is recorded, and every test that needs the
// build fails with the compiler's message (test/support/cli.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

export const BUILD_FAILED = 'dist/.build-failed';

export default function setup(): void {
  rmSync(BUILD_FAILED, { force: true });
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'pipe', encoding: 'utf8' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    mkdirSync('dist', { recursive: true });
    writeFileSync(BUILD_FAILED, `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message);
  }
}
