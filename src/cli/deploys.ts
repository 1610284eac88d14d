// navigator deploys (list, filter), override, end, ack: what a person on call does from a terminal.
// Every command takes --json and exits through the one table in errors.ts.
import type { Command } from 'commander';
import { callOrExit, printJson, type ClientOptions } from './client.js';
import { UsageError } from './errors.js';
import { formatElapsed } from './progress.js';

const STATUSES = ['pending_approval', 'watching', 'awaiting_approval', 'passed', 'halted', 'rolled_back', 'ended'];

interface Conn extends ClientOptions {
  json?: boolean;
}

function connection(c: Command): Command {
  return c
    .option('--server <url>', 'Navigator URL (default $NAVIGATOR_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'bearer token (default $NAVIGATOR_TOKEN)')
    .option('--json', 'print JSON on stdout');
}

interface Row {
  id: string;
  service: string;
  version: string;
  status: string;
  startedAt: string;
  reason: string;
  change: { id: string; title?: string; author?: string } | null;
}

export function formatDeploys(rows: Row[], now = Date.now()): string {
  if (rows.length === 0) return 'no deploys\n';
  const table = rows.map((d) => [
    d.id,
    d.service,
    d.version,
    d.status,
    formatElapsed(Math.max(0, (now - Date.parse(d.startedAt)) / 1000)),
    d.change ? `${d.change.id} ${d.change.title ?? ''}`.trim() : '',
  ]);
  const head = ['ID', 'SERVICE', 'VERSION', 'STATUS', 'AGE', 'CHANGE'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[fmt(head), ...table.map(fmt)].join('\n')}\n`;
}

export function registerDeploys(program: Command): void {
  connection(
    program
      .command('deploys')
      .description('list deploys, newest first')
      .option('--status <status>', `only this status: ${STATUSES.join(', ')}`)
      .option('--service <name>', 'only this service')
      .option('--limit <n>', 'at most this many', '50'),
  ).action(async (o: Conn & { status?: string; service?: string; limit: string }) => {
    if (o.status && !STATUSES.includes(o.status))
      throw new UsageError(`--status: "${o.status}" is not one of ${STATUSES.join(', ')}`);
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200)
      throw new UsageError(`--limit: "${o.limit}" is not a whole number from 1 to 200`);
    // The API's own page (the newest 200) is filtered and cut here: its querystring is not coerced, so
    // `limit` is not sent.
    const q = new URLSearchParams();
    if (o.status) q.set('status', o.status);
    const r = await callOrExit(o, 'GET', `/v1/deploys${o.status ? `?${q.toString()}` : ''}`);
    const rows = ((r.deploys as Row[]) ?? []).filter((d) => !o.service || d.service === o.service).slice(0, limit);
    if (o.json) printJson({ deploys: rows });
    else process.stdout.write(formatDeploys(rows));
  });

  connection(
    program
      .command('override <id>')
      .description('force a deploy to halt (approver, admin) or to proceed (admin: breaks the glass of a freeze)')
      .requiredOption('--action <halt|proceed>', 'halt or proceed')
      .requiredOption('--reason <text>', 'why, for the audit log and the people after you'),
  ).action(async (id: string, o: Conn & { action: string; reason: string }) => {
    if (o.action !== 'halt' && o.action !== 'proceed')
      throw new UsageError(`--action: "${o.action}" is not halt or proceed`);
    const r = await callOrExit(o, 'POST', `/v1/deploys/${encodeURIComponent(id)}/overrides`, {
      action: o.action,
      reason: o.reason,
    });
    if (o.json) printJson(r);
    else process.stdout.write(`${id}: ${String(r.status)}: ${String(r.reason)}\n`);
  });

  connection(
    program
      .command('end <id>')
      .description('the pipeline is done with this deploy (a decided deploy keeps its status)'),
  ).action(async (id: string, o: Conn) => {
    const r = await callOrExit(o, 'POST', `/v1/deploys/${encodeURIComponent(id)}/end`);
    if (o.json) printJson(r);
    else process.stdout.write(`${id}: ${String(r.status)}: ${String(r.reason)}\n`);
  });

  connection(
    program
      .command('ack <id>')
      .description("acknowledge a deploy's page: it is resolved at every provider")
      .option('--comment <text>', 'what you are doing about it', ''),
  ).action(async (id: string, o: Conn & { comment: string }) => {
    const r = await callOrExit(o, 'POST', `/v1/deploys/${encodeURIComponent(id)}/acknowledge`, {
      comment: o.comment,
    });
    if (o.json) printJson(r);
    else
      process.stdout.write(
        `${id}: acknowledged by ${String(r.acknowledgedBy)}; ${String(r.resolves)} page(s) resolved\n`,
      );
  });
}
