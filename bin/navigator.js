#!/usr/bin/env node
// The `navigator` command. `npm ci` builds dist/ through the `prepare` script.
//
// `navigator serve` runs with a heap cap (NAVIGATOR_HEAP_MB, default 256; 0 turns it off): without one V8
// lets garbage grow far past what the service needs before collecting (bench/service/fuzz.ts). Node
// cannot change its heap limit after start, so serve re-runs itself in a child with
// --max-old-space-size, unless a cap was already given (node flags or NODE_OPTIONS). The child is the
// server; this process forwards signals and exits as it does, and the child kills itself at once if this
// process dies (a SIGKILL of the command kills the server, as users and tests expect).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('navigator: dist/ is missing; run `npm run build` (npm ci runs it for you)\n');
  process.exit(3);
}
const args = process.argv.slice(2);
const heapMb = process.env.NAVIGATOR_HEAP_MB ?? '256';
const capped = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('--max-old-space-size'));
if (args[0] === 'serve' && !capped && heapMb !== '0' && /^\d+$/.test(heapMb)) {
  const child = spawn(
    process.execPath,
    [...process.execArgv, `--max-old-space-size=${heapMb}`, fileURLToPath(import.meta.url), ...args],
    { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] },
  );
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  if (process.send) {
    // Run by the command above: die with it. The channel must not keep this process alive on its own.
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    process.channel?.unref();
  }
  await import(main);
}
