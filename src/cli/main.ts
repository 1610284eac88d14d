// The `navigator` command line. Each command lives in its own file and registers itself here.
import { Command, CommanderError } from 'commander';
import { registerAudit } from './audit.js';
import { registerBacktest } from './backtest.js';
import { registerDeploy } from './deploy.js';
import { registerDemo } from './demo.js';
import { registerGate } from './gate.js';
import { registerServe } from './serve.js';
import { EXIT, isInputError } from './errors.js';

const program = new Command();
program
  .name('navigator')
  .description('Navigator: a deploy guard that watches business and health metrics after each deploy')
  .version('0.1.0')
  .enablePositionalOptions()
  .exitOverride();

registerServe(program);
registerDeploy(program);
registerGate(program);
registerBacktest(program);
registerAudit(program);
registerDemo(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.badInput;
  } else if (isInputError(e)) {
    process.stderr.write(`navigator: ${(e as Error).message}\n`);
    process.exitCode = EXIT.badInput;
  } else {
    process.stderr.write(`navigator: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = EXIT.error;
  }
}
