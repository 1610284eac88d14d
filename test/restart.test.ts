// Killed with SIGKILL in the middle of a watch and started again, Navigator resumes the watch from its
// persisted state (it does not start over) and still halts the bad canary. Real processes, real HTTP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { demoConfig } from '../src/cli/demo.js';
import { navigator } from './support/cli.js';
import { Processes, freePort, getJson, waitUntil } from './support/processes.js';

const procs = new Processes();
afterAll(() => procs.stopAll());

describe('restart after SIGKILL', () => {
  it('resumes the open watch and halts the bad canary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-restart-'));
    const [shop, port] = [await freePort(), await freePort()];
    const env = {
      NAVIGATOR_LISTEN: `127.0.0.1:${port}`,
      STOREFRONT_METRICS: `http://127.0.0.1:${shop}/metrics`,
      NAVIGATOR_STORE: join(dir, 'navigator.db'),
      ONCALL_WEBHOOK: `http://127.0.0.1:${shop}/pages`,
    };
    const config = join(dir, 'navigator.yaml');
    writeFileSync(config, demoConfig('1s', '120s'));
    const base = `http://127.0.0.1:${port}`;
    const control = (body: unknown) =>
      fetch(`http://127.0.0.1:${shop}/control`, { method: 'POST', body: JSON.stringify(body) });

    procs.storefront(shop);
    await waitUntil('the storefront', async () => (await fetch(`http://127.0.0.1:${shop}/metrics`)).ok);
    await control({ weights: { v1: 0.9, v2: 0.1 } });
    let nav = procs.navigator(['serve', '--config', config], env);
    await waitUntil('navigator', async () => (await fetch(`${base}/readyz`)).ok);
    await new Promise((r) => setTimeout(r, 2000));
    const reg = navigator([
      'deploy',
      'start',
      '--server',
      base,
      '--id',
      'r-1',
      '--service',
      'checkout',
      '--version',
      'v2',
      '--baseline',
      'v1',
      '--weight',
      '0.1',
    ]);
    expect(reg.status, reg.stderr).toBe(0);
    const before = await waitUntil('a few judged ticks', async () => {
      const d = await getJson(`${base}/v1/deploys/r-1`);
      return (d.ticks as number) >= 4 ? d : undefined;
    });
    expect(before.status).toBe('watching');

    nav.kill('SIGKILL');
    await new Promise((r) => nav.once('exit', r));
    await control({ weights: { v1: 0.9, v2: 0.1 }, behaviour: { v2: { orders: 0.01 } } });

    nav = procs.navigator(['serve', '--config', config], env);
    await waitUntil('navigator again', async () => (await fetch(`${base}/readyz`)).ok);
    const after = await getJson(`${base}/v1/deploys/r-1`);
    expect(after.status).toBe('watching');
    expect(after.ticks as number).toBeGreaterThanOrEqual(before.ticks as number); // resumed, not restarted
    const gate = navigator(['gate', '--server', base, '--deploy', 'r-1', '--wait', '--timeout', '60s']);
    expect(gate.status, gate.stdout + gate.stderr).toBe(1);
    expect(gate.stdout).toMatch(/halt: orders/);
    const final = await getJson(`${base}/v1/deploys/r-1`);
    expect(final.status).toBe('halted');
    expect(final.ticks as number).toBeGreaterThan(before.ticks as number);
  }, 120_000);
});
