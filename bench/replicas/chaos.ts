// bench/replicas (chaos): the failover target over many kills. Three real `navigator serve` replicas on a
// throwaway PostgreSQL (test/support/postgres.ts), the demo storefront as the metric target, and a real
// receiver in its own process (test/support/receiver-process.ts) that records every page with its
// Idempotency-Key and answers slowly (so deliveries are in flight for a while). 1 s ticks, the default lease
// (two ticks): compressed time.
// Each round: a new canary version gets 10% of the storefront's traffic, D deploys of it are registered on
// a random replica, the version collapses (orders x0.01) a few seconds later, every deploy must be halted and
// paged once. At a random moment of the round (uniform over its first seconds: before the collapse, while
// it is judged, while the halts and pages are being delivered) one replica is SIGKILLed: a random one, or,
// in every other round, the one holding the page lane while a page is in flight. A fresh replica replaces
// it at once. Measured per kill: how many ticks until each watch the victim held was taken by another
// replica (watch_leases.taken_at minus the kill time, in ticks); at the end, per deploy: halts in the audit
// log, pages received by key (duplicate: a deploy paged under more than one key, or a key delivered twice;
// lost: a halted deploy without a delivered page). Prints a summary and writes bench/results/replicas-chaos.json.
//   npm run build && node --import tsx bench/replicas/chaos.ts [--kills 20] [--deploys 3] [--seed 1]
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { Processes, freePort, waitUntil } from '../../test/support/processes.js';
import { startPostgres } from '../../test/support/postgres.js';
import { mulberry32 } from '../../test/support/random.js';
import { RemoteReceiver } from '../../test/support/remote-receiver.js';

const args = process.argv.slice(2);
const flag = (n: string, d: number) => (args.includes(n) ? Number(args[args.indexOf(n) + 1]) : d);
const KILLS = flag('--kills', 20);
const DEPLOYS = flag('--deploys', 3);
const SEED = flag('--seed', 1);
const TICK = 1; // seconds
const COLLAPSE_AFTER = 4; // seconds after registration
const KILL_WINDOW = 10; // seconds after registration the kill falls in, uniformly
const PAGE_DELAY_MS = 700;
const rng = mulberry32(SEED);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

const procs = new Processes();
const server = await startPostgres();
const url = await server.database('bench_chaos');
const db = new pg.Client({ connectionString: url });
try {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-chaos-bench-'));
  const rx = await RemoteReceiver.start(procs);
  await rx.delay(PAGE_DELAY_MS);
  const shop = await freePort();
  procs.storefront(shop);
  await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
  const control = (body: unknown) =>
    fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });
  const config = join(dir, 'navigator.yaml');
  writeFileSync(
    config,
    `server: { listen: "\${NAVIGATOR_LISTEN}" }
metrics: { source: scrape, scrape: { targets: [ "http://127.0.0.1:${shop}/metrics" ] } }
store: { url: "${url}", pool: 4 }
audit: { key: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
evaluation: { interval: ${TICK}s }
paging:
  delivery: { timeout: 3s }
  routes:
    oncall: { webhook: { url: "${rx.url}/pages" } }
services:
  checkout:
    page: [ oncall ]
    watchFor: 300s
    rollback: never
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
  );
  const replicas = new Map<string, { proc: ChildProcess; base: string }>();
  let serial = 0;
  const start = async () => {
    const id = `r${++serial}`;
    const port = await freePort();
    const proc = procs.navigator(['serve', '--config', config], {
      NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
      NAVIGATOR_REPLICA_ID: id,
    });
    const base = `http://127.0.0.1:${port}`;
    await waitUntil(`replica ${id}`, async () => proc.exitCode === null && (await fetch(`${base}/readyz`)).ok, 60_000);
    replicas.set(id, { proc, base });
  };
  const kill = async (id: string) => {
    const r = replicas.get(id);
    if (!r) return;
    r.proc.kill('SIGKILL');
    await new Promise((res) => r.proc.once('exit', res));
    replicas.delete(id);
  };
  for (let i = 0; i < 3; i++) await start();
  await db.connect();
  const q = async <R extends object>(sql: string, p: unknown[] = []) => (await db.query<R>(sql, p)).rows;
  const anyBase = () => [...replicas.values()][Math.floor(rng() * replicas.size)]?.base ?? '';

  const kills: {
    round: number;
    victim: string;
    at: number;
    phase: string;
    watchesHeld: number;
    pagesInFlight: number;
    resumeTicks: number[];
  }[] = [];
  const all: string[] = [];
  const started = Date.now();
  for (let round = 0; round < KILLS; round++) {
    const version = `v${round + 2}`;
    await control({ weights: { v1: 0.9, [version]: 0.1 }, behaviour: { [version]: { orders: 1 } } });
    await sleep(2000); // the new version's series exist before its deploys start
    const ids = Array.from({ length: DEPLOYS }, (_, j) => `c${round}-${j}`);
    const registeredAt = Date.now() / 1000;
    const base = anyBase();
    for (const id of ids) {
      const res = await fetch(`${base}/v1/deploys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, service: 'checkout', version, baselineVersion: 'v1', strategy: 'canary' }),
      });
      if (res.status !== 201) throw new Error(`register ${id}: ${res.status} ${await res.text()}`);
    }
    all.push(...ids);
    const killAt = registeredAt + rng() * KILL_WINDOW;
    const collapseAt = registeredAt + COLLAPSE_AFTER;
    let collapsed = false;
    const collapse = async () => {
      if (collapsed) return;
      collapsed = true;
      await control({ weights: { v1: 0.9, [version]: 0.1 }, behaviour: { [version]: { orders: 0.01 } } });
    };
    // Every other round the victim is the replica draining the page lane while a page is in flight.
    const laneRound = round % 2 === 1;
    let victim = '';
    for (;;) {
      const now = Date.now() / 1000;
      if (!collapsed && now >= collapseAt) await collapse();
      if (laneRound) {
        const inFlight = (await rx.requests('/pages')).some(
          (r) => r.answered === null && ids.some((id) => String(r.headers['idempotency-key']).includes(id)),
        );
        const lane = (await q<{ holder: string }>("SELECT holder FROM lane_leases WHERE lane LIKE 'route:oncall/%'"))[0]
          ?.holder;
        if (inFlight && lane && replicas.has(lane)) {
          victim = lane;
          break;
        }
        if (now > registeredAt + 40) break; // no page in flight was caught: a random kill instead
      } else if (now >= killAt) break;
      await sleep(laneRound ? 50 : 20);
    }
    if (!victim) victim = [...replicas.keys()][Math.floor(rng() * replicas.size)] ?? '';
    const held = (await q<{ deploy_id: string }>('SELECT deploy_id FROM watch_leases WHERE holder = $1', [victim])).map(
      (r) => r.deploy_id,
    );
    const inFlight = (await rx.requests('/pages')).filter((r) => r.answered === null).length;
    const status = new Map(
      (await q<{ id: string; status: string }>('SELECT id, status FROM deploys WHERE id = ANY($1)', [ids])).map((r) => [
        r.id,
        r.status,
      ]),
    );
    const t = Date.now() / 1000 - registeredAt;
    const phase =
      inFlight > 0
        ? 'mid-delivery'
        : [...status.values()].every((s) => s === 'watching')
          ? collapsed
            ? 'mid-watch, collapsed'
            : 'mid-watch'
          : 'after some halts';
    const killedAt = Date.now() / 1000;
    await kill(victim);
    const replacement = start();
    if (!collapsed) await collapse();
    // Each watch the victim held and that is still open: taken by another replica after how many ticks.
    const resumeTicks: number[] = [];
    for (const id of held) {
      const r = await waitUntil(
        `${id} taken over or decided`,
        async () =>
          (
            await q<{ holder: string | null; taken_at: number | null; status: string }>(
              `SELECT l.holder, l.taken_at, d.status FROM deploys d LEFT JOIN watch_leases l ON l.deploy_id = d.id
               WHERE d.id = $1`,
              [id],
            )
          ).find((x) => x.status !== 'watching' || (x.holder !== null && x.holder !== victim)),
        30_000,
      );
      if (r.status === 'watching' && r.taken_at !== null)
        resumeTicks.push(+((r.taken_at - killedAt) / TICK).toFixed(2));
    }
    await replacement;
    kills.push({
      round,
      victim,
      at: +t.toFixed(2),
      phase,
      watchesHeld: held.length,
      pagesInFlight: inFlight,
      resumeTicks,
    });
    await waitUntil(
      `round ${round}: every deploy halted and paged`,
      async () => {
        const halted = (
          await q<{ n: number }>("SELECT count(*)::int AS n FROM deploys WHERE id = ANY($1) AND status = 'halted'", [
            ids,
          ])
        )[0]?.n;
        const pending = (
          await q<{ n: number }>(
            "SELECT count(*)::int AS n FROM outbox WHERE status = 'pending' AND deploy_id = ANY($1)",
            [ids],
          )
        )[0]?.n;
        return halted === ids.length && pending === 0;
      },
      120_000,
    );
    console.log(
      `kill ${round + 1}/${KILLS}: ${victim} at +${t.toFixed(1)} s (${phase}, ${held.length} watches, ${inFlight} pages in flight), resumed after ${resumeTicks.join(', ') || '-'} ticks`,
    );
  }

  // Pages by deploy: one key each, delivered; a key received twice counts as a duplicate too.
  const pages = (await rx.requests('/pages')).filter((r) => r.answered !== null && r.answered < 300);
  const keysOf = new Map<string, Map<string, number>>();
  for (const p of pages) {
    const key = String(p.headers['idempotency-key']);
    const id = all.find((d) => key.includes(`${d}:`) || key.endsWith(d)) ?? /c\d+-\d+/.exec(key)?.[0] ?? key;
    const m = keysOf.get(id) ?? new Map<string, number>();
    m.set(key, (m.get(key) ?? 0) + 1);
    keysOf.set(id, m);
  }
  const audit = await q<{ action: string; deploy_id: string }>(
    "SELECT action, deploy_id FROM audit WHERE action = 'halt'",
  );
  const halts = all.map((id) => audit.filter((a) => a.deploy_id === id).length);
  const lost = all.filter((id) => !keysOf.has(id));
  const pagedTwice = all.filter((id) => (keysOf.get(id)?.size ?? 0) > 1);
  const redelivered = [...keysOf.values()].flatMap((m) => [...m.values()]).filter((n) => n > 1).length;
  const resumes = kills.flatMap((k) => k.resumeTicks);
  const result = {
    command: `npm run build && node --import tsx bench/replicas/chaos.ts --kills ${KILLS} --deploys ${DEPLOYS} --seed ${SEED}`,
    replicas: 3,
    tickSeconds: TICK,
    leaseTicks: 2,
    kills: kills.length,
    deploys: all.length,
    minutes: +((Date.now() - started) / 60_000).toFixed(1),
    phases: Object.fromEntries(
      [...new Set(kills.map((k) => k.phase))].map((p) => [p, kills.filter((k) => k.phase === p).length]),
    ),
    watchesTakenOver: resumes.length,
    resumeTicks: { median: median(resumes), max: Math.max(...resumes), over3: resumes.filter((x) => x > 3).length },
    deploysHaltedOnce: halts.filter((n) => n === 1).length,
    lostPages: lost.length,
    duplicatePages: pagedTwice.length + redelivered,
    pagedUnderTwoKeys: pagedTwice,
    keysDeliveredTwice: redelivered,
    perKill: kills,
    target:
      'a replica killed mid-watch: its watches resumed by another within 3 ticks; zero duplicate and zero lost pages over 20 kills',
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/replicas-chaos.json', `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    `${kills.length} kills (${Object.entries(result.phases)
      .map(([p, n]) => `${n} ${p}`)
      .join(
        ', ',
      )}): ${resumes.length} watches taken over, median ${result.resumeTicks.median} ticks, max ${result.resumeTicks.max} (${result.resumeTicks.over3} over 3); ` +
      `${result.deploysHaltedOnce}/${all.length} deploys halted once; ${result.lostPages} lost, ${result.duplicatePages} duplicate pages`,
  );
} finally {
  await db.end().catch(() => {});
  await procs.stopAll();
  await server.stop();
}
process.exit(0);
