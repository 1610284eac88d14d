// navigator gate --deploy ID [--wait --timeout 30m]: exit 0 proceed, 1 halted or rolled back, 2 timed out
// or still waiting, 3 error (contracts §6; the one table is in errors.ts). Waiting polls the gate, honouring
// Retry-After, and rides out a Navigator restart: a network error, a 5xx or a 429 is retried with backoff
// until the timeout, so a rollout driven by a job is not aborted by a deploy of Navigator itself. An
// unknown deploy, a bad token or a refused role ends at once (retrying cannot fix them).
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { clientFrom, errorText, printJson, type Answer } from './client.js';
import { EXIT, UsageError, exitForStatus } from './errors.js';
import { progressLine, type ViewLike } from './progress.js';

interface GateOptions {
  deploy: string;
  wait?: boolean;
  timeout: string;
  server?: string;
  token?: string;
  json?: boolean;
  progress?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function registerGate(program: Command): void {
  program
    .command('gate')
    .description('may the pipeline advance? exit 0 proceed, 1 halt, 2 timed out or still waiting, 3 error')
    .requiredOption('--deploy <id>', 'the deploy id')
    .option('--wait', 'block until the gate decides (network errors and 5xx are retried until --timeout)')
    .option('--timeout <duration>', 'give up after this long (with --wait)', '30m')
    .option(
      '--progress <mode>',
      'auto (a live line on a terminal, a line a minute otherwise), line, live, none',
      'auto',
    )
    .option('--server <url>', 'Navigator URL (default $NAVIGATOR_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default $NAVIGATOR_TOKEN)')
    .option('--json', 'print the final answer as JSON on stdout')
    .action(async (o: GateOptions) => {
      let timeout: number;
      try {
        timeout = parseDuration(o.timeout);
      } catch (e) {
        throw new UsageError(`--timeout: ${(e as Error).message}`);
      }
      const mode = o.progress ?? 'auto';
      if (!['auto', 'line', 'live', 'none'].includes(mode))
        throw new UsageError(`--progress: "${mode}" is not one of auto, line, live, none`);
      const live = mode === 'live' || (mode === 'auto' && process.stderr.isTTY === true);
      const lineEvery = Number(process.env.NAVIGATOR_PROGRESS_EVERY ?? 60) * 1000;
      process.exitCode = await runGate(o, timeout, { live, lines: mode !== 'none' && !live, lineEvery });
    });
}

async function runGate(
  o: GateOptions,
  timeout: number,
  p: { live: boolean; lines: boolean; lineEvery: number },
): Promise<number> {
  const call = clientFrom(o);
  const id = encodeURIComponent(o.deploy);
  const started = Date.now();
  const deadline = started + timeout * 1000;
  let failures = 0;
  let lastReason = '';
  let lastLine = 0;
  let lastError = '';
  const finish = (code: number, decision: string, status: string | null, reason: string): number => {
    if (p.live) process.stderr.write('\n');
    if (o.json) printJson({ deploy: o.deploy, decision, status, reason, exitCode: code });
    else process.stdout.write(`${decision}: ${reason}\n`);
    return code;
  };
  for (;;) {
    let r: Answer | null = null;
    try {
      r = await call('GET', `/v1/deploys/${id}/gate`);
    } catch (e) {
      lastError = `cannot reach Navigator: ${(e as Error).message}`;
    }
    if (r && (r.status >= 500 || r.status === 429)) lastError = `Navigator answered ${r.status}: ${errorText(r.json)}`;
    const retryable = r === null || r.status >= 500 || r.status === 429;
    if (retryable) {
      if (!o.wait) {
        process.stderr.write(`navigator gate: ${lastError}\n`);
        if (o.json) printJson({ deploy: o.deploy, error: lastError, exitCode: EXIT.error });
        return EXIT.error;
      }
      // Exponential backoff from 1 s to 15 s: a restarting Navigator is back within a few seconds.
      const wait = Math.min(15_000, 1000 * 2 ** Math.min(failures, 4));
      failures += 1;
      if (Date.now() + wait > deadline) {
        process.stderr.write(`navigator gate: ${lastError}\n`);
        return finish(EXIT.timeout, 'wait', null, `timed out after ${o.timeout}; last error: ${lastError}`);
      }
      if (p.live) process.stderr.write(`\r\x1b[2K`);
      process.stderr.write(`navigator gate: ${lastError}; retrying in ${wait / 1000}s\n`);
      await sleep(wait);
      continue;
    }
    const res = r as Answer;
    if (failures > 0)
      process.stderr.write(`navigator gate: Navigator answers again after ${failures} failed attempt(s)\n`);
    failures = 0;
    const decision = res.json.decision as string | undefined;
    const status = (res.json.status as string | undefined) ?? null;
    const reason = String(res.json.reason ?? '');
    if (res.status === 200 && decision === 'proceed') return finish(EXIT.ok, 'proceed', status, reason);
    if (res.status === 409 && decision === 'halt') return finish(EXIT.fail, 'halt', status, reason);
    if (res.status !== 423) {
      const code = exitForStatus(res.status) === EXIT.fail ? EXIT.fail : EXIT.error;
      process.stderr.write(`navigator gate: ${errorText(res.json)}\n`);
      if (o.json) printJson({ deploy: o.deploy, ...res.json, exitCode: code });
      return code;
    }
    if (!o.wait) return finish(EXIT.timeout, 'wait', status, reason);
    const elapsed = (Date.now() - started) / 1000;
    if (p.live || (p.lines && (Date.now() - lastLine >= p.lineEvery || reason !== lastReason))) {
      // The deploy's view carries what the gate does not: ticks, each signal's effect so far.
      const view = await call('GET', `/v1/deploys/${id}`).then(
        (v) => (v.status === 200 ? (v.json as unknown as ViewLike) : null),
        () => null,
      );
      const line = progressLine(elapsed, reason, view);
      if (p.live) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
      else process.stderr.write(`${line}\n`);
      lastLine = Date.now();
    }
    lastReason = reason;
    const retry = Math.min(Math.max(Number(res.headers.get('retry-after')) || 1, 0.2), 15);
    if (Date.now() + retry * 1000 > deadline) {
      return finish(EXIT.timeout, 'wait', status, `timed out after ${o.timeout}, still waiting: ${reason}`);
    }
    await sleep(retry * 1000);
  }
}
