// navigator config check: validates a config without starting anything (no store opened, no port bound,
// no source queried) and prints what it would watch. Bad config exits 2 naming the file, line and key.
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { defaultConfigPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { listenAddress } from '../http/auth.js';
import { selectorQuery } from '../sources/prometheus-query.js';
import { selectorsOf } from '../watch/inputs.js';
import { AppError } from '../deploys/errors.js';
import { printJson } from './client.js';
import { ConfigError } from '../config/load.js';
import { slackProblems } from '../http/slack.js';
import { githubProblems } from '../actions/github-auth.js';
import {
  latencySignals,
  prometheusBoundChecks,
  ScrapeBoundChecks,
  type BoundCheck,
} from '../sources/histogram-bounds.js';
import { Scraper } from '../sources/scraper.js';
import { SourceError } from '../sources/types.js';
import { EXIT, ExitError } from './errors.js';

export interface WatchPlan {
  file: string;
  listen: string;
  source: string;
  tick: string;
  falseAlarmRate: number;
  tokens: { name: string; role: string }[];
  routes: Record<string, string[]>;
  services: {
    name: string;
    tier: string;
    watchFor: string;
    page: string[];
    signals: { name: string; kind: string; bad: string; watch: string; queries: string[] }[];
  }[];
}

export function watchPlan(config: Config, file: string): WatchPlan {
  const step = parseDuration(config.evaluation.interval);
  return {
    file,
    listen: config.server.listen,
    source:
      config.metrics.source === 'prometheus'
        ? `prometheus ${config.metrics.prometheus.url}`
        : `scrape ${config.metrics.scrape.targets.join(', ') || '(no targets)'}`,
    tick: config.evaluation.interval,
    falseAlarmRate: config.evaluation.falseAlarmRate,
    tokens: config.auth.tokens.map((t) => ({ name: t.name, role: t.role })),
    routes: Object.fromEntries(
      Object.entries(config.paging.routes).map(([name, r]) => [
        name,
        Object.keys(r).filter((k) => k !== 'description'),
      ]),
    ),
    services: Object.entries(config.services).map(([name, s]) => ({
      name,
      tier: s.tier,
      watchFor: s.watchFor,
      page: [...s.page],
      signals: Object.entries(s.signals).map(([sig, d]) => {
        const { num, den } = selectorsOf(d);
        return {
          name: sig,
          kind: d.kind,
          bad: d.bad,
          watch: d.watch ?? 'deploys',
          queries: [num, ...(den ? [den] : [])].map((x) => selectorQuery(x, step)),
        };
      }),
    })),
  };
}

export function formatPlan(p: WatchPlan): string {
  const lines = [
    `${p.file}: ok`,
    `listen ${p.listen}; metrics from ${p.source}; one tick every ${p.tick}; false-alarm rate ${p.falseAlarmRate} per deploy and signal`,
    `tokens: ${p.tokens.map((t) => `${t.name} (${t.role})`).join(', ') || 'none (the server listens on loopback only)'}`,
  ];
  for (const s of p.services) {
    lines.push(`service ${s.name}: ${s.tier}, watched for ${s.watchFor}, pages ${s.page.join(', ') || 'nobody'}`);
    for (const g of s.signals) {
      lines.push(
        `  ${g.name}: ${g.kind}, bad when it ${g.bad}s, watched ${g.watch === 'always' ? 'always' : 'during deploys'}`,
      );
      for (const q of g.queries) lines.push(`    ${q}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Where `config check` asks for latency signals' bucket bounds: nowhere by default (a check that starts
 * nothing must not depend on the network being up at that moment: it would pass in CI and fail at the desk),
 * `--prometheus URL` (with the config's headers and credentials), or `--source`: the config's own source,
 * its Prometheus or one scrape of each of its targets.
 */
async function askBounds(
  cfg: Config,
  o: { prometheus?: string; source?: boolean },
): Promise<{ asked: string; checks: BoundCheck[]; unreachable: string[] }> {
  const now = Date.now() / 1000;
  const viaPrometheus = async (url: string | undefined, asked: string) => {
    try {
      return { asked, checks: await prometheusBoundChecks(cfg, { url, now }), unreachable: [] };
    } catch (e) {
      if (e instanceof SourceError) return { asked, checks: [], unreachable: [e.message] };
      throw e;
    }
  };
  if (o.prometheus) return viaPrometheus(o.prometheus, `Prometheus ${o.prometheus} (--prometheus)`);
  if (cfg.metrics.source === 'prometheus')
    return viaPrometheus(undefined, `Prometheus ${cfg.metrics.prometheus.url} (the config's metrics.prometheus)`);
  const checks = new ScrapeBoundChecks(cfg, () => {});
  const scraper = new Scraper({
    targets: [...cfg.metrics.scrape.targets],
    interval: parseDuration(cfg.evaluation.interval),
    timeout: parseDuration(cfg.metrics.scrape.timeout),
    retention: 3600,
    keep: new Set(latencySignals(cfg).flatMap((r) => [`${r.sig.metric}_bucket`, `${r.sig.metric}_count`])),
    now: () => now,
    onSeries: (target, series) => checks.scraped(target, series),
  });
  await scraper.scrapeOnce(now);
  const unreachable = [...scraper.lastErrors].map(([target, err]) => `scrape of ${target} failed: ${err}`);
  return {
    asked: `one scrape of ${cfg.metrics.scrape.targets.join(', ') || '(no targets)'} (the config's metrics.scrape)`,
    checks: checks.checks(),
    unreachable,
  };
}

export function registerConfig(program: Command): void {
  const config = program.command('config').description('the configuration file');
  config
    .command('check')
    .description('validate a config and print what it would watch, without starting anything (exit 2 on errors)')
    .option('--config <file>', 'navigator.yaml (default: $NAVIGATOR_CONFIG or config/navigator.yaml)')
    .option('--json', 'the plan (or the problems) as JSON')
    .option('--prometheus <url>', "also check latency signals' bucket bounds on this Prometheus")
    .option(
      '--source',
      "also check latency signals' bucket bounds on the config's own source (its Prometheus, or one scrape of its targets)",
    )
    .action(async (o: { config?: string; json?: boolean; prometheus?: string; source?: boolean }) => {
      const file = o.config ?? defaultConfigPath(process.env);
      try {
        const cfg = loadConfig(file, process.env);
        const problems = [...slackProblems(cfg), ...githubProblems(cfg)].map((p) => `${file}: ${p}`);
        try {
          listenAddress(cfg.server.listen, cfg.auth.tokens.length > 0);
        } catch (e) {
          if (e instanceof AppError) problems.push(`${file}: ${e.message}`);
          else throw e;
        }
        if (problems.length) throw new ConfigError(file, problems);
        const plan = watchPlan(cfg, file);
        const latency = latencySignals(cfg).length > 0;
        const bounds = latency && (o.prometheus || o.source) ? await askBounds(cfg, o) : null;
        const missing = bounds?.checks.filter((c) => c.status === 'missing') ?? [];
        if (missing.length)
          throw new ConfigError(
            file,
            missing.map((c) => `${file}: ${c.message} (asked ${bounds?.asked})`),
          );
        const histograms = bounds && {
          asked: bounds.asked,
          checks: bounds.checks.map(({ service, signal, metric, bound, status, bounds: b, message }) => ({
            service,
            signal,
            metric,
            bound,
            status,
            bounds: b,
            message,
          })),
          unreachable: bounds.unreachable,
        };
        if (o.json) printJson({ ok: true, ...plan, ...(histograms ? { histograms } : {}) });
        else {
          process.stdout.write(formatPlan(plan));
          if (histograms) {
            process.stdout.write(`latency histograms' bucket bounds, asked ${histograms.asked}:\n`);
            for (const c of histograms.checks) process.stdout.write(`  ${c.status}: ${c.message}\n`);
          } else if (latency)
            process.stdout.write(
              "latency histograms' bucket bounds: not checked (no source asked; --prometheus URL or --source asks)\n",
            );
        }
        // A source that could not answer: not a bad config, but the check was not done (exit 3).
        if (bounds?.unreachable.length)
          throw new ExitError(EXIT.error, `bounds not checked: ${bounds.unreachable.join('; ')}`);
      } catch (e) {
        if (o.json && e instanceof ConfigError) printJson({ ok: false, file, problems: e.problems });
        throw e;
      }
    });
}
