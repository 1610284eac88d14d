// `navigator audit verify` against a running server (--server) and a store file (--store), on a log
// truncated or rewritten-and-recomputed behind Navigator's back: the checkpoint key and the head file
// live outside the database, so neither verifies as ok. Real processes for the CLI, a real SQLite file.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { auditHash } from '../src/store/sqlite.js';
import { spawn } from 'node:child_process';
import { BIN, ROOT, navigator } from './support/cli.js';
import { BASE_CONFIG, testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator | undefined;
afterEach(async () => {
  await t?.nav.close();
  t = undefined;
});

/** The CLI without blocking this process: the server it asks runs in this process. */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (status) => res({ status, stdout, stderr }));
  });
}

async function withLog(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-audit-cli-'));
  const headFile = join(dir, 'head.jsonl');
  t = await testNavigator({ config: BASE_CONFIG(`audit: { checkpointEvery: 5, headFile: "${headFile}" }`) });
  const { url } = await t.nav.start();
  for (let i = 0; i < n; i++) {
    const r = await t.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: { id: `d-${i}`, service: 'checkout', version: 'v2', baselineVersion: 'v1' },
    });
    expect(r.statusCode).toBe(201);
  }
  return { url, headFile, storePath: t.storePath };
}

describe('navigator audit verify', () => {
  it('--server works and catches a truncation of the newest rows', async () => {
    const { url } = await withLog(12);
    const ok = await cli(['audit', 'verify', '--server', url, '--token', 'admin-token']);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok: 12 entries, chain intact, 2 signed checkpoints valid/);
    const db = new Database(t!.storePath);
    db.exec("DELETE FROM audit WHERE seq > 10; UPDATE sqlite_sequence SET seq = 10 WHERE name = 'audit'");
    db.close();
    const bad = await cli(['audit', 'verify', '--server', url, '--token', 'admin-token']);
    expect(bad.status, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/TAMPERED: audit entry 12 was altered or removed after it was verified/);
  });

  it('--store with the head file catches what the store alone cannot', async () => {
    const { headFile, storePath } = await withLog(12);
    await t!.nav.close();
    expect(readFileSync(headFile, 'utf8').trim().split('\n')).toHaveLength(2); // checkpoints 5 and 10
    const db = new Database(storePath);
    // Rewrite entry 2 and recompute the chain, then drop the checkpoints and everything after 9.
    db.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 2").run();
    let prev = (db.prepare('SELECT hash FROM audit WHERE seq = 1').get() as { hash: string }).hash;
    for (const r of db.prepare('SELECT * FROM audit WHERE seq >= 2 ORDER BY seq').all() as {
      seq: number;
      at: number;
      actor: string;
      action: string;
      deploy_id: string | null;
      detail: string;
    }[]) {
      const h = auditHash(prev, r.at, r.actor, r.action, r.deploy_id, r.detail);
      db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, h, r.seq);
      prev = h;
    }
    db.exec('DELETE FROM audit WHERE seq > 4; DELETE FROM audit_checkpoints');
    db.exec("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'audit'");
    db.close();
    const alone = navigator(['audit', 'verify', '--store', storePath]);
    expect(alone.status, alone.stdout + alone.stderr).toBe(0); // 4 rows, no checkpoint due yet: consistent
    const bad = navigator(['audit', 'verify', '--store', storePath, '--head-file', headFile]);
    expect(bad.status, bad.stdout + bad.stderr).toBe(1);
    expect(bad.stdout).toMatch(/TAMPERED: audit entries 5 to 10 were removed: head file .* saw the log reach 10/);
  });
});
