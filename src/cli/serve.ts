// navigator serve: the live service (API, watch loop, scraper or Prometheus source, outbox). Logs are pino
// JSON lines on stdout; the wall clock drives the ticks.
import type { Command } from 'commander';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { buildNavigator } from '../app.js';
import { defaultConfigPath, loadConfig } from '../config/load.js';
import { AppError } from '../deploys/errors.js';
import type { Config } from '../config/schema.js';
import { latencySignals, prometheusBoundChecks } from '../sources/histogram-bounds.js';
import { SourceError } from '../sources/types.js';
import { InputError } from './errors.js';
import { githubProblems } from '../actions/github-auth.js';

/**
 * With Prometheus, a latency signal whose histogram lacks its slowerThan bound is refused before anything
 * opens (no store, no port): exit 2 naming the signal, the metric and the bounds it has. A Prometheus that
 * cannot answer now does not stop the start (watches are blind until it does, and each tick checks the
 * bound itself); a histogram with no series yet is checked when they appear.
 */
async function checkLatencyBounds(config: Config, log: { info: Log; warn: Log }): Promise<void> {
  if (config.metrics.source !== 'prometheus' || latencySignals(config).length === 0) return;
  let checks;
  try {
    checks = await prometheusBoundChecks(config, { now: Date.now() / 1000 });
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    log.warn(
      { err: e.message },
      "latency histograms' bounds not checked at start: Prometheus did not answer; each tick checks them",
    );
    return;
  }
  const missing = checks.filter((c) => c.status === 'missing');
  if (missing.length) throw new InputError(missing.map((c) => c.message).join('\n'));
  for (const c of checks)
    (c.status === 'ok' ? log.info : log.warn)({ service: c.service, signal: c.signal, bounds: c.bounds }, c.message);
}
type Log = (obj: object, msg: string) => void;

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
      const log = pino({ name: 'navigator', level: process.env.NAVIGATOR_LOG_LEVEL ?? 'info' });
      await checkLatencyBounds(config, { info: log.info.bind(log), warn: log.warn.bind(log) });
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
