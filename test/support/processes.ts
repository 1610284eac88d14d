// Real processes for end-to-end tests: the storefront and `navigator serve`, on free ports, always stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from '../../src/cli/demo.js';
import { BIN, ROOT, assertBuilt } from './cli.js';

export { freePort };

export class Processes {
  private readonly children: ChildProcess[] = [];
  logs = new Map<ChildProcess, string>();

  start(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    assertBuilt();
    return this.startBinary(process.execPath, args, env);
  }

  startBinary(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const p = spawn(bin, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.logs.set(p, '');
    const add = (d: Buffer) => this.logs.set(p, (this.logs.get(p) ?? '') + d.toString());
    p.stdout?.on('data', add);
    p.stderr?.on('data', add);
    this.children.push(p);
    return p;
  }

  storefront(port: number): ChildProcess {
    return this.start([resolve(ROOT, 'dist/demo/storefront.js'), '--port', String(port)]);
  }

  navigator(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return this.start([BIN, ...args], env);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((res) => {
            if (c.exitCode !== null || c.signalCode !== null) return res();
            c.once('exit', () => res());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}

export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function getJson(url: string): Promise<Record<string, unknown>> {
  const r = await fetch(url);
  return (await r.json()) as Record<string, unknown>;
}
