// navigator config check: validates a config without starting anything (no store opened, no port bound,
// no source queried) and prints what it would watch. Bad config exits 2 naming the file, line and key.
import type { Command } from 'commander';
import { parseDuration } from '../config/duration.js';
import { defaultConfigPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { listenAddress } from '../http/auth.js';
import { selectorQuery } from '../sources/prometheus.js';
import { selectorsOf } from '../watch/inputs.js';
import { AppError } from '../deploys/errors.js';
import { printJson } from './client.js';
import { ConfigError } from '../config/load.js';
import { slackProblems } from '../http/slack.js';
import { githubProblems } from '../actions/github-auth.js';

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

export function registerConfig(program: Command): void {
  const config = program.command('config').description('the configuration file');
  config
    .command('check')
    .description('validate a config and print what it would watch, without starting anything (exit 2 on errors)')
    .option('--config <file>', 'navigator.yaml (default: $NAVIGATOR_CONFIG or config/navigator.yaml)')
    .option('--json', 'the plan (or the problems) as JSON')
    .action((o: { config?: string; json?: boolean }) => {
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
        if (o.json) printJson({ ok: true, ...plan });
        else process.stdout.write(formatPlan(plan));
      } catch (e) {
        if (o.json && e instanceof ConfigError) printJson({ ok: false, file, problems: e.problems });
        throw e;
      }
    });
}
