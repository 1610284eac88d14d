// navigator demo (npm run demo): a simulated storefront and `navigator serve` on the embedded defaults
// (config/navigator.yaml: the embedded scraper, SQLite in a temporary folder), with time compressed to
// one-second ticks; then a pipeline ships a good canary (it passes and is promoted), a bad one (orders
// fall 99% in the canary: halted within seconds, the gate says halt, `navigator gate` exits 1) and a slow
// one (30% of its requests slower than 500 ms against 1%: halted on the latency signal). Real
// processes and real HTTP throughout; prints a timeline and exits 0 when every step went as expected.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parseDocument } from 'yaml';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(ROOT, 'bin/navigator.js');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a storefront and Navigator locally; ship a good, a bad and a slow canary (about a minute)')
    .option('--keep', 'leave the temporary folder (config, SQLite file); removed otherwise')
    .option('--json', 'the timeline on stderr, a JSON summary on stdout')
    .action(async (o: { keep?: boolean; json?: boolean }) => {
      const ok = await runDemo(o.keep ?? false, o.json ?? false);
      process.exitCode = ok ? 0 : 1;
    });
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** The embedded defaults with time compressed: one-second ticks, a 20-second watch. */
export function demoConfig(interval = '1s', watchFor = '20s'): string {
  const doc = parseDocument(readFileSync(join(ROOT, 'config/navigator.yaml'), 'utf8'));
  doc.setIn(['evaluation', 'interval'], interval);
  doc.setIn(['services', 'checkout', 'watchFor'], watchFor);
  return doc.toString();
}

async function waitFor(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up within ${ms / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => res({ code: code ?? 3, out: out.trim() }));
  });
}

export async function runDemo(keep: boolean, json = false): Promise<boolean> {
  const t0 = Date.now();
  const out = json ? process.stderr : process.stdout;
  const say = (msg: string) => out.write(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'navigator-demo-'));
  const [shopPort, navPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    NAVIGATOR_LISTEN: `127.0.0.1:${navPort}`,
    STOREFRONT_METRICS: `http://127.0.0.1:${shopPort}/metrics`,
    NAVIGATOR_STORE: join(dir, 'navigator.db'),
    NAVIGATOR_URL: `http://127.0.0.1:${navPort}`,
    ONCALL_WEBHOOK: `http://127.0.0.1:${shopPort}/pages`,
  };
  const configPath = join(dir, 'navigator.yaml');
  writeFileSync(configPath, demoConfig());
  const children: ChildProcess[] = [];
  const control = (body: unknown) =>
    fetch(`http://127.0.0.1:${shopPort}/control`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
  let ok = true;
  const expect = (cond: boolean, what: string) => {
    if (!cond) {
      ok = false;
      say(`UNEXPECTED: ${what}`);
    }
  };
  try {
    say(`storefront on :${shopPort} (orders_total and http_requests_total by version, Poisson traffic)`);
    children.push(
      spawn(process.execPath, [join(ROOT, 'dist/demo/storefront.js'), '--port', String(shopPort)], { stdio: 'ignore' }),
    );
    await waitFor(`http://127.0.0.1:${shopPort}/metrics`, 10_000);
    say(`navigator serve on :${navPort}: embedded scraper, SQLite in ${dir}, 1-second ticks, 20-second watches`);
    const nav = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let navLog = '';
    nav.stdout?.on('data', (d: Buffer) => (navLog += d.toString()));
    nav.stderr?.on('data', (d: Buffer) => (navLog += d.toString()));
    children.push(nav);
    await waitFor(`http://127.0.0.1:${navPort}/readyz`, 15_000);
    await new Promise((r) => setTimeout(r, 3000)); // a few scrapes of history before the first deploy

    say('pipeline: canary v2 of checkout at 10% (PR-101 "Cache cart totals" by dev-a)');
    await control({ weights: { v1: 0.9, v2: 0.1 } });
    let r = await run(
      [
        'deploy',
        'start',
        '--id',
        'demo-good',
        '--service',
        'checkout',
        '--version',
        'v2',
        '--baseline',
        'v1',
        '--weight',
        '0.1',
        '--change-id',
        'PR-101',
        '--title',
        'Cache cart totals',
        '--author',
        'dev-a',
      ],
      env,
    );
    expect(r.code === 0, `deploy start failed: ${r.out}`);
    say(`registered ${r.out}; pipeline blocks on: navigator gate --deploy demo-good --wait`);
    r = await run(['gate', '--deploy', 'demo-good', '--wait', '--timeout', '90s'], env);
    say(`gate exit ${r.code}: ${r.out.split('\n').pop() ?? ''}`);
    expect(r.code === 0, 'the good canary should proceed');
    await control({ weights: { v2: 1 } });
    say('pipeline: promoted v2 to 100%');

    await new Promise((r2) => setTimeout(r2, 2000));
    say('pipeline: canary v3 at 10% (PR-102 "Refactor checkout button" by dev-b): its orders fall 99%');
    await control({ weights: { v2: 0.9, v3: 0.1 }, behaviour: { v3: { orders: 0.01 } } });
    const badStart = Date.now();
    r = await run(
      [
        'deploy',
        'start',
        '--id',
        'demo-bad',
        '--service',
        'checkout',
        '--version',
        'v3',
        '--baseline',
        'v2',
        '--weight',
        '0.1',
        '--change-id',
        'PR-102',
        '--title',
        'Refactor checkout button',
        '--author',
        'dev-b',
      ],
      env,
    );
    expect(r.code === 0, `deploy start failed: ${r.out}`);
    r = await run(['gate', '--deploy', 'demo-bad', '--wait', '--timeout', '60s'], env);
    say(`gate exit ${r.code} after ${((Date.now() - badStart) / 1000).toFixed(1)}s: ${r.out.split('\n').pop() ?? ''}`);
    expect(r.code === 1, 'the bad canary should be halted (navigator gate exits 1)');
    await control({ weights: { v2: 1 } });
    say('pipeline: rolled traffic back to v2');

    await new Promise((r2) => setTimeout(r2, 1000));
    say('pipeline: canary v4 at 10% (PR-103 "Inline product images" by dev-c): 30% of its requests take over 500 ms');
    await control({ weights: { v2: 0.9, v4: 0.1 }, behaviour: { v4: { slowRatio: 0.3 } } });
    const slowStart = Date.now();
    r = await run(
      [
        'deploy',
        'start',
        '--id',
        'demo-slow',
        '--service',
        'checkout',
        '--version',
        'v4',
        '--baseline',
        'v2',
        '--weight',
        '0.1',
        '--change-id',
        'PR-103',
        '--title',
        'Inline product images',
        '--author',
        'dev-c',
      ],
      env,
    );
    expect(r.code === 0, `deploy start failed: ${r.out}`);
    r = await run(['gate', '--deploy', 'demo-slow', '--wait', '--timeout', '60s'], env);
    say(`gate exit ${r.code} after ${((Date.now() - slowStart) / 1000).toFixed(1)}s: ${r.out.split('\n').pop() ?? ''}`);
    expect(r.code === 1, 'the slow canary should be halted (navigator gate exits 1)');
    await control({ weights: { v2: 1 } });
    say('pipeline: rolled traffic back to v2');
    await new Promise((r2) => setTimeout(r2, 1500)); // the outbox delivers the pages
    const pages = (await fetch(`http://127.0.0.1:${shopPort}/pages`).then((x) => x.json())) as { summary: string }[];
    say(`on-call webhook received ${pages.length} page(s)${pages[0] ? `: ${pages[0].summary.slice(0, 160)}...` : ''}`);
    expect(pages.length >= 1, 'the halt should page the on-call route');
    const status = await run(['status', 'demo-bad'], env);
    out.write(`\n$ navigator status demo-bad\n${status.out}\n\n`);
    const slowStatus = await run(['status', 'demo-slow'], env);
    out.write(`$ navigator status demo-slow\n${slowStatus.out}\n\n`);
    if (!ok) out.write(`navigator log:\n${navLog.split('\n').slice(-20).join('\n')}\n`);
  } catch (e) {
    ok = false;
    say(`demo failed: ${(e as Error).message}`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    // The temporary folder goes unless --keep: wait for the children to exit so the SQLite file is closed.
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)),
      ),
    );
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  say(
    ok
      ? `demo finished: good canary promoted, bad and slow canaries halted${keep ? `; files in ${dir}` : ''}`
      : 'demo finished with problems',
  );
  if (json) process.stdout.write(`${JSON.stringify({ ok, folder: keep ? dir : null })}\n`);
  return ok;
}
