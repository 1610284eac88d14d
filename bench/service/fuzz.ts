// bench/service (fuzz): resident memory of `navigator serve` (the built CLI, as users run it) under a request
// fuzz: concurrent clients sending valid and invalid registrations, bodies at and over the limit, bad JSON,
// deep nesting, wrong content types, unauthenticated calls, gates, views, lists and audit pages with random
// query strings. Peak RSS is the kernel's high-water mark (VmHWM in /proc/PID/status); the server must
// answer every request (no 5xx but 503 from a full store, no crash) and stay under 300 MB.
//   npm run build && npx tsx bench/service/fuzz.ts [--seconds 30] [--clients 64] [--runs 3]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cli/demo.js';

const arg = (name: string, def: number) =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : def;
const seconds = arg('--seconds', 30);
const clients = arg('--clients', 64);
const runs = arg('--runs', 3);

// A small deterministic generator, so runs differ only by timing.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const kb = (n: number) => 'x'.repeat(n * 1024);

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function request(r: () => number, i: number): Req {
  const auth = { authorization: 'Bearer ci-token' };
  const human = { authorization: 'Bearer alice-token' };
  const json = { 'content-type': 'application/json' };
  const id = `f-${Math.floor(r() * 5000)}`;
  const deploy = (over: object = {}) =>
    JSON.stringify({ id, service: 'checkout', version: 'v2', baselineVersion: 'v1', ...over });
  switch (Math.floor(r() * 14)) {
    case 0:
      return { method: 'POST', path: '/v1/deploys', headers: { ...auth, ...json }, body: deploy() };
    case 1: // at the body limit, junk inside a valid shape
      return {
        method: 'POST',
        path: '/v1/deploys',
        headers: { ...auth, ...json },
        body: deploy({ change: { id: 'x', title: kb(200) } }),
      };
    case 2: // over the body limit
      return { method: 'POST', path: '/v1/deploys', headers: { ...auth, ...json }, body: `"${kb(1100)}"` };
    case 3: // many stages
      return {
        method: 'POST',
        path: '/v1/deploys',
        headers: { ...auth, ...json },
        body: deploy({
          stages: Array.from({ length: 2000 }, () => ({ at: new Date().toISOString(), weight: r() })),
        }),
      };
    case 4:
      return { method: 'POST', path: '/v1/deploys', headers: { ...auth, ...json }, body: '{"id": "x", "service": ' };
    case 5: // deep nesting
      return { method: 'POST', path: '/v1/deploys', headers: { ...auth, ...json }, body: '['.repeat(50_000) };
    case 6:
      return { method: 'POST', path: '/v1/deploys', headers: { ...auth, 'content-type': 'text/csv' }, body: 'a,b' };
    case 7: // unauthenticated
      return { method: 'POST', path: '/v1/deploys', headers: json, body: deploy() };
    case 8:
      return { method: 'GET', path: `/v1/deploys/${id}/gate`, headers: auth };
    case 9:
      return { method: 'GET', path: `/v1/deploys/${id}`, headers: auth };
    case 10:
      return { method: 'GET', path: `/v1/deploys?limit=${Math.floor(r() * 1200)}`, headers: human };
    case 11:
      return {
        method: 'GET',
        path: `/v1/audit?after=${Math.floor(r() * 3000)}&limit=${1 + Math.floor(r() * 10_000)}`,
        headers: human,
      };
    case 12:
      return {
        method: 'POST',
        path: `/v1/deploys/${id}/stages`,
        headers: { ...auth, ...json },
        body: JSON.stringify({ weight: r() * 1.2, at: i % 2 ? '2025-12-31T23:59:60Z' : new Date().toISOString() }),
      };
    default:
      return { method: 'GET', path: `/v1/${'a/'.repeat(Math.floor(r() * 500))}?q=${kb(4)}`, headers: auth };
  }
}

function rssOf(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: get('VmRSS'), hwm: get('VmHWM') };
}

async function once(run: number) {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-fuzz-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'navigator.yaml'),
    `server: { listen: "127.0.0.1:${port}" }
metrics: { scrape: { targets: ["http://127.0.0.1:9/metrics"] } }
store: { path: "${join(dir, 'navigator.db')}" }
auth:
  tokens:
    - { name: ci, role: pipeline, token: ci-token }
    - { name: alice, role: approver, token: alice-token }
services:
  checkout:
    watchFor: 30m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
`,
  );
  const nav = spawn(process.execPath, ['bin/navigator.js', 'serve', '--config', join(dir, 'navigator.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  nav.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The server's own pid: bin/navigator.js may run serve in a child with a heap cap.
  const serverPid = (): number => {
    try {
      const kids = readFileSync(`/proc/${nav.pid}/task/${nav.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean);
      return kids.length ? Number(kids[0]) : (nav.pid as number);
    } catch {
      return nav.pid as number;
    }
  };
  const pid = serverPid();
  const baseline = rssOf(pid).rss;
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssOf(pid).rss), 250);
  const statuses = new Map<number, number>();
  let failures = 0;
  let requests = 0;
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const r = rng(run * 1000 + c);
      let i = 0;
      while (Date.now() < until) {
        const q = request(r, i++);
        try {
          const res = await fetch(`${base}${q.path}`, {
            method: q.method,
            headers: q.headers,
            ...(q.body !== undefined ? { body: q.body } : {}),
          });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        } catch {
          failures++;
        }
        requests++;
      }
    }),
  );
  clearInterval(sampler);
  const { hwm } = rssOf(pid);
  const alive = (await fetch(`${base}/healthz`)).ok;
  nav.kill('SIGTERM');
  await new Promise((r) => nav.once('exit', r));
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    requests,
    failures,
    statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
    baselineMB: Math.round(baseline),
    medianMB: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    peakMB: Math.round(hwm),
    alive,
    crashed: /FATAL|heap out of memory/.test(stderr),
  };
}

const results = [];
for (let run = 0; run < runs; run++) {
  const r = await once(run);
  process.stdout.write(`run ${run + 1}: ${JSON.stringify(r)}\n`);
  results.push(r);
}
const peaks = results.map((r) => r.peakMB).sort((a, b) => a - b);
const summary = {
  bench: 'service-fuzz',
  seconds,
  clients,
  runs,
  medianPeakMB: peaks[Math.floor(peaks.length / 2)],
  maxPeakMB: peaks.at(-1),
  fiveHundreds: results.reduce(
    (n, r) =>
      n +
      Object.entries(r.statuses)
        .filter(([s]) => Number(s) >= 500)
        .reduce((m, [, v]) => m + v, 0),
    0,
  ),
  results,
};
process.stdout.write(
  `${JSON.stringify({ medianPeakMB: summary.medianPeakMB, maxPeakMB: summary.maxPeakMB, fiveHundreds: summary.fiveHundreds })}\n`,
);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/service-fuzz.json', `${JSON.stringify(summary, null, 2)}\n`);
