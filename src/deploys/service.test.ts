import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { MemoryStore } from '../sources/memory-store.js';
import { SqliteStore } from '../store/sqlite.js';
import type { AuditEntry } from '../store/types.js';
import { DeployService, type Actor } from './service.js';

const stores: SqliteStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

const config = parseConfig(
  `services:
  checkout:
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
  'test.yaml',
  {},
);
const ci: Actor = { name: 'ci', role: 'pipeline' };
const root: Actor = { name: 'root', role: 'admin' };

async function service(audit?: AuditEntry[]) {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'navigator-service-')), 'n.db'));
  stores.push(store);
  const s = new DeployService({
    config,
    store,
    source: new MemoryStore(),
    now: () => 1_764_237_600,
    ...(audit ? { audit: { append: async (e: AuditEntry) => void audit.push(e) } } : {}),
  });
  await s.register({ id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1' }, ci);
  return { s, store };
}

describe('DeployService decisions', () => {
  it('runs in-transaction listeners inside the decision, after-commit listeners after it', async () => {
    const { s, store } = await service();
    const seen: string[] = [];
    s.onDecision(
      async (deploy, e) => {
        seen.push(`tx:${deploy.id}:${e.status}:${(await store.getDeploy(deploy.id))?.status}`);
        await store.enqueue(`halt:${deploy.id}`, 'halt', deploy.id, {}, e.at);
      },
      { inTransaction: true },
    );
    s.onDecision((deploy, e) => void seen.push(`after:${deploy.id}:${e.status}:${e.actor}`));
    await s.override('d-1', root, 'halt', 'smoke in the canary');
    expect(seen).toEqual(['tx:d-1:halted:halted', 'after:d-1:halted:root']);
    expect((await store.effects('d-1')).map((e) => e.key)).toEqual(['halt:d-1']);
  });

  it('a failing in-transaction listener loses its own writes, never the decision', async () => {
    const { s, store } = await service();
    s.onDecision(
      async (deploy, e) => {
        await store.enqueue(`page:${deploy.id}`, 'page', deploy.id, {}, e.at);
        throw new Error('provider config broken');
      },
      { inTransaction: true },
    );
    await s.override('d-1', root, 'halt', 'smoke in the canary');
    expect((await store.getDeploy('d-1'))?.status).toBe('halted');
    expect(await store.effects('d-1')).toEqual([]);
  });

  it('records through the injected audit sink', async () => {
    const audit: AuditEntry[] = [];
    const { s, store } = await service(audit);
    await s.end('d-1', ci);
    expect(audit.map((e) => [e.actor, e.action, e.deployId])).toEqual([
      ['ci', 'register', 'd-1'],
      ['ci', 'end', 'd-1'],
    ]);
    expect(await store.audit()).toEqual([]);
  });

  it('a detached listener hears nothing more', async () => {
    const { s } = await service();
    let n = 0;
    const off = s.onDecision(() => void n++);
    off();
    await s.end('d-1', ci);
    expect(n).toBe(0);
  });
});

/** A store whose next outermost commit fails after every statement ran, as a full disk fails a WAL commit. */
class FailingCommit extends SqliteStore {
  failNext = false;
  override transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.failNext || this.db.inTransaction) return super.transaction(fn);
    this.failNext = false;
    return super.transaction(async () => {
      await fn();
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    });
  }
}

describe('a transaction that does not commit leaves nothing behind in memory', () => {
  const make = () => {
    const store = new FailingCommit(join(mkdtempSync(join(tmpdir(), 'navigator-service-')), 'n.db'));
    stores.push(store);
    const s = new DeployService({ config, store, source: new MemoryStore(), now: () => 1_764_237_600 });
    return { s, store };
  };

  it('a registration whose commit fails opens no watch, and later ticks persist fine', async () => {
    const { s, store } = make();
    store.failNext = true;
    await expect(
      s.register({ id: 'ghost', service: 'checkout', version: 'v2', baselineVersion: 'v1' }, ci),
    ).rejects.toThrow(/cannot write \(SQLITE_FULL/);
    expect(await store.getDeploy('ghost')).toBeUndefined();
    expect(s.watcher.get('ghost')).toBeUndefined();
    expect(store.health()).toMatchObject({ writable: false });
    await s.register({ id: 'real', service: 'checkout', version: 'v2', baselineVersion: 'v1' }, ci);
    await s.tick(1_764_237_600 + 15);
    expect(s.watcher.watches().map((w) => w.deploy.id)).toEqual(['real']);
    expect(store.health().writable).toBe(true);
  });

  it('an override whose commit fails keeps watching the deploy', async () => {
    const { s, store } = make();
    await s.register({ id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1' }, ci);
    store.failNext = true;
    await expect(s.override('d-1', root, 'halt', 'smoke in the canary')).rejects.toThrow(/SQLITE_FULL/);
    expect((await store.getDeploy('d-1'))?.status).toBe('watching');
    expect(s.watcher.get('d-1')?.deploy.id).toBe('d-1');
  });

  it('a watch whose deploy row is gone is dropped by the tick, not failed on forever', async () => {
    const { s, store } = make();
    await s.register({ id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1' }, ci);
    await s.register({ id: 'd-2', service: 'checkout', version: 'v3', baselineVersion: 'v1' }, ci);
    store.db.pragma('foreign_keys = OFF');
    store.db.exec("DELETE FROM watches WHERE deploy_id = 'd-1'; DELETE FROM stages WHERE deploy_id = 'd-1'");
    store.db.exec("DELETE FROM deploys WHERE id = 'd-1'");
    store.db.pragma('foreign_keys = ON');
    await s.tick(1_764_237_600 + 15);
    expect(s.watcher.watches().map((w) => w.deploy.id)).toEqual(['d-2']);
  });
});
