// navigator backtest --config FILE --data FILE.om | --prometheus URL --deploys FILE [--json]
import type { Command } from 'commander';
import { loadConfig, defaultConfigPath } from '../config/load.js';
import { readDeploysFile } from '../backtest/deploys-file.js';
import { runBacktest, type BacktestReport } from '../backtest/backtest.js';
import { MemoryStore } from '../sources/memory-store.js';
import { readOpenMetricsFile } from '../sources/openmetrics.js';
import type { MetricSource } from '../sources/types.js';
import { InputError } from './errors.js';
import { latencySelectors, missingBound } from '../signals/histogram.js';
import { parseDuration } from '../config/duration.js';
import { HISTORY_SECONDS } from '../watch/history.js';

interface Options {
  config?: string;
  data?: string;
  prometheus?: string;
  deploys?: string;
  json?: boolean;
  from?: string;
  to?: string;
}

export function registerBacktest(program: Command): void {
  program
    .command('backtest')
    .description('replay recorded metrics through the judge with a simulated clock (contracts §4)')
    .option('--config <file>', 'navigator.yaml (default: $NAVIGATOR_CONFIG or config/navigator.yaml)')
    .option('--data <file>', 'OpenMetrics text with timestamps')
    .option('--prometheus <url>', 'replay from a Prometheus server instead of --data')
    .option('--deploys <file>', 'JSON array of deploys')
    .option('--from <time>', 'start of the replay (ISO 8601; default: start of the data)')
    .option('--to <time>', 'end of the replay (ISO 8601; default: end of the data)')
    .option('--json', 'print one JSON document on stdout')
    .action(async (opts: Options) => {
      const report = await backtestCommand(opts);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    });
}

function time(text: string, flag: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new InputError(`${flag}: "${text}" is not an ISO 8601 time`);
  return t / 1000;
}

export async function backtestCommand(opts: Options): Promise<BacktestReport> {
  if (!opts.data === !opts.prometheus)
    throw new InputError('backtest: give exactly one of --data FILE or --prometheus URL');
  const config = loadConfig(opts.config ?? defaultConfigPath(process.env));
  const deploys = opts.deploys ? readDeploysFile(opts.deploys) : [];
  for (const d of deploys) {
    if (!config.services[d.service])
      throw new InputError(`${opts.deploys}: deploy ${d.id}: service "${d.service}" is not in the config`);
  }
  let source: MetricSource;
  let from: number;
  let to: number;
  if (opts.data) {
    const store = new MemoryStore();
    await readOpenMetricsFile(opts.data, store);
    const range = store.timeRange();
    if (!range) throw new InputError(`${opts.data}: no samples`);
    // A latency signal whose histogram lacks the slowerThan bound is a configuration error: say so now.
    for (const [service, sc] of Object.entries(config.services)) {
      for (const [name, sig] of Object.entries(sc.signals)) {
        if (sig.kind !== 'latency') continue;
        const err = missingBound(
          sig,
          store.samples(latencySelectors(sig).buckets).map((s) => s.labels),
        );
        if (err)
          throw new InputError(`services.${service}.signals.${name}.slowerThan: ${err.message} (in ${opts.data})`);
      }
    }
    source = store;
    from = opts.from ? time(opts.from, '--from') : range.min;
    to = opts.to ? time(opts.to, '--to') : range.max;
  } else {
    const { prometheusFromConfig } = await import('../sources/prometheus-config.js');
    // The config's credentials, tenant headers and TLS apply to the server replayed from as well.
    source = prometheusFromConfig(config.metrics.prometheus, {
      url: opts.prometheus as string,
      timeout: 30,
      retries: 2,
    });
    const starts = deploys.map((d) => d.startedAt);
    const longest = Math.max(...Object.values(config.services).map((s) => parseDuration(s.watchFor)));
    if (!opts.from && starts.length === 0)
      throw new InputError('backtest --prometheus: give --from and --to, or deploys');
    from = opts.from ? time(opts.from, '--from') : Math.min(...starts) - HISTORY_SECONDS;
    to = opts.to ? time(opts.to, '--to') : Math.max(...starts) + longest;
  }
  return runBacktest({ config, source, deploys, from, to });
}

function formatReport(r: BacktestReport): string {
  const lines = [`replayed ${r.range.ticks} ticks of ${r.range.step}s from ${r.range.from} to ${r.range.to}`, ''];
  for (const d of r.deploys) {
    lines.push(
      `${d.id}: ${d.verdict.toUpperCase()}${d.decidedAt ? ` at ${d.decidedAt}` : ''}${d.signal ? ` on ${d.signal}` : ''}`,
    );
    lines.push(`  ${d.reason}`);
  }
  for (const w of r.watches ?? [])
    lines.push(
      `${w.service}/${w.signal} (watch: always): armed ${w.armedAt ?? 'never'}; ${w.reason}; ${w.pages} pages`,
    );
  lines.push('', `${r.incidents.length} incidents`);
  for (const i of r.incidents) {
    lines.push(
      `${i.detectedAt} ${i.service}/${i.signal}: blamed on ${i.attributedTo ?? 'no recent change'}${i.candidates.length > 1 ? ` (also: ${i.candidates.slice(1, 4).join(', ')})` : ''}`,
    );
    if (i.evidence) lines.push(`  ${i.evidence.sentence}`);
  }
  return `${lines.join('\n')}\n`;
}
