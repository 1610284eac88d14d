// Watch state written in proportion to change (src/deploys/watch-log.ts): a tick appends a compact record per
// watch, the whole state is written every CHECKPOINT_TICKS of a watch's ticks. Dropped after any tick without
// closing anything (what SIGKILL leaves: the SQLite file as the last commit left it), a new Navigator on the
// same file restores every watch to exactly the state the first one had (checkpoint + replayed records),
// the log stays bounded, and the records are small. (The real-process SIGKILL is test/restart.test.ts.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { serializeWatch } from '../src/watch/persist.js';
import { CHECKPOINT_TICKS } from '../src/watch/tick-log.js';
import { testNavigator, type TestNavigator } from './support/navigator.js';
import { mulberry32, poisson } from './support/random.js';

const dropped: TestNavigator[] = [];
afterAll(async () => {
  for (const t of dropped) await t.nav.close();
});

const START = Date.parse('2025-11-27T10:00:00Z') / 1000;
const WATCHES = 12;
const CONFIG = `
evaluation: { interval: 15s }
server: { listen: "127.0.0.1:0" }
services:
  checkout:
    watchFor: 6h
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: checkout, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: checkout } }
`;

/** Baseline v0 and canaries v1..v12 at 15 s samples; some ticks miss a sample (gaps), for variety. */
function feed(t: TestNavigator, until: number): void {
  const rng = mulberry32(7);
  const totals = new Map<string, number>();
  for (let s = START - 300; s <= until; s += 15) {
    for (let v = 0; v <= WATCHES; v++) {
      const share = v === 0 ? 1 : 0.1 / WATCHES;
      for (const [metric, code, rate] of [
        ['orders_total', null, 20],
        ['http_requests_total', '200', 200],
        ['http_requests_total', '500', 2],
      ] as const) {
        const labels: Record<string, string> = { service: 'checkout', version: `v${v}`, ...(code ? { code } : {}) };
        const key = JSON.stringify([metric, labels]);
        const value = (totals.get(key) ?? 0) + poisson(rng, rate * 15 * share);
        totals.set(key, value);
        if (v > 0 && rng() < 0.05) continue; // a missed scrape
        t.metrics.append(metric, labels, s, value);
      }
    }
  }
}

async function states(t: TestNavigator): Promise<Map<string, string>> {
  return new Map(t.nav.service.watcher.watches().map((w) => [w.deploy.id, serializeWatch(w)]));
}

describe('watch state as tick records and checkpoints', () => {
  it('restores every watch exactly after a crash at any tick, with a bounded log of small records', async () => {
    const storePath = join(mkdtempSync(join(tmpdir(), 'navigator-ticklog-')), 'navigator.db');
    const first = await testNavigator({ storePath, start: START, config: CONFIG });
    dropped.push(first);
    const ticks = 2 * CHECKPOINT_TICKS + 10;
    feed(first, START + ticks * 15);
    for (let v = 1; v <= WATCHES; v++) {
      const r = await first.nav.app.inject({
        method: 'POST',
        url: '/v1/deploys',
        headers: first.auth('ci-token'),
        payload: {
          id: `d-${v}`,
          service: 'checkout',
          version: `v${v}`,
          baselineVersion: 'v0',
          startedAt: new Date(START * 1000).toISOString(),
          stages: [{ at: new Date(START * 1000).toISOString(), weight: 0.1 / WATCHES }],
        },
      });
      expect(r.statusCode).toBe(201);
    }
    const db = new Database(storePath, { readonly: true });
    const rows = () =>
      db.prepare('SELECT count(*) AS n, avg(length(record)) AS len FROM watch_ticks').get() as {
        n: number;
        len: number | null;
      };
    // Crash points: early (records only), around the first checkpoints, and after the log was trimmed.
    const crashAt = new Set([3, CHECKPOINT_TICKS - 1, CHECKPOINT_TICKS + 5, ticks]);
    let maxRows = 0;
    for (let k = 1; k <= ticks; k++) {
      first.clock.now = START + k * 15 + 1;
      await first.nav.service.tick(START + k * 15);
      maxRows = Math.max(maxRows, rows().n);
      if (k === 40) {
        // A stage in the middle: the whole state is saved with it, records go on after it.
        const s = await first.nav.app.inject({
          method: 'POST',
          url: '/v1/deploys/d-3/stages',
          headers: first.auth('ci-token'),
          payload: { weight: 0.2 / WATCHES },
        });
        expect(s.statusCode).toBe(200);
      }
      if (!crashAt.has(k)) continue;
      const want = await states(first);
      expect(want.size).toBe(WATCHES);
      // The crash: the first process is simply never used again; a second one opens the same file.
      const second = await testNavigator({ storePath, start: first.clock.now, config: CONFIG });
      dropped.push(second);
      expect(await second.nav.service.restore()).toBe(WATCHES);
      const got = await states(second);
      for (const [id, state] of want) expect(got.get(id), `${id} after tick ${k}`).toBe(state);
    }
    // Records are dropped once every watch has checkpointed past them: at most about two intervals' worth.
    expect(maxRows).toBeLessThanOrEqual(WATCHES * (2 * CHECKPOINT_TICKS + 2));
    expect(rows().n).toBeLessThan(WATCHES * ticks);
    // A record is a hundred-odd bytes (the whole state is kilobytes).
    expect(rows().len).toBeLessThan(200);
    const state = (await states(first)).get('d-1') as string;
    expect(state.length).toBeGreaterThan(1000);
    db.close();
  }, 120_000);
});
