// The CLI for people, run as a user would (the built `navigator` command, real HTTP to a real Navigator):
// one exit table for every command, --json everywhere, list/override/end/ack, config check, completion,
// and `gate --wait` riding out a Navigator restart and 5xx answers with progress lines.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../src/cli/demo.js';
import { BIN, ROOT, assertBuilt, navigator } from './support/cli.js';
import { feedCanary, testNavigator, type TestNavigator } from './support/navigator.js';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';

/** The CLI without blocking this process's event loop (the in-process Navigator must answer it). */
function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

let t: TestNavigator;
let env: NodeJS.ProcessEnv;
const procs = new Processes();

beforeAll(async () => {
  t = await testNavigator();
  const start = t.clock.now;
  feedCanary(t.metrics, {
    service: 'checkout',
    from: start - 600,
    to: start + 600,
    baseline: 'v1',
    canary: 'v2',
    perTick: 300,
    weight: 0.1,
    canaryFactor: () => 1,
  });
  for (const id of ['c-1', 'c-2', 'c-3']) {
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: {
        id,
        service: 'checkout',
        version: 'v2',
        baselineVersion: 'v1',
        startedAt: new Date(start * 1000).toISOString(),
        stages: [{ at: new Date(start * 1000).toISOString(), weight: 0.1 }],
        change: { id: `PR-${id}`, title: 'Cache cart totals', author: 'dev-a' },
      },
    });
    expect(r.statusCode).toBe(201);
  }
  t.clock.now = start + 30;
  await t.nav.service.tick(start + 30);
  env = { NAVIGATOR_URL: await t.nav.http.listen({ host: '127.0.0.1', port: 0 }), NAVIGATOR_TOKEN: 'alice-token' };
});

afterAll(async () => {
  await procs.stopAll();
  await t?.nav.close();
});

describe('one exit table for every command', () => {
  it('an unknown deploy exits 3 in every command', async () => {
    for (const args of [
      ['status', 'nope'],
      ['approve', 'nope'],
      ['override', 'nope', '--action', 'halt', '--reason', 'testing'],
      ['end', 'nope', '--token', 'ci-token'],
      ['ack', 'nope'],
      ['gate', '--deploy', 'nope', '--token', 'ci-token'],
      ['gate', '--deploy', 'nope', '--wait', '--timeout', '5s', '--token', 'ci-token'],
    ]) {
      const r = await run(args, env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/nope/);
    }
  });

  it('a malformed command line exits 64, never 2 (which gate keeps for "timed out")', async () => {
    for (const args of [
      ['gate', '--deploy', 'c-1', '--wait', '--timeout', 'soon'],
      ['gate', '--wait'],
      ['gate', '--deploy', 'c-1', '--frobnicate'],
      ['deploys', '--status', 'sideways'],
      ['override', 'c-1', '--action', 'explode', '--reason', 'x'],
      ['no-such-command'],
    ]) {
      const r = await run(args, env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(64);
    }
    const still = await run(['gate', '--deploy', 'c-1', '--token', 'ci-token'], env);
    expect(still.code).toBe(2);
    expect(still.stdout).toMatch(/^wait: /);
    const help = navigator(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/Exit codes[\s\S]*64\s+usage/);
  });

  it('refusals exit 1: a pipeline token cannot approve, nobody approves twice', async () => {
    const r = await run(['approve', 'c-1', '--token', 'ci-token'], env);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/pipeline/);
    expect((await run(['approve', 'c-1'], env)).code).toBe(0);
    const again = await run(['approve', 'c-1', '--json'], env);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe('ALREADY_APPROVED');
  });
});

describe('commands for people', () => {
  it('lists deploys, filters them, and prints JSON', async () => {
    const table = await run(['deploys'], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+SERVICE\s+VERSION\s+STATUS\s+AGE\s+CHANGE/);
    expect(table.stdout).toMatch(/c-3\s+checkout\s+v2\s+watching/);
    const json = await run(['deploys', '--status', 'watching', '--json', '--limit', '2'], env);
    const body = JSON.parse(json.stdout) as { deploys: { id: string; status: string }[] };
    expect(body.deploys.map((d) => d.id)).toEqual(['c-3', 'c-2']);
    const none = await run(['deploys', '--status', 'halted', '--json'], env);
    expect(JSON.parse(none.stdout).deploys).toEqual([]);
  });

  it('override, end and ack change the deploy and say so', async () => {
    const halt = await run(
      ['override', 'c-2', '--action', 'halt', '--reason', 'errors on the dashboard', '--json'],
      env,
    );
    expect(halt.code, halt.stderr).toBe(0);
    expect(JSON.parse(halt.stdout).status).toBe('halted');
    const proceed = await run(['override', 'c-3', '--action', 'proceed', '--reason', 'ship it'], env);
    expect(proceed.code).toBe(1); // an approver may not force a rollout on
    expect(proceed.stderr).toMatch(/admin/);
    const end = await run(['end', 'c-3', '--token', 'ci-token'], env);
    expect(end.code, end.stderr).toBe(0);
    expect(end.stdout).toMatch(/c-3: ended/);
    const ack = await run(['ack', 'c-2', '--comment', 'looking', '--json'], env);
    expect(ack.code, ack.stderr).toBe(0);
    expect(JSON.parse(ack.stdout).acknowledgedBy).toBe('alice');
    const status = await run(['status', 'c-2', '--json'], env);
    expect(JSON.parse(status.stdout).overrides[0].reason).toBe('errors on the dashboard');
    const gate = await run(['gate', '--deploy', 'c-2', '--json', '--token', 'ci-token'], env);
    expect(gate.code).toBe(1);
    expect(JSON.parse(gate.stdout)).toMatchObject({ decision: 'halt', status: 'halted', exitCode: 1 });
  });

  it('config check validates without starting anything and prints what it would watch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-check-'));
    const good = join(dir, 'good.yaml');
    writeFileSync(good, demoConfig());
    const ok = navigator(['config', 'check', '--config', good], { env: { NAVIGATOR_LISTEN: '127.0.0.1:1' } });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/service checkout/);
    expect(ok.stdout).toContain('last_over_time(orders_total{service=~"checkout"}[999ms])');
    const json = navigator(['config', 'check', '--config', good, '--json']);
    const names = JSON.parse(json.stdout).services[0].signals.map((s: { name: string }) => s.name) as string[];
    expect(names.slice(0, 2)).toEqual(['orders', 'errors']);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'services:\n  checkout:\n    watchFor: 30m\n    sigals: {}\n');
    const r = navigator(['config', 'check', '--config', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:4: services\.checkout\.sigals: unknown key/);
    const open = join(dir, 'open.yaml');
    writeFileSync(open, 'server: { listen: "0.0.0.0:8080" }\nservices:\n  a: { signals: {} }\n');
    const o = navigator(['config', 'check', '--config', open, '--json']);
    expect(o.status).toBe(2);
    expect(JSON.parse(o.stdout).problems.join('\n')).toMatch(/refusing to listen on 0\.0\.0\.0:8080/);
  });

  it('completion scripts name the commands and are valid bash', async () => {
    const r = navigator(['completion', 'bash']);
    expect(r.status).toBe(0);
    for (const c of ['deploys', 'override', 'ack', 'gate', 'config', '--timeout']) expect(r.stdout).toContain(c);
    const syntax = spawnSync('bash', ['-n'], { input: r.stdout, encoding: 'utf8' });
    expect(syntax.status, syntax.stderr).toBe(0);
    // Completing "navigator config ch" offers "check".
    const complete = spawnSync(
      'bash',
      ['-c', `${r.stdout}\nCOMP_WORDS=(navigator config ch); COMP_CWORD=2; _navigator; echo "\${COMPREPLY[@]}"`],
      { encoding: 'utf8' },
    );
    expect(complete.stdout.trim()).toBe('check');
    expect(navigator(['completion', 'fish']).stdout).toMatch(/complete -c navigator/);
    expect(navigator(['completion', 'tcsh']).status).toBe(64);
  });
});

describe('gate --wait', () => {
  let server: Server;
  afterAll(() => server?.close());

  it('retries 5xx and dropped connections with backoff, prints progress, then proceeds', async () => {
    // A server that plays a restarting Navigator: connections dropped, then 503s, then wait, then proceed.
    let n = 0;
    server = createServer((req, res) => {
      n += 1;
      if (n <= 1) return req.socket.destroy();
      if (n <= 3) {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end('{"error":{"code":"UNAVAILABLE","message":"starting"}}');
      }
      if (req.url?.endsWith('/gate') && n < 8) {
        res.writeHead(423, { 'content-type': 'application/json', 'retry-after': '1' });
        return res.end('{"decision":"wait","status":"watching","reason":"watching for 5m"}');
      }
      if (!req.url?.endsWith('/gate')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            status: 'watching',
            ticks: 4,
            verdicts: [{ signal: 'orders', status: 'watching', evidence: { effect: { estimate: -0.012 } } }],
          }),
        );
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"decision":"proceed","status":"passed","reason":"judged good"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const r = await run(
      ['gate', '--deploy', 'd-1', '--wait', '--timeout', '60s', '--server', `http://127.0.0.1:${port}`],
      { NAVIGATOR_PROGRESS_EVERY: '1' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('proceed: judged good');
    expect(r.stderr).toMatch(/cannot reach Navigator.*retrying in 1s/);
    expect(r.stderr).toMatch(/answered 503.*retrying in 2s/);
    expect(r.stderr).toMatch(/\[\d+s\] wait \| watching \| 4 ticks \| orders -1\.2% \| waiting for: watching for 5m/);
  });

  // The gate itself waits up to 90 s; the test waits longer than the gate, so on a loaded CI machine
  // (two start-ups plus the watch) the gate's own verdict decides, not vitest's 60 s default.
  it('rides out a restart of a real Navigator and exits 0 when the canary passes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-gate-restart-'));
    const [shop, port] = [await freePort(), await freePort()];
    const senv = {
      NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
      STOREFRONT_METRICS: `http://127.0.0.1:${shop}/metrics`,
      NAVIGATOR_STORE: join(dir, 'navigator.db'),
      ONCALL_WEBHOOK: `http://127.0.0.1:${shop}/pages`,
    };
    const config = join(dir, 'navigator.yaml');
    writeFileSync(config, demoConfig('1s', '12s'));
    const base = `http://127.0.0.1:${port}`;
    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    await fetch(`http://127.0.0.1:${shop}/control`, {
      method: 'POST',
      body: JSON.stringify({ weights: { v1: 0.9, v2: 0.1 } }),
    });
    let nav = procs.navigator(['serve', '--config', config], senv);
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 2000));
    const reg = await run([
      'deploy',
      'start',
      '--server',
      base,
      '--id',
      'g-1',
      '--service',
      'checkout',
      '--version',
      'v2',
      '--baseline',
      'v1',
      '--weight',
      '0.1',
    ]);
    expect(reg.code, reg.stderr).toBe(0);
    const gate = run(['gate', '--deploy', 'g-1', '--wait', '--timeout', '90s', '--server', base]);
    await new Promise((r) => setTimeout(r, 3000));
    nav.kill('SIGTERM');
    await new Promise((r) => nav.once('exit', r));
    await new Promise((r) => setTimeout(r, 3000)); // the gate sees connection refused meanwhile
    nav = procs.navigator(['serve', '--config', config], senv);
    const r = await gate;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toMatch(/cannot reach Navigator.*retrying/);
    expect(r.stderr).toMatch(/answers again/);
    expect(r.stdout).toMatch(/^proceed: /m);
    expect((await getJson(`${base}/v1/deploys/g-1`)).status).toBe('passed');
  }, 120_000);
});
