// The store contract as tests: one suite, run against every engine (test/store-contract.test.ts runs it on
// a real SQLite file and a real PostgreSQL server). `open` gives a fresh, empty store; `reopen` a second
// handle on the same data (another process's connection: another replica).
import { describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../audit/verify.js';
import type { Store } from './types.js';

export interface ContractTarget {
  open(): Promise<Store>;
  reopen(s: Store): Promise<Store>;
}

/** A deploy row as a store takes it (also for tests of what sits on a store). */
export const deployRow = (id: string, over: Record<string, unknown> = {}) => ({
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

export function storeContract(engine: string, target: () => ContractTarget): void {
  const stores: Store[] = [];
  const open = async () => {
    const s = await target().open();
    stores.push(s);
    return s;
  };
  const reopen = async (s: Store) => {
    const r = await target().reopen(s);
    stores.push(r);
    return r;
  };
  const cleanup = async () => {
    for (const s of stores.splice(0)) await s.close();
  };

  describe(`store contract: ${engine}`, () => {
    it('commits a transaction whole or not at all, and a failed savepoint only its own part', async () => {
      const s = await open();
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

      await s.transaction(async () => {
        await s.insertDeploy(deployRow('d-2'));
        await s.appendAudit(101, 'ci', 'register', 'd-2', {});
        await s
          .transaction(async () => {
            await s.enqueue('page:d-2', 'page', 'd-2', {}, 101);
            await s.appendAudit(101, 'navigator', 'listener', 'd-2', {});
            throw new Error('listener broke');
          })
          .catch(() => {});
        await s.enqueue('halt:d-2', 'halt', 'd-2', {}, 101);
      });
      expect((await s.effects('d-2')).map((e) => e.key)).toEqual(['halt:d-2']);
      expect((await s.audit()).map((a) => a.action)).toEqual(['register']);
      await cleanup();
    });

    it('keeps the watch state in its own row, read back with the deploy; lists newest first', async () => {
      const s = await open();
      await s.insertDeploy(deployRow('d-1'));
      await s.insertDeploy(deployRow('d-2'));
      expect((await s.getDeploy('d-1'))?.watch).toBeNull();
      await s.saveWatch('d-1', '{"lastTick":1}', 110);
      await s.saveWatch('d-1', '{"lastTick":2}', 125);
      expect((await s.getDeploy('d-1'))?.watch).toBe('{"lastTick":2}');
      await s.updateDeploy('d-1', { status: 'halted', reason: 'orders fell', decided_at: 125 }, 126);
      const row = await s.getDeploy('d-1');
      expect([row?.status, row?.reason, row?.decided_at, row?.updated_at]).toEqual(['halted', 'orders fell', 125, 126]);
      // the gate's narrow read: status and reason only, no judge state
      expect(await s.deployGate('d-1')).toEqual({ status: 'halted', reason: 'orders fell' });
      expect(await s.deployGate('nope')).toBeUndefined();
      expect((await s.listDeploys('halted')).map((r) => r.id)).toEqual(['d-1']);
      expect((await s.listDeploys()).map((r) => r.id)).toEqual(['d-2', 'd-1']); // same time: the later first
      expect((await s.deploysStartedBetween(50, 150)).map((r) => r.id).sort()).toEqual(['d-1', 'd-2']);
      expect(await s.deploysStartedBetween(150, 250)).toEqual([]);
      await cleanup();
    });

    it('appends watch tick records in order, writes checkpoints with them, and drops a prefix', async () => {
      const s = await open();
      await s.insertDeploy(deployRow('d-1'));
      await s.insertDeploy(deployRow('d-2'));
      const first = await s.saveWatchTicks({
        ticks: [
          { deployId: 'd-1', at: 115, record: '{"t":115}' },
          { deployId: 'd-2', at: 115, record: '{"t":115,"x":2}' },
        ],
        checkpoints: [],
        dropThrough: null,
        now: 116,
      });
      const second = await s.saveWatchTicks({
        ticks: [{ deployId: 'd-1', at: 130, record: '{"t":130}' }],
        checkpoints: [{ deployId: 'd-2', state: '{"lastTick":130}' }],
        dropThrough: null,
        now: 131,
      });
      expect(second).toBeGreaterThan(first);
      expect((await s.watchTicks()).map((r) => [r.deploy_id, r.at, r.record])).toEqual([
        ['d-1', 115, '{"t":115}'],
        ['d-2', 115, '{"t":115,"x":2}'],
        ['d-1', 130, '{"t":130}'],
      ]);
      expect((await s.getDeploy('d-2'))?.watch).toBe('{"lastTick":130}');
      // Dropping every record the checkpoints superseded; the seq keeps growing past an emptied log.
      const third = await s.saveWatchTicks({ ticks: [], checkpoints: [], dropThrough: second, now: 132 });
      expect(third).toBe(second);
      expect(await s.watchTicks()).toEqual([]);
      const fourth = await s.saveWatchTicks({
        ticks: [{ deployId: 'd-1', at: 145, record: '{"t":145}' }],
        checkpoints: [],
        dropThrough: null,
        now: 146,
      });
      expect(fourth).toBeGreaterThan(second);
      // A checkpoint of a deploy that does not exist fails the whole write (its records too).
      await expect(
        s.saveWatchTicks({
          ticks: [{ deployId: 'd-1', at: 160, record: '{"t":160}' }],
          checkpoints: [{ deployId: 'ghost', state: '{}' }],
          dropThrough: null,
          now: 161,
        }),
      ).rejects.toThrow(/foreign key/i);
      expect((await s.watchTicks()).map((r) => r.at)).toEqual([145]);
      await cleanup();
    });

    it("fences a replica's tick records by its heartbeat, reads one watch's records, drops only its own", async () => {
      const a = await open();
      const b = await reopen(a);
      for (const id of ['w-1', 'w-2', 'w-3', 'w-4']) await a.insertDeploy(deployRow(id));
      await a.leaseWatches('A', 1000, 30);
      await b.leaseWatches('B', 1001, 30);
      const rec = (id: string, t: number) => ({ deployId: id, at: t, record: `{"t":${t}}` });
      // Live heartbeats: each replica appends its own watches' records.
      const s1 = await a.saveWatchTicks({
        ticks: [rec('w-1', 1015)],
        checkpoints: [],
        dropThrough: null,
        holder: 'A',
        now: 1016,
      });
      await b.saveWatchTicks({ ticks: [rec('w-3', 1015)], checkpoints: [], dropThrough: null, holder: 'B', now: 1016 });
      await a.leaseWatches('A', 1020, 30); // renewed until 1050
      await a.saveWatchTicks({ ticks: [rec('w-1', 1030)], checkpoints: [], dropThrough: null, holder: 'A', now: 1031 });
      expect((await b.watchTicks(['w-1'])).map((r) => r.at)).toEqual([1015, 1030]);
      expect((await b.watchTicks(['w-3', 'w-9'])).map((r) => [r.deploy_id, r.at])).toEqual([['w-3', 1015]]);
      // A checkpoint of w-1 drops A's records up to it, never B's (dropFor: the writer's own watches).
      await a.saveWatchTicks({
        ticks: [],
        checkpoints: [{ deployId: 'w-1', state: '{"lastTick":1030}' }],
        dropThrough: s1 + 10,
        dropFor: ['w-1', 'w-2'],
        holder: 'A',
        now: 1032,
      });
      expect((await a.watchTicks()).map((r) => r.deploy_id)).toEqual(['w-3']);
      expect(await a.replicaLive('A', 1032)).toBe(true);
      // Between rounds the heartbeat alone keeps A live (until 1063 here); a round of B cannot declare it dead.
      expect(await a.renewHeartbeat('A', 1033, 30)).toBe(true);
      expect((await b.leaseWatches('B', 1055, 30)).held).toHaveLength(2);
      expect(await a.renewHeartbeat('A', 1034, 15)).toBe(true); // back to 1049
      // A stalls past its heartbeat; B declares it dead in its lease round: A writes nothing from then on.
      await b.leaseWatches('B', 1035, 30);
      const lost = await b.leaseWatches('B', 1050, 30);
      expect(lost.held).toHaveLength(4);
      expect(await a.replicaLive('A', 1050)).toBe(false);
      expect(await a.renewHeartbeat('A', 1050, 30)).toBe(false); // declared dead: only a lease round restarts it
      await expect(
        a.saveWatchTicks({ ticks: [rec('w-1', 1045)], checkpoints: [], dropThrough: null, holder: 'A', now: 1046 }),
      ).rejects.toThrow(/heartbeat lapsed/);
      expect(await b.watchTicks(['w-1'])).toEqual([]);
      // Back, A finds its heartbeat gone and its watches B's: it starts afresh, with nothing yet to take.
      const back = await a.leaseWatches('A', 1051, 30);
      expect(back.held).toEqual([]);
      expect(back.replicas).toBe(2);
      await cleanup();
    });

    it('numbers stages, replaces verdicts, records approvals by phase and overrides; refuses duplicates and orphans', async () => {
      const s = await open();
      await s.insertDeploy(deployRow('d-1'));
      await s.addStage({ deploy_id: 'd-1', at: 100, weight: 0.1, actor: 'ci', created_at: 100 });
      await s.addStage({ deploy_id: 'd-1', at: 200, weight: 0.5, actor: 'ci', created_at: 201 });
      expect((await s.stages('d-1')).map((x) => [x.seq, x.weight])).toEqual([
        [1, 0.1],
        [2, 0.5],
      ]);
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
      await s.addApproval({ ...approval, phase: 'promote', at: 150, identities: '["alice"]' });
      await expect(s.addApproval({ ...approval, phase: 'promote' })).rejects.toThrow(/unique|duplicate/i);
      expect((await s.approvals('d-1')).map((a) => [a.phase, a.at])).toEqual([
        ['start', 140],
        ['promote', 150],
      ]);
      expect((await s.approvals('d-1', 'promote'))[0]?.identities).toBe('["alice"]');
      await s.addOverride({
        deploy_id: 'd-1',
        actor: 'root',
        action: 'halt',
        reason: 'smells',
        from_status: 'watching',
        to_status: 'halted',
        at: 160,
      });
      expect(await s.overrides('d-1')).toMatchObject([{ action: 'halt', reason: 'smells', to_status: 'halted' }]);
      await expect(s.saveWatch('ghost', '{}', 1)).rejects.toThrow(/foreign key/i);
      await cleanup();
    });

    it('chains the audit log densely, signs checkpoints, and keeps one chain under two concurrent writers', async () => {
      const s = await open();
      const t = await reopen(s);
      const seen: number[] = [];
      const key = Buffer.alloc(32, 7);
      await s.setAuditSigner({ key, every: 5, onCheckpoint: (c) => seen.push(c.seq) });
      await t.setAuditSigner({ key, every: 5, onCheckpoint: (c) => seen.push(c.seq) });
      await s.appendAudit(1, 'ci', 'register', null, { a: 1 });
      await expect(
        s.transaction(async () => {
          await s.appendAudit(2, 'ci', 'lost', null, {});
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      // Two handles (two replicas) appending at once, each inside transactions of its own.
      await Promise.all(
        [s, t].flatMap((store, k) =>
          Array.from({ length: 10 }, (_, i) =>
            store.transaction(async () => {
              await store.appendAudit(10 + i, k ? 'bob' : 'alice', 'approve', null, { i, k });
            }),
          ),
        ),
      );
      const rows = await s.audit();
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect(rows.some((r) => r.action === 'lost')).toBe(false);
      expect(verifyAuditChain(rows).ok).toBe(true);
      expect(await s.auditSequence()).toBe(21);
      expect(await s.auditHead()).toEqual({ seq: 21, hash: rows[20]?.hash });
      expect((await s.auditAt(3))?.hash).toBe(rows[2]?.hash);
      expect((await s.checkpoints()).map((c) => c.seq)).toEqual([5, 10, 15, 20]);
      expect(seen.sort((a, b) => a - b)).toEqual([5, 10, 15, 20]);
      expect((await s.audit(19, 10)).map((r) => r.seq)).toEqual([20, 21]);
      await cleanup();
    });

    it('queues an effect once per key and drains it by lane, refresh and supersede', async () => {
      const s = await open();
      expect(await s.enqueue('halt:d-1', 'halt', null, { x: 1 }, 10)).toBe(true);
      expect(await s.enqueue('halt:d-1', 'halt', null, { x: 2 }, 11)).toBe(false);
      const [due] = await s.dueEffects(10);
      expect(JSON.parse(due!.payload)).toEqual({ x: 1 });
      await s.retryEffect(due!.id, 20, 'HTTP 503');
      expect(await s.dueEffects(19)).toEqual([]);
      await s.finishEffect(due!.id, 'done', 21);
      expect(await s.dueEffects(100)).toEqual([]);

      const meta = {
        lane: 'route:oncall/webhook',
        route: 'oncall',
        provider: 'webhook',
        pageKey: 'navigator/x/d-2/alert:abc',
      };
      await s.enqueue('page:t', 'page:webhook:trigger', null, {}, 30, 30, { ...meta, action: 'trigger' });
      await s.enqueue('page:r', 'page:webhook:resolve', null, {}, 30, 40, { ...meta, action: 'resolve' });
      expect(await s.dueLanes(31)).toEqual(['route:oncall/webhook']);
      expect(await s.outboxBacklog()).toEqual({ pending: 2, oldest: 30 });
      const [t] = await s.dueInLane('route:oncall/webhook', 31);
      await s.claimEffect(t!.id, 31);
      expect((await s.effectByKey('page:t'))?.claimed_at).toBe(31);
      await s.failAttempt(t!.id, 31, 35, 'HTTP 500');
      expect(await s.effectByKey('page:t')).toMatchObject({ attempts: 1, first_failed_at: 31, claimed_at: null });
      await s.markEscalated(t!.id);
      await s.delivered(t!.id, 36, 96);
      expect(await s.effectByKey('page:t')).toMatchObject({ status: 'done', sends: 1, refresh_at: 96, escalated: 1 });
      expect((await s.dueInLane('route:oncall/webhook', 100)).map((r) => r.key)).toEqual(['page:t', 'page:r']);
      await s.rescheduleRefresh(t!.id, 120, 'timeout');
      expect((await s.pagesEndingWith('/alert:abc')).map((r) => r.key)).toEqual(['page:t']);
      await s.supersede(meta.pageKey, 'oncall', 'webhook', 130);
      expect((await s.effectByKey('page:t'))?.refresh_at).toBeNull();
      await s.supersede(meta.pageKey, null, 'webhook', 130); // another route: untouched
      expect(await s.outboxBacklog()).toEqual({ pending: 1, oldest: 30 });
      await cleanup();
    });

    it('lets no other write into an open transaction', async () => {
      const s = await open();
      await s.insertDeploy(deployRow('d-1'));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const tx = s.transaction(async () => {
        await s.updateDeploy('d-1', { reason: 'inside' }, 200);
        await gate;
        throw new Error('undone');
      });
      // Another caller's write while the transaction is open: it lands after the rollback, never inside it.
      const outside = s.updateDeploy('d-1', { status: 'ended' }, 201);
      await new Promise((r) => setTimeout(r, 50));
      release();
      await expect(tx).rejects.toThrow('undone');
      await outside;
      const row = await s.getDeploy('d-1');
      expect([row?.status, row?.reason]).toEqual(['ended', 'watching']);
      expect((await s.lockDeploy('d-1'))?.status).toBe('ended');
      await cleanup();
    });

    it('shares open watches under leases: a fair share each, renewed, taken over once expired, released', async () => {
      const a = await open();
      const b = await reopen(a);
      for (let i = 0; i < 6; i++) await a.insertDeploy(deployRow(`w-${i}`, { created_at: 100 + i }));
      await a.insertDeploy(deployRow('closed', { status: 'halted' }));
      const first = await a.leaseWatches('A', 1000, 30);
      expect(first.held).toHaveLength(6); // alone: everything
      expect(first.replicas).toBe(1);
      const second = await b.leaseWatches('B', 1001, 30);
      expect(second.held).toEqual([]); // all leased to A, and A's leases are live
      expect(second.replicas).toBe(2);
      const shed = await a.leaseWatches('A', 1010, 30);
      expect(shed.held).toHaveLength(3); // two replicas: A keeps its share and gives the rest back
      expect(shed.released).toHaveLength(3);
      const join = await b.leaseWatches('B', 1011, 30);
      expect(join.taken.sort()).toEqual([...shed.released].sort());
      expect(new Set([...shed.held, ...join.held]).size).toBe(6);
      // B dies: A renews, and takes B's watches once their lease has expired, not before.
      expect((await a.leaseWatches('A', 1030, 30)).held.sort()).toEqual([...shed.held].sort());
      expect((await a.leaseWatches('A', 1042, 30)).taken.sort()).toEqual([...join.held].sort());
      expect((await a.leaseWatches('A', 1043, 30)).held).toHaveLength(6);
      // A closed watch is nobody's; a stopping replica's watches are free at once.
      await a.updateDeploy('w-0', { status: 'halted' }, 1044);
      expect((await a.leaseWatches('A', 1044, 30)).held).not.toContain('w-0');
      await a.releaseLeases('A');
      expect((await b.leaseWatches('B', 1045, 30)).held).toHaveLength(5);
      await cleanup();
    });

    it('tells which of some deploys were written since a time (a stage posted to another replica)', async () => {
      const a = await open();
      const b = await reopen(a);
      for (const id of ['u-1', 'u-2', 'u-3']) await a.insertDeploy(deployRow(id));
      await b.updateDeploy('u-2', { deploy: '{"stages":[1,2]}' }, 500);
      await b.updateDeploy('u-3', { deploy: '{"stages":[3]}' }, 400);
      expect(await a.deploysUpdatedSince(['u-1', 'u-2', 'u-3'], 450)).toEqual([
        { id: 'u-2', deploy: '{"stages":[1,2]}' },
      ]);
      expect((await a.deploysUpdatedSince(['u-1', 'u-3'], 300)).map((r) => r.id)).toEqual(['u-3']);
      expect(await a.deploysUpdatedSince([], 0)).toEqual([]);
      await cleanup();
    });

    it('splits the watches evenly: 4 over 3 replicas are 2/1/1, 10 over 3 are 4/3/3', async () => {
      const s = await open();
      const [a, b, c] = [s, await reopen(s), await reopen(s)];
      for (let i = 0; i < 4; i++) await s.insertDeploy(deployRow(`w-${i}`, { created_at: 100 + i }));
      const round = async (t: number) => [
        (await a.leaseWatches('A', t, 30)).held.length,
        (await b.leaseWatches('B', t, 30)).held.length,
        (await c.leaseWatches('C', t, 30)).held.length,
      ];
      await round(1000);
      await round(1001);
      expect(await round(1002)).toEqual([2, 1, 1]);
      for (let i = 4; i < 10; i++) await s.insertDeploy(deployRow(`w-${i}`, { created_at: 100 + i }));
      await round(1003);
      await round(1004);
      expect(await round(1005)).toEqual([4, 3, 3]);
      await cleanup();
    });

    it('keeps sign-in sessions for every handle until they expire, with a one-time flash, bounded', async () => {
      const a = await open();
      const b = await reopen(a);
      const row = (id: string, at: number) => ({
        id,
        actor: JSON.stringify({ name: 'alice', role: 'approver' }),
        csrf: `csrf-${id}`,
        flash: null,
        created_at: at,
        expires_at: at + 100,
      });
      await a.createSession(row('s-1', 1000), 1000, 3);
      // Another replica's handle sees it at once.
      expect(await b.session('s-1', 1050)).toMatchObject({ id: 's-1', csrf: 'csrf-s-1', expires_at: 1100 });
      await b.setSessionFlash('s-1', 'Approved by alice.');
      expect((await a.session('s-1', 1051))?.flash).toBe('Approved by alice.');
      await a.setSessionFlash('s-1', null);
      expect((await b.session('s-1', 1052))?.flash).toBeNull();
      // Expired: unknown wherever it is read, and dropped by the next sign-in.
      expect(await b.session('s-1', 1100)).toBeUndefined();
      await a.createSession(row('s-2', 1101), 1101, 3);
      expect(await a.session('s-1', 0)).toBeUndefined();
      // Bounded: beyond `keep`, the oldest go.
      await a.createSession(row('s-3', 1102), 1102, 3);
      await a.createSession(row('s-4', 1103), 1103, 3);
      await a.createSession(row('s-5', 1104), 1104, 3);
      const left = [];
      for (const id of ['s-2', 's-3', 's-4', 's-5']) if (await b.session(id, 1104)) left.push(id);
      expect(left).toEqual(['s-3', 's-4', 's-5']);
      // Signed out on one replica: signed out on all.
      await b.deleteSession('s-4');
      expect(await a.session('s-4', 1104)).toBeUndefined();
      await cleanup();
    });

    it('gives an outbox lane to one worker at a time until its lease expires', async () => {
      const a = await open();
      const b = await reopen(a);
      expect(await a.claimLane('route:oncall/webhook', 'A', 100, 10)).toBe(true);
      expect(await b.claimLane('route:oncall/webhook', 'B', 101, 10)).toBe(false);
      expect(await b.claimLane('hooks:checkout', 'B', 101, 10)).toBe(true);
      expect(await a.claimLane('route:oncall/webhook', 'A', 105, 10)).toBe(true); // renewed to 115
      expect(await b.claimLane('route:oncall/webhook', 'B', 112, 10)).toBe(false);
      expect(await b.claimLane('route:oncall/webhook', 'B', 116, 10)).toBe(true); // A died
      await b.releaseLane('route:oncall/webhook', 'B');
      expect(await a.claimLane('route:oncall/webhook', 'A', 117, 10)).toBe(true);
      await cleanup();
    });
  });
}
