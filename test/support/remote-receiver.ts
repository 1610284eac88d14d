// The test's handle on a receiver running in another process (receiver-process.ts).
import { resolve } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import type { Answer } from './receiver.js';
import { ROOT } from './cli.js';
import type { Processes } from './processes.js';

export interface RemoteRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
  arrival: number;
  answered: number | null;
}

export class RemoteReceiver {
  private constructor(readonly url: string) {}

  static async start(procs: Processes): Promise<RemoteReceiver> {
    const p = procs.startBinary(process.execPath, [
      '--import',
      'tsx',
      resolve(ROOT, 'test/support/receiver-process.ts'),
    ]);
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`receiver process did not start: ${out}`)), 20_000);
      p.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(timer);
          res((JSON.parse(line) as { url: string }).url);
        }
      });
      p.once('exit', (code) => rej(new Error(`receiver process exited ${code}: ${out}`)));
    });
    return new RemoteReceiver(url);
  }

  async requests(prefix = ''): Promise<RemoteRequest[]> {
    const r = await fetch(`${this.url}/_control/requests`);
    return ((await r.json()) as RemoteRequest[]).filter((x) => x.path.startsWith(prefix));
  }

  private async post(what: string, body: unknown): Promise<void> {
    const r = await fetch(`${this.url}/_control/${what}`, { method: 'POST', body: JSON.stringify(body) });
    if (r.status !== 204) throw new Error(`receiver control ${what}: ${r.status}`);
  }

  script(prefix: string, answers: Answer[]): Promise<void> {
    return this.post('script', { prefix, answers });
  }
  outage(prefix: string, status: number, ms: number): Promise<void> {
    return this.post('outage', { prefix, status, ms });
  }
  delay(ms: number): Promise<void> {
    return this.post('delay', { ms });
  }
}
