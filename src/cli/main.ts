// The `navigator` command line. Each command lives in its own file and registers itself here. Every
// command exits through the one table in errors.ts (printed by --help).
import { Command, CommanderError } from 'commander';
import { registerAudit } from './audit.js';
import { registerBacktest } from './backtest.js';
import { registerCompletion } from './completion.js';
import { registerConfig } from './config-check.js';
import { registerDeploy } from './deploy.js';
import { registerDeploys } from './deploys.js';
import { registerDemo } from './demo.js';
import { registerGate } from './gate.js';
import { registerServe } from './serve.js';
import { EXIT, EXIT_TABLE, ExitError, UsageError, isInputError } from './errors.js';

const program = new Command();
program
  .name('navigator')
  .description('Navigator: a deploy guard that watches business and health metrics after each deploy')
  .version('0.1.0')
  .enablePositionalOptions()
  .exitOverride()
  .addHelpText('after', `\n${EXIT_TABLE}\n`);

registerServe(program);
registerDeploy(program);
registerDeploys(program);
registerGate(program);
registerBacktest(program);
registerAudit(program);
registerConfig(program);
registerDemo(program);
registerCompletion(program);
// Subcommands exit through the same override (a usage error in `navigator gate` is 64, not commander's 1).
const override = (c: Command) => {
  c.exitOverride();
  c.commands.forEach(override);
};
override(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.usage;
  } else if (e instanceof ExitError) {
    process.stderr.write(`navigator: ${e.message}\n`);
    process.exitCode = e.code;
  } else if (e instanceof UsageError) {
    process.stderr.write(`navigator: ${e.message}\n`);
    process.exitCode = EXIT.usage;
  } else if (isInputError(e)) {
    process.stderr.write(`navigator: ${(e as Error).message}\n`);
    process.exitCode = EXIT.badInput;
  } else {
    process.stderr.write(`navigator: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = EXIT.error;
  }
}
