// Store faults across real processes (issue 10): `navigator serve` on a disk that fills up. Registrations
// are refused with 503 and a log line, /readyz says not ready, nothing half-exists; when space returns the
// service recovers by itself and the next 99% collapse is halted and paged to a real webhook. A corrupt or
// missing store at start exits 2 naming the file.
//
// The full disk is a real 8 MB tmpfs when this runs as root and mounting works (it does in CI); otherwise
// the equivalent that needs no mount: a file-size rlimit on the Navigator process (RLIMIT_FSIZE with
// SIGXFSZ ignored, so writes fail with EFBIG), lowered to the store's current size and lifted again with
// prlimit. NAVIGATOR_FAULT_DISK=rlimit forces the second.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../src/cli/demo.js';
import { BIN, navigator } from './support/cli.js';
import { Processes, freePort, waitUntil } from './support/processes.js';

const procs = new Processes();
const mounts: string[] = [];
afterAll(async () => {
  await procs.stopAll();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
});

function tryTmpfs(dir: string): boolean {
  if (process.env.NAVIGATOR_FAULT_DISK === 'rlimit' || process.getuid?.() !== 0) return false;
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
  if (r.status !== 0) return false;
  mounts.push(dir);
  return true;
}

/** Fills the disk under `dir`: a filler file grows until the disk says no. */
function fillDisk(dir: string): string {
  const filler = join(dir, 'filler');
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  // Whatever is left is smaller than a chunk: take it too.
  try {
    for (;;) writeSync(fd, Buffer.alloc(512, 1));
  } catch {
    /* full */
  }
  closeSync(fd);
  return filler;
}

/** The server's pid: `navigator serve` runs the server in a child with a heap cap (bin/navigator.js). */
function serverPid(pid: number): number {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : pid;
  } catch {
    return pid;
  }
}

describe('a full disk under a running navigator', () => {
  it('refuses with 503 and a log line, is not ready, recovers by itself and halts and pages the next collapse', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-fault-'));
    const disk = join(dir, 'disk');
    execFileSync('mkdir', ['-p', disk]);
    const tmpfs = tryTmpfs(disk);
    const [shop, port] = [await freePort(), await freePort()];
    const store = join(disk, 'navigator.db');
    const env = {
      NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
      STOREFRONT_METRICS: `http://127.0.0.1:${shop}/metrics`,
      NAVIGATOR_STORE: store,
      ONCALL_WEBHOOK: `http://127.0.0.1:${shop}/pages`,
    };
    const config = join(dir, 'navigator.yaml');
    writeFileSync(config, demoConfig('1s', '600s'));
    const base = `http://127.0.0.1:${port}`;
    const control = (body: unknown) =>
      fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });

    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    await control({ weights: { v1: 0.9, v2: 0.1 } });
    // Through bash so that SIGXFSZ is ignored (the rlimit mode needs it; harmless on tmpfs).
    const nav = procs.startBinary(
      'bash',
      ['-c', `trap '' XFSZ; exec "${process.execPath}" "${BIN}" serve --config "${config}"`],
      env,
    );
    const log = () => procs.logs.get(nav) ?? '';
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 1500)); // a few scrapes of history

    const register = (id: string, title: string) =>
      fetch(`${base}/v1/deploys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `req-${id}` },
        body: JSON.stringify({
          id,
          service: 'checkout',
          version: 'v2',
          baselineVersion: 'v1',
          stages: [{ at: new Date().toISOString(), weight: 0.1 }],
          change: { id: `PR-${id}`, title, author: 'dev-a', url: `https://git.example/${'p'.repeat(1500)}` },
        }),
      });

    // The disk fills.
    let filler = '';
    if (tmpfs) filler = fillDisk(disk);
    else {
      const limit = Math.max(...[store, `${store}-wal`].map((f) => (existsSync(f) ? statSync(f).size : 0)));
      execFileSync('prlimit', ['--pid', String(serverPid(nav.pid as number)), `--fsize=${limit}:`]);
    }
    const refused = await register('while-full', 't'.repeat(500));
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error.code).toBe('STORE_UNAVAILABLE');
    expect(body.error.requestId).toBe('req-while-full');
    await waitUntil('the refusal in the log', async () => log().includes('"reqId":"req-while-full"'));
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { store: { writable: boolean } }).store.writable).toBe(false);
    expect((await fetch(`${base}/v1/deploys/while-full`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(200); // alive, just not ready
    await new Promise((r) => setTimeout(r, 2500)); // ticks while full

    // Space returns: no restart, no operator.
    if (tmpfs) rmSync(filler);
    else execFileSync('prlimit', ['--pid', String(serverPid(nav.pid as number)), '--fsize=unlimited:']);
    await waitUntil('ready again', async () => (await fetch(`${base}/readyz`)).ok, 20_000);

    // The next collapse: v2's orders fall 99%.
    await control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });
    const reg = await register('after-full', 'collapse');
    expect(reg.status, await reg.clone().text()).toBe(201);
    const gate = navigator(['gate', '--server', base, '--deploy', 'after-full', '--wait', '--timeout', '60s']);
    expect(gate.status, gate.stdout + gate.stderr).toBe(1);
    expect(gate.stdout).toMatch(/halt: orders/);
    const pages = await waitUntil('the page at the webhook', async () => {
      const p = (await (await fetch(`http://127.0.0.1:${shop}/pages`)).json()) as unknown[];
      return p.some((x) => JSON.stringify(x).includes('after-full')) ? p : undefined;
    });
    expect(pages.some((x) => JSON.stringify(x).includes('while-full'))).toBe(false);
    expect(log()).not.toMatch(/FOREIGN KEY|dropped a watch/);
  }, 150_000);
});

describe('a store that cannot be opened', () => {
  it('serve exits 2 naming a corrupt file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-corrupt-'));
    const file = join(dir, 'navigator.db');
    writeFileSync(file, Buffer.alloc(64 * 1024, 0x5a));
    const r = navigator(['serve', '--config', 'config/navigator.yaml', '--store', file, '--listen', '127.0.0.1:0'], {
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('audit verify --store on a missing file exits 2 naming it and creates nothing', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'navigator-missing-')), 'nope.db');
    const r = navigator(['audit', 'verify', '--store', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(file);
    expect(existsSync(file)).toBe(false);
  });
});
