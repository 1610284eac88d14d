// Store faults on a real SQLite file: a full database (max_page_count: the file may not grow, as on a full
// disk), a corrupt file, a missing one. The cross-process full-disk case on a real tmpfs is
// test/fault-store.test.ts.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError, StoreUnavailable } from './faults.js';
import { SqliteStore } from './sqlite.js';

const open: SqliteStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
const tempPath = () => join(mkdtempSync(join(tmpdir(), 'navigator-faults-')), 'navigator.db');
const deployRow = (id: string) => ({
  id,
  service: 'checkout',
  input: '{}',
  deploy: JSON.stringify({ id, padding: 'x'.repeat(20_000) }),
  status: 'watching',
  reason: '',
  hold: null,
  created_at: 100,
});

/** The store may not grow beyond its current pages: every write that needs a new page fails SQLITE_FULL. */
function fill(s: SqliteStore): void {
  const pages = s.db.pragma('page_count', { simple: true }) as number;
  s.db.pragma(`max_page_count = ${pages}`);
}

describe('store faults', () => {
  it('a full store refuses the whole transaction, says it cannot write, and recovers by itself', async () => {
    const s = new SqliteStore(tempPath());
    open.push(s);
    await s.insertDeploy(deployRow('before'));
    expect(s.health().writable).toBe(true);
    fill(s);
    let err: unknown;
    try {
      await s.transaction(async () => {
        await s.appendAudit(1, 'ci', 'register', null, {});
        await s.insertDeploy(deployRow('d-full'));
        await s.saveWatch('d-full', 'x'.repeat(20_000), 1);
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreUnavailable);
    expect((err as StoreUnavailable).code).toBe('SQLITE_FULL');
    expect((err as Error).message).toContain(s.path);
    // All or nothing: neither the deploy, its watch, nor its audit entry half-exists.
    expect(await s.getDeploy('d-full')).toBeUndefined();
    expect(await s.audit()).toHaveLength(0);
    const h = s.health();
    expect(h.writable).toBe(false);
    expect(h.error).toMatch(/SQLITE_FULL/);
    expect(h.since).toBeGreaterThan(0);
    // Reads still work while full.
    expect((await s.getDeploy('before'))?.id).toBe('before');
    // A read-only transaction does not pretend the store can write again.
    await s.transaction(async () => await s.getDeploy('before'));
    expect(s.health().writable).toBe(false);
    expect(await s.probe(1_000)).toBe(false);
    s.db.pragma('max_page_count = 1000000');
    expect(await s.probe(1_000)).toBe(false); // at most one probe a second
    expect(await s.probe(1_002)).toBe(true);
    expect(s.health()).toEqual({ writable: true, error: null, since: null });
    await s.insertDeploy(deployRow('after'));
    expect((await s.getDeploy('after'))?.id).toBe('after');
  });

  it('a real write after the fault clears it too', async () => {
    const s = new SqliteStore(tempPath());
    open.push(s);
    fill(s);
    await expect(s.transaction(async () => await s.insertDeploy(deployRow('a')))).rejects.toThrow(StoreUnavailable);
    s.db.pragma('max_page_count = 1000000');
    await s.transaction(async () => await s.insertDeploy(deployRow('a')));
    expect(s.health().writable).toBe(true);
  });

  it('a read-only store is a fault of the same kind', async () => {
    const s = new SqliteStore(tempPath());
    open.push(s);
    s.db.pragma('query_only = ON'); // the answer SQLite gives on a read-only file or mount
    await expect(s.transaction(async () => await s.insertDeploy(deployRow('a')))).rejects.toThrow(/SQLITE_READONLY/);
    expect(s.health().writable).toBe(false);
  });

  it('a file that is not a database, or a corrupt one, is refused at open naming the file', async () => {
    const garbage = tempPath();
    writeFileSync(garbage, 'this is not a database, just text that happens to be long enough '.repeat(100));
    expect(() => new SqliteStore(garbage)).toThrow(StoreError);
    expect(() => new SqliteStore(garbage)).toThrow(garbage);

    const path = tempPath();
    const s = new SqliteStore(path);
    for (let i = 0; i < 50; i++) await s.insertDeploy(deployRow(`d-${i}`));
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    await s.close();
    const bytes = readFileSync(path);
    const page = 4096;
    // Overwrite the middle of the file (valid header, broken b-tree pages).
    bytes.fill(0xa5, page * 3, page * 6);
    writeFileSync(path, bytes);
    let err: unknown;
    try {
      open.push(new SqliteStore(path));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/corrupt|malformed/);
  });

  it('mustExist refuses a missing file and creates nothing', async () => {
    const path = tempPath();
    expect(() => new SqliteStore(path, { mustExist: true, readonly: true })).toThrow(`store ${path}: no such file`);
    expect(existsSync(path)).toBe(false);
  });
});
