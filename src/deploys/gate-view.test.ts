// The gate's in-memory view: fresh entries answer without the store, writes of a deploy row forget the
// entry (at the write and when the transaction ends), and entries expire.
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import { GateView } from './gate-view.js';

async function setup() {
  const clock = { now: 1000 };
  const view = new GateView(() => clock.now, 1);
  const raw = new SqliteStore(':memory:');
  const store = view.watching(raw);
  await store.insertDeploy({
    id: 'd1',
    service: 'checkout',
    input: '{}',
    deploy: '{}',
    status: 'watching',
    reason: 'watching',
    hold: null,
    created_at: 1000,
  });
  return { clock, view, raw, store };
}

describe('GateView', () => {
  it('answers from memory until a write of the row forgets it', async () => {
    const { view, raw, store } = await setup();
    view.remember({ id: 'd1', status: 'watching', reason: 'watching' });
    // A write that bypasses the view (another replica) is not seen while the entry is fresh...
    await raw.updateDeploy('d1', { status: 'halted', reason: 'elsewhere' }, 1000);
    expect(view.get('d1')?.status).toBe('watching');
    // ...a write through the view's store is, at once.
    await store.updateDeploy('d1', { status: 'halted', reason: 'orders fell' }, 1000);
    expect(view.get('d1')).toBeUndefined();
  });

  it('forgets again when the transaction ends, so an entry refilled from the old row inside it is dropped', async () => {
    const { view, store } = await setup();
    await store.transaction(async () => {
      await store.updateDeploy('d1', { status: 'halted', reason: 'orders fell' }, 1000);
      view.remember({ id: 'd1', status: 'watching', reason: 'stale' });
      expect(view.get('d1')?.reason).toBe('stale');
    });
    expect(view.get('d1')).toBeUndefined();
  });

  it('expires entries after the ttl (another replica may have decided)', async () => {
    const { clock, view } = await setup();
    view.remember({ id: 'd1', status: 'watching', reason: 'watching' });
    clock.now += 0.5;
    expect(view.get('d1')).toBeDefined();
    clock.now += 0.6;
    expect(view.get('d1')).toBeUndefined();
  });

  it('reads a deploy once for many gates asking at the same time', async () => {
    const { view, raw } = await setup();
    let reads = 0;
    const read = async () => {
      reads++;
      return (await raw.deployGate('d1'))!;
    };
    const answers = await Promise.all(Array.from({ length: 50 }, () => view.entry('d1', read)));
    expect(reads).toBe(1);
    expect(answers.every((a) => a.status === 'watching')).toBe(true);
    await view.entry('d1', read);
    expect(reads).toBe(1); // kept
  });

  it('answers but does not keep a read during which a change was announced (it may predate it)', async () => {
    const { view } = await setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const pending = view.entry('d1', async () => {
      await gate;
      return { status: 'watching', reason: 'old row' };
    });
    view.forget('d1'); // another replica halted it while the row was being read
    release();
    expect((await pending).reason).toBe('old row');
    expect(view.get('d1')).toBeUndefined();
    const fresh = await view.entry('d1', async () => ({ status: 'halted', reason: 'orders fell' }));
    expect(fresh.status).toBe('halted');
  });

  it('with the change feed live, believes entries until forgotten; each transition of the feed forgets all', async () => {
    const { clock, view } = await setup();
    view.feed(true);
    view.remember({ id: 'd1', status: 'watching', reason: 'watching' });
    clock.now += 3600;
    expect(view.get('d1')?.status).toBe('watching');
    view.feed(false); // changes may be missed from now on
    expect(view.get('d1')).toBeUndefined();
    view.remember({ id: 'd1', status: 'watching', reason: 'watching' });
    clock.now += 1.1;
    expect(view.get('d1')).toBeUndefined(); // the ttl again
    view.remember({ id: 'd1', status: 'watching', reason: 'watching' });
    view.feed(true); // what was missed while down is unknown
    expect(view.get('d1')).toBeUndefined();
  });

  it('passes every other store method through unchanged', async () => {
    const { store } = await setup();
    expect((await store.getDeploy('d1'))?.status).toBe('watching');
    expect((await store.listDeploys('watching')).map((r) => r.id)).toEqual(['d1']);
  });
});

describe('the deploy service gate', () => {
  it('in one process reads a deploy row once, however long it is polled, and still sees its decisions at once', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { parseConfig } = await import('../config/load.js');
    const { MemoryStore } = await import('../sources/memory-store.js');
    const { DeployService } = await import('./service.js');
    const config = parseConfig(
      `services:
  checkout:
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
      'test.yaml',
      {},
    );
    const raw = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'navigator-gate-')), 'n.db'));
    let reads = 0;
    const store = new Proxy(raw, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'getDeploy' || prop === 'deployGate') reads++;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const clock = { now: 1_764_237_600 };
    const s = new DeployService({ config, store, source: new MemoryStore(), now: () => clock.now });
    await s.register(
      { id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1' },
      { name: 'ci', role: 'pipeline' },
    );
    expect((await s.gate('d-1')).decision).toBe('wait');
    const after = reads;
    for (let i = 0; i < 100; i++) {
      clock.now += 60; // polled for 100 minutes
      expect((await s.gate('d-1')).decision).toBe('wait');
    }
    expect(reads).toBe(after);
    await s.override('d-1', { name: 'root', role: 'admin' }, 'halt', 'orders fell by hand');
    expect((await s.gate('d-1')).decision).toBe('halt');
    await raw.close();
  });
});
