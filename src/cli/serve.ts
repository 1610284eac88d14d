// navigator serve: the live service (API, watch loop, scraper or Prometheus source, outbox). Logs are pino
// JSON lines on stdout; the wall clock drives the ticks.
import type { Command } from 'commander';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildNavigator } from '../app.js';
import { defaultConfigPath, loadConfig } from '../config/load.js';
import { AppError } from '../deploys/errors.js';
import { InputError } from './errors.js';
import { githubProblems } from '../actions/github-auth.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the deploy guard: HTTP API, watch loop, metric source, pages')
    .option('--config <file>', 'navigator.yaml (default: $NAVIGATOR_CONFIG or config/navigator.yaml)')
    .option('--listen <host:port>', 'override server.listen')
    .option('--store <file>', 'override store.path')
    .action(async (opts: { config?: string; listen?: string; store?: string }) => {
      const loaded = loadConfig(opts.config ?? defaultConfigPath(process.env), process.env);
      const config = {
        ...loaded,
        server: { ...loaded.server, ...(opts.listen ? { listen: opts.listen } : {}) },
        store: { ...loaded.store, ...(opts.store ? { path: opts.store } : {}) },
      };
      // Credentials the schema cannot check (which of token / App is set, a key file that reads): exit 2 now,
      // not a failing delivery later.
      const problems = githubProblems(config);
      if (problems.length)
        throw new InputError(`${opts.config ?? defaultConfigPath(process.env)}: ${problems.join('; ')}`);
      const log = pino({ name: 'navigator' });
      const nav = await buildNavigator({ config, log }).catch((e: unknown) => {
        // A listen address refused (no tokens beyond loopback) or malformed: the user's input, exit 2.
        throw e instanceof AppError && e.code === 'BAD_CONFIG' ? new InputError(e.message) : e;
      });
      await nav.start();
      // Graceful shutdown: the running tick finishes and is persisted before the store closes.
      closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
        if (err) log.error({ err }, 'shutting down after an error');
        else log.info({ signal }, 'shutting down');
        await nav.close();
        log.info({}, 'stopped');
      });
    });
}
