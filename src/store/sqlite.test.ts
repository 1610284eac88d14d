import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../audit/verify.js';
import { MIGRATIONS } from './migrations.js';
import { SqliteStore } from './sqlite.js';

const open: SqliteStore[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const tempPath = () => join(mkdtempSync(join(tmpdir(), 'navigator-store-')), 'sub', 'navigator.db');
const store = (path = tempPath()) => {
  const s = new SqliteStore(path);
  open.push(s);
  return s;
};
const deployRow = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  service: 'checkout',
  input: JSON.stringify({ id }),
  deploy: JSON.stringify({ id, startedAt: 100, stages: [{ at: 100, weight: 0.1 }] }),
  status: 'watching',
  reason: 'watching',
  hold: null,
  created_at: 100,
  ...over,
});

describe('SqliteStore', () => {
  it('creates its folder, runs every migration once, in WAL mode', async () => {
    const path = tempPath();
    const s = store(path);
    expect(s.version).toBe(MIGRATIONS.at(-1)?.version);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    await s.insertDeploy(deployRow('d-1'));
    await s.close();
    const again = store(path);
    expect((await again.getDeploy('d-1'))?.service).toBe('checkout');
    expect((again.db.prepare('SELECT count(*) AS n FROM schema_version').get() as { n: number }).n).toBe(
      MIGRATIONS.length,
    );
  });

  it('migrates a version-1 file with data: watch state, stages and approvals move to their tables', async () => {
    const path = tempPath();
    const s = store(path);
    await s.close();
    // Rebuild the file at version 1, as the first release wrote it.
    const raw = new Database(path);
    raw.exec('DROP TABLE watches; DROP TABLE stages; DROP TABLE verdicts; DROP TABLE overrides; DROP TABLE approvals;');
    raw.exec('DROP TABLE deploys; DROP TABLE audit; DROP TABLE outbox; DELETE FROM schema_version;');
    raw.exec(MIGRATIONS[0]!.sql);
    raw.prepare('INSERT INTO schema_version VALUES (1, 0)').run();
    raw
      .prepare(
        `INSERT INTO deploys (id, service, input, deploy, status, reason, watch, created_at, updated_at)
         VALUES ('old', 'checkout', '{}', ?, 'watching', '', '{"lastTick":120}', 100, 130)`,
      )
      .run(
        JSON.stringify({
          id: 'old',
          stages: [
            { at: 100, weight: 0.1 },
            { at: 200, weight: 0.5 },
          ],
        }),
      );
    raw.prepare("INSERT INTO approvals VALUES ('old', 'alice', 'approver', 'ok', 150)").run();
    raw.close();

    const m = store(path);
    expect(m.version).toBe(MIGRATIONS.at(-1)?.version); // every later migration applied too
    expect((await m.getDeploy('old'))?.watch).toBe('{"lastTick":120}');
    expect((await m.stages('old')).map((x) => [x.seq, x.at, x.weight])).toEqual([
      [1, 100, 0.1],
      [2, 200, 0.5],
    ]);
    expect((await m.approvals('old', 'promote')).map((a) => a.approver)).toEqual(['alice']);
  });

  it('commits a transaction whole or not at all', async () => {
    const s = store();
    await expect(
      s.transaction(async () => {
        await s.insertDeploy(deployRow('d-1'));
        await s.addStage({ deploy_id: 'd-1', at: 100, weight: 0.1, actor: 'ci', created_at: 100 });
        await s.appendAudit(100, 'ci', 'register', 'd-1', {});
        throw new Error('crash in the middle');
      }),
    ).rejects.toThrow('crash');
    expect(await s.getDeploy('d-1')).toBeUndefined();
    expect(await s.stages('d-1')).toEqual([]);
    expect(await s.audit()).toEqual([]);
  });

  it('keeps the watch state in its own row, read back with the deploy', async () => {
    const s = store();
    await s.insertDeploy(deployRow('d-1'));
    expect((await s.getDeploy('d-1'))?.watch).toBeNull();
    await s.saveWatch('d-1', '{"lastTick":1}', 110);
    await s.saveWatch('d-1', '{"lastTick":2}', 125);
    expect((await s.getDeploy('d-1'))?.watch).toBe('{"lastTick":2}');
    await s.updateDeploy('d-1', { status: 'halted', reason: 'orders fell', decided_at: 125 }, 126);
    const row = await s.getDeploy('d-1');
    expect([row?.status, row?.reason, row?.decided_at, row?.updated_at]).toEqual(['halted', 'orders fell', 125, 126]);
    expect((await s.listDeploys('halted')).map((r) => r.id)).toEqual(['d-1']);
    expect(await s.listDeploys('watching')).toEqual([]);
  });

  it('numbers stages, replaces verdicts, records approvals by phase and overrides', async () => {
    const s = store();
    await s.insertDeploy(deployRow('d-1'));
    await s.addStage({ deploy_id: 'd-1', at: 100, weight: 0.1, actor: 'ci', created_at: 100 });
    await s.addStage({ deploy_id: 'd-1', at: 200, weight: 0.5, actor: 'ci', created_at: 201 });
    expect((await s.stages('d-1')).map((x) => x.seq)).toEqual([1, 2]);

    await s.saveVerdicts('d-1', [
      { signal: 'orders', outcome: 'watching', decided_at: null, evidence: null, recorded_at: 1 },
    ]);
    await s.saveVerdicts('d-1', [
      { signal: 'orders', outcome: 'fail', decided_at: 130, evidence: '{"statistic":9}', recorded_at: 2 },
      { signal: 'errors', outcome: 'pass', decided_at: 130, evidence: null, recorded_at: 2 },
    ]);
    expect((await s.verdicts('d-1')).map((v) => [v.signal, v.outcome])).toEqual([
      ['errors', 'pass'],
      ['orders', 'fail'],
    ]);

    const approval = { deploy_id: 'd-1', approver: 'alice', role: 'approver', comment: '', at: 140 } as const;
    await s.addApproval({ ...approval, phase: 'start' });
    await s.addApproval({ ...approval, phase: 'promote', at: 150 });
    await expect(s.addApproval({ ...approval, phase: 'promote' })).rejects.toThrow(/UNIQUE/);
    expect((await s.approvals('d-1')).length).toBe(2);
    expect((await s.approvals('d-1', 'start')).map((a) => a.at)).toEqual([140]);

    await s.addOverride({
      deploy_id: 'd-1',
      actor: 'root',
      action: 'halt',
      reason: 'smells',
      from_status: 'watching',
      to_status: 'halted',
      at: 160,
    });
    expect(await s.overrides('d-1')).toMatchObject([{ id: 1, action: 'halt', reason: 'smells', to_status: 'halted' }]);
  });

  it('refuses rows for a deploy it does not know (foreign keys)', async () => {
    const s = store();
    await expect(s.saveWatch('ghost', '{}', 1)).rejects.toThrow(/FOREIGN KEY/);
  });

  it('chains the audit log', async () => {
    const s = store();
    await s.appendAudit(1, 'ci', 'register', null, { a: 1 });
    await s.appendAudit(2, 'alice', 'approve', null, { comment: 'ok' });
    const rows = await s.audit();
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
    expect(verifyAuditChain(rows).ok).toBe(true);
    s.db.prepare('UPDATE audit SET detail = \'{"comment":"no"}\' WHERE seq = 2').run();
    expect(verifyAuditChain(await s.audit()).ok).toBe(false);
  });

  it('queues an effect once per key', async () => {
    const s = store();
    expect(await s.enqueue('halt:d-1', 'halt', null, { x: 1 }, 10)).toBe(true);
    expect(await s.enqueue('halt:d-1', 'halt', null, { x: 2 }, 11)).toBe(false);
    const [due] = await s.dueEffects(10);
    expect(JSON.parse(due!.payload)).toEqual({ x: 1 });
    await s.retryEffect(due!.id, 20, 'HTTP 503');
    expect(await s.dueEffects(19)).toEqual([]);
    await s.finishEffect(due!.id, 'done', 21);
    expect(await s.dueEffects(100)).toEqual([]);
  });
});
