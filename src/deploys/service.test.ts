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
afterEach(() => stores.splice(0).forEach((s) => s.close()));

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

function service(audit?: AuditEntry[]) {
  const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'navigator-service-')), 'n.db'));
  stores.push(store);
  const s = new DeployService({
    config,
    store,
    source: new MemoryStore(),
    now: () => 1_764_237_600,
    ...(audit ? { audit: { append: (e: AuditEntry) => audit.push(e) } } : {}),
  });
  s.register({ id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1' }, ci);
  return { s, store };
}

describe('DeployService decisions', () => {
  it('runs in-transaction listeners inside the decision, after-commit listeners after it', () => {
    const { s, store } = service();
    const seen: string[] = [];
    s.onDecision(
      (deploy, e) => {
        seen.push(`tx:${deploy.id}:${e.status}:${store.getDeploy(deploy.id)?.status}`);
        store.enqueue(`halt:${deploy.id}`, 'halt', deploy.id, {}, e.at);
      },
      { inTransaction: true },
    );
    s.onDecision((deploy, e) => seen.push(`after:${deploy.id}:${e.status}:${e.actor}`));
    s.override('d-1', root, 'halt', 'smoke in the canary');
    expect(seen).toEqual(['tx:d-1:halted:halted', 'after:d-1:halted:root']);
    expect(store.effects('d-1').map((e) => e.key)).toEqual(['halt:d-1']);
  });

  it('a failing in-transaction listener loses its own writes, never the decision', () => {
    const { s, store } = service();
    s.onDecision(
      (deploy, e) => {
        store.enqueue(`page:${deploy.id}`, 'page', deploy.id, {}, e.at);
        throw new Error('provider config broken');
      },
      { inTransaction: true },
    );
    s.override('d-1', root, 'halt', 'smoke in the canary');
    expect(store.getDeploy('d-1')?.status).toBe('halted');
    expect(store.effects('d-1')).toEqual([]);
  });

  it('records through the injected audit sink', () => {
    const audit: AuditEntry[] = [];
    const { s, store } = service(audit);
    s.end('d-1', ci);
    expect(audit.map((e) => [e.actor, e.action, e.deployId])).toEqual([
      ['ci', 'register', 'd-1'],
      ['ci', 'end', 'd-1'],
    ]);
    expect(store.audit()).toEqual([]);
  });

  it('a detached listener hears nothing more', () => {
    const { s } = service();
    let n = 0;
    const off = s.onDecision(() => n++);
    off();
    s.end('d-1', ci);
    expect(n).toBe(0);
  });
});
