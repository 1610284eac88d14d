// A crash in the middle of a watch, in one process: Navigator is dropped after a tick without closing
// anything (what SIGKILL leaves behind: the SQLite file as the last commit left it), a new one is built on
// the same file, and the watch goes on from its persisted state: the ticks judged so far are kept, the
// ticks missed while it was down are caught up from the source, and the canary that collapses is halted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';

const dropped: TestNavigator[] = [];
afterAll(async () => {
  for (const t of dropped) await t.nav.close();
});

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
const COLLAPSE = START + 120; // the canary's orders fall 99% from the ninth tick on

function feed(t: TestNavigator): void {
  feedCanary(t.metrics, {
    service: 'checkout',
    from: START - 600,
    to: START + 600,
    baseline: 'v1',
    canary: 'v2',
    perTick: 300,
    weight: 0.1,
    canaryFactor: (x) => (x > COLLAPSE ? 0.01 : 1),
  });
}

describe('restart in the middle of a watch', () => {
  it('resumes the watch where it stopped and still halts the bad canary', async () => {
    const storePath = join(mkdtempSync(join(tmpdir(), 'navigator-restart-')), 'navigator.db');
    const first = await testNavigator({ storePath, start: START });
    dropped.push(first);
    feed(first);
    const r = await first.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: first.auth('ci-token'),
      payload: {
        id: 'r-1',
        service: 'checkout',
        version: 'v2',
        baselineVersion: 'v1',
        startedAt: new Date(START * 1000).toISOString(),
        stages: [{ at: new Date(START * 1000).toISOString(), weight: 0.1 }],
      },
    });
    expect(r.statusCode).toBe(201);
    for (const s of [15, 30, 45]) {
      first.clock.now = START + s;
      await first.nav.service.tick(START + s);
    }
    expect(await first.nav.service.view('r-1')).toMatchObject({ status: 'watching', ticks: 3 });
    // The crash: nothing closed, nothing flushed; the object is simply never used again.

    const second = await testNavigator({ storePath, start: START + 95 });
    dropped.push(second);
    feed(second);
    expect(await second.nav.service.restore()).toBe(1);
    const resumed = await second.nav.service.view('r-1');
    expect(resumed).toMatchObject({
      status: 'watching',
      ticks: 3,
      lastTick: new Date((START + 45) * 1000).toISOString(),
    });

    // Down from +45 to +95: the first tick after the restart judges +60, +75 and +90 from the source.
    await second.nav.service.tick(START + 90);
    expect((await second.nav.service.view('r-1')).ticks).toBe(6);
    for (let s = 105; s <= 300 && (await second.nav.service.view('r-1')).status === 'watching'; s += 15) {
      second.clock.now = START + s;
      await second.nav.service.tick(START + s);
    }
    const final = await second.nav.service.view('r-1');
    expect(final.status).toBe('halted');
    expect(final.failedSignal).toBe('orders');
    expect(Date.parse(final.decidedAt as string) / 1000).toBeLessThanOrEqual(COLLAPSE + 90);
    expect(final.ticks).toBeGreaterThan(6);
    const gate = await second.nav.app.inject({
      method: 'GET',
      url: '/v1/deploys/r-1/gate',
      headers: second.auth('ci-token'),
    });
    expect(gate.statusCode).toBe(409);
    // The halt was recorded with its per-signal verdicts, in the same file.
    expect(await second.nav.store.verdicts('r-1')).toMatchObject([{ signal: 'orders', outcome: 'fail' }]);
    const actions = (await second.nav.store.audit(0, 100, 'r-1')).map((a) => a.action);
    expect(actions).toEqual(['register', 'halt']);
  });

  it('a restart before the first tick starts the watch from its registration, not from the restart', async () => {
    const storePath = join(mkdtempSync(join(tmpdir(), 'navigator-restart-')), 'navigator.db');
    const first = await testNavigator({ storePath, start: START });
    dropped.push(first);
    await first.nav.app.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: first.auth('ci-token'),
      payload: { id: 'r-2', service: 'checkout', version: 'v2', baselineVersion: 'v1' },
    });
    const second = await testNavigator({ storePath, start: START + 600 });
    dropped.push(second);
    feed(second);
    await second.nav.service.restore();
    await second.nav.service.tick(START + 60);
    const v = await second.nav.service.view('r-2');
    expect(v.startedAt).toBe(new Date(START * 1000).toISOString());
    expect(v.ticks).toBe(4);
  });
});
