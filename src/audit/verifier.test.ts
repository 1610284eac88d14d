// The audit log proves itself on a real SQLite file: a rewrite with a recomputed chain, a truncation of the
// newest rows (with and without their checkpoints and the AUTOINCREMENT counter), checkpoints forged
// without the key, and incremental checks that read only what is new.
import { mkdtempSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { auditHash, SqliteStore } from '../store/sqlite.js';
import { checkpointMac, type Checkpoint } from './checkpoint.js';
import { headExporter, readHeadFile } from './head.js';
import { AuditVerifier } from './verifier.js';

const open: SqliteStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const key = randomBytes(32);
async function logOf(n: number, every = 10, onCheckpoint?: (c: Checkpoint) => void) {
  const path = join(mkdtempSync(join(tmpdir(), 'navigator-audit-')), 'n.db');
  const s = new SqliteStore(path);
  open.push(s);
  await s.setAuditSigner({ key, every, ...(onCheckpoint ? { onCheckpoint } : {}) });
  for (let i = 1; i <= n; i++) await s.appendAudit(1000 + i, i % 2 ? 'ci' : 'alice', 'register', `d-${i}`, { i });
  return s;
}
const verify = (s: SqliteStore, o: { k?: Buffer | null; heads?: { seq: number; hash: string }[] } = {}) =>
  new AuditVerifier(s, {
    key: o.k === undefined ? key : o.k,
    every: 10,
    heads: () => (o.heads ?? []).map((h) => ({ ...h, from: 'the test' })),
  }).check();

/** What someone with write access to the file does: rewrite from `seq` on and recompute every hash after. */
function rewriteAndRecompute(s: SqliteStore, seq: number, actor: string): void {
  s.db.prepare('UPDATE audit SET actor = ? WHERE seq = ?').run(actor, seq);
  let prev = (s.db.prepare('SELECT hash FROM audit WHERE seq = ?').get(seq - 1) as { hash: string } | undefined)?.hash;
  prev ??= 'genesis';
  for (const r of s.db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(seq) as {
    seq: number;
    at: number;
    actor: string;
    action: string;
    deploy_id: string | null;
    detail: string;
  }[]) {
    const h = auditHash(prev, r.at, r.actor, r.action, r.deploy_id, r.detail);
    s.db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, h, r.seq);
    prev = h;
  }
}

describe('audit verification', () => {
  it('an untouched log verifies, with its checkpoints', async () => {
    const r = await verify(await logOf(35));
    expect(r.ok, r.message).toBe(true);
    expect(r.entries).toBe(35);
    expect(r.checkpoints).toEqual({ signed: true, verified: 3, last: 30 });
  });

  it('a rewritten row with the chain recomputed is caught by its checkpoint', async () => {
    const s = await logOf(35);
    rewriteAndRecompute(s, 4, 'mallory');
    expect((await verify(s, { k: null })).ok).toBe(true); // the chain alone cannot see it
    const r = await verify(s);
    expect(r.ok).toBe(false);
    expect(r.brokenAt).toBe(10);
    expect(r.message).toMatch(/does not match its signed checkpoint/);
  });

  it('recomputed checkpoints without the key, or deleted ones, are caught', async () => {
    const s = await logOf(35);
    rewriteAndRecompute(s, 4, 'mallory');
    const forged = randomBytes(32);
    for (const c of await s.checkpoints()) {
      const h = (await s.auditAt(c.seq))!.hash;
      s.db
        .prepare('UPDATE audit_checkpoints SET hash = ?, mac = ? WHERE seq = ?')
        .run(h, checkpointMac(forged, c.seq, h, c.at), c.seq);
    }
    expect((await verify(s)).message).toMatch(/checkpoint 10 is not signed by the audit key/);
    s.db.exec('DELETE FROM audit_checkpoints');
    expect((await verify(s)).message).toMatch(/checkpoint 10 is missing/);
  });

  it('deleting the newest rows is caught: the counter, the checkpoints, the exported head', async () => {
    const s = await logOf(35);
    const head = (await s.auditHead())!;
    s.db.exec('DELETE FROM audit WHERE seq > 31');
    let r = await verify(s);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/entries 32 to 35 were removed/);
    // Also reset the AUTOINCREMENT counter: the checkpoint at 30 still stands if rows below it go.
    s.db.exec("UPDATE sqlite_sequence SET seq = 31 WHERE name = 'audit'");
    expect((await verify(s)).ok).toBe(true); // what the store alone can no longer show...
    r = await verify(s, { heads: [head] });
    expect(r.ok).toBe(false); // ...the head exported outside it does
    expect(r.message).toMatch(/32 to 35 were removed: the test saw the log reach 35/);
    s.db.exec('DELETE FROM audit WHERE seq > 25');
    s.db.exec("UPDATE sqlite_sequence SET seq = 25 WHERE name = 'audit'");
    expect((await verify(s)).message).toMatch(/after 25 were removed: entry 30 was checkpointed/);
  });

  it('is incremental: a later check reads the remembered row and what is new, and catches a rewrite behind it', async () => {
    const s = await logOf(20);
    const v = new AuditVerifier(s, { key, every: 10 });
    expect((await v.check()).entries).toBe(20);
    for (let i = 21; i <= 25; i++) await s.appendAudit(2000 + i, 'ci', 'end', null, {});
    let reads = 0;
    const real = s.audit.bind(s);
    s.audit = async (after?: number, limit?: number) => {
      const rows = await real(after, limit);
      reads += rows.length;
      return rows;
    };
    const r = await v.check();
    expect(r.ok).toBe(true);
    expect(r.entries).toBe(25);
    expect(reads).toBe(5);
    rewriteAndRecompute(s, 3, 'mallory');
    const bad = await v.check();
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/entry 25 was altered or removed after it was verified/);
  });

  it('exports each checkpoint once committed, to a head file whose lines are signed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-head-'));
    const headFile = join(dir, 'head.jsonl');
    const lines: string[] = [];
    const s = await logOf(25, 10, headExporter({ headFile, log: { info: (_o, m) => lines.push(m), error() {} } }));
    expect(lines).toEqual(['audit checkpoint 10', 'audit checkpoint 20']);
    // A rolled-back append exports nothing.
    await expect(
      s.transaction(async () => {
        for (let i = 0; i < 10; i++) await s.appendAudit(1, 'ci', 'x', null, {});
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(lines).toHaveLength(2);
    const head = readHeadFile(headFile, key);
    expect(head).toMatchObject({ seq: 20, hash: (await s.auditAt(20))!.hash });
    appendFileSync(headFile, `${JSON.stringify({ seq: 99, hash: 'x', at: 1, mac: 'ab' })}\n`);
    expect(() => readHeadFile(headFile, key)).toThrow(/:3: checkpoint 99 is not signed/);
    writeFileSync(headFile, 'nonsense\n');
    expect(() => readHeadFile(headFile, key)).toThrow(/:1: not a JSON/);
  });

  it('signs checkpoints for entries written before signing started', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'navigator-audit-')), 'n.db');
    const s = new SqliteStore(path);
    open.push(s);
    for (let i = 1; i <= 23; i++) await s.appendAudit(i, 'ci', 'register', null, {});
    expect(await s.setAuditSigner({ key, every: 10 })).toBe(2);
    expect((await verify(s)).checkpoints.verified).toBe(2);
  });
});
