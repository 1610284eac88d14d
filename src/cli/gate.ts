// navigator gate --deploy ID [--wait --timeout 30m]: exit 0 proceed, 1 halted or rolled back, 2 timed out,
// 3 error (contracts §6). Waiting polls the gate, honouring Retry-After.
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { clientFrom, errorText } from './client.js';
import { EXIT, InputError } from './errors.js';

export function registerGate(program: Command): void {
  program
    .command('gate')
    .description('may the pipeline advance? exit 0 proceed, 1 halt, 2 timed out, 3 error')
    .requiredOption('--deploy <id>', 'the deploy id')
    .option('--wait', 'block until the gate decides')
    .option('--timeout <duration>', 'give up after this long (with --wait)', '30m')
    .option('--server <url>', 'Navigator URL (default $NAVIGATOR_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default $NAVIGATOR_TOKEN)')
    .action(async (o: { deploy: string; wait?: boolean; timeout: string; server?: string; token?: string }) => {
      let timeout: number;
      try {
        timeout = parseDuration(o.timeout);
      } catch (e) {
        throw new InputError(`--timeout: ${(e as Error).message}`);
      }
      const call = clientFrom(o);
      const deadline = Date.now() + timeout * 1000;
      let lastReason = '';
      for (;;) {
        let r;
        try {
          r = await call('GET', `/v1/deploys/${encodeURIComponent(o.deploy)}/gate`);
        } catch (e) {
          process.stderr.write(`navigator gate: cannot reach Navigator: ${(e as Error).message}\n`);
          process.exitCode = EXIT.error;
          return;
        }
        const decision = r.json.decision as string | undefined;
        const reason = String(r.json.reason ?? '');
        if (r.status === 200 && decision === 'proceed') {
          process.stdout.write(`proceed: ${reason}\n`);
          process.exitCode = EXIT.ok;
          return;
        }
        if (r.status === 409 && decision === 'halt') {
          process.stdout.write(`halt: ${reason}\n`);
          process.exitCode = EXIT.fail;
          return;
        }
        if (r.status !== 423) {
          process.stderr.write(`navigator gate: ${errorText(r.json)}\n`);
          process.exitCode = EXIT.error;
          return;
        }
        if (reason !== lastReason) process.stderr.write(`wait: ${reason}\n`);
        lastReason = reason;
        if (!o.wait) {
          process.stdout.write(`wait: ${reason}\n`);
          process.exitCode = EXIT.timeout;
          return;
        }
        const retry = Math.min(Math.max(Number(r.headers.get('retry-after')) || 1, 0.2), 15);
        if (Date.now() + retry * 1000 > deadline) {
          process.stdout.write(`timed out after ${o.timeout}, still waiting: ${reason}\n`);
          process.exitCode = EXIT.timeout;
          return;
        }
        await new Promise((res) => setTimeout(res, retry * 1000));
      }
    });
}
