// Loading the configuration: YAML with line numbers, ${ENV} interpolation, validation against the one
// schema (src/config/schema.ts), then checks the schema cannot express. Every problem names the file, the
// line and the key path, all problems are reported at once, and nothing is half-applied: either a
// complete, frozen Config comes back or ConfigError is thrown.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CronExpressionParser } from 'cron-parser';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ajv } from '../model/validate.js';
import { parseDuration } from './duration.js';
import { parseHoliday } from './holidays.js';
import { ConfigSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(
      problems.length === 1
        ? (problems[0] as string)
        : `${file}: ${problems.length} problems:\n  ${problems.join('\n  ')}`,
    );
  }
}

export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  return env.NAVIGATOR_CONFIG ?? 'config/navigator.yaml';
}

const validate = ajv.compile(ConfigSchema);

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`${path}: cannot read the config: ${(e as Error).message}`]);
  }
  return parseConfig(text, path, env);
}

type Path = (string | number)[];

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number | null =>
    node?.range ? lines.linePos(node.range[0]).line : null;
  const at = (path: Path, message: string, node?: Node | null) => {
    const n = node ?? nodeAt(doc, path);
    const line = lineOf(n);
    return `${file}${line ? `:${line}` : ''}: ${path.length ? path.join('.') : '(top level)'}: ${message}`;
  };
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `${file}:${lines.linePos(e.pos[0]).line}: not valid YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const problems: string[] = [];
  interpolate(doc, doc.contents as Node | null, [], env, (path, msg, node) => problems.push(at(path, msg, node)));
  if (problems.length) throw new ConfigError(file, problems);

  const data = (doc.toJS() as unknown) ?? {};
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      const path: Path = e.instancePath.split('/').slice(1).map(unescapePointer);
      if (otherSignalKind(e.schemaPath, path, data)) continue;
      if (e.keyword === 'additionalProperties') {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        problems.push(at([...path, key], 'unknown key'));
      } else if (e.keyword === 'required') {
        const key = (e.params as { missingProperty: string }).missingProperty;
        problems.push(at(path, `missing required key "${key}"`));
      } else if (e.keyword === 'anyOf' || e.keyword === 'oneOf') {
        problems.push(at(path, unionMessage(path, data)));
      } else if (e.keyword === 'const' && /signals\.[^.]+\.kind$/.test(path.join('.'))) {
        continue; // reported once by the union's own message
      } else {
        problems.push(at(path, e.message ?? 'is invalid'));
      }
    }
    throw new ConfigError(file, dedupeUnionNoise(problems));
  }
  const config = data as Config;
  semanticChecks(config, (path, msg) => problems.push(at(path, msg)));
  resolveTlsFiles(config, dirname(file), (path, msg) => problems.push(at(path, msg)));
  if (problems.length) throw new ConfigError(file, problems);
  return deepFreeze(config);
}

/** The order of the kinds in the Signal union (schema.ts): an error from another kind's branch is noise. */
const SIGNAL_KINDS = ['count', 'ratio', 'latency'];

/** Whether a schema error comes from the union branch of a signal kind other than the one the signal names. */
function otherSignalKind(schemaPath: string, path: Path, data: unknown): boolean {
  const m = /\/signals\/(?:additionalProperties|patternProperties\/[^/]+)\/anyOf\/(\d+)\//.exec(schemaPath);
  const at = path.indexOf('signals');
  if (!m || at < 0 || path.length < at + 2) return false;
  let v: unknown = data;
  for (const p of path.slice(0, at + 2)) v = (v as Record<string | number, unknown> | undefined)?.[p];
  const kind = SIGNAL_KINDS.indexOf(String((v as { kind?: unknown } | undefined)?.kind));
  return kind >= 0 && Number(m[1]) !== kind;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function nodeAt(doc: Document, path: Path): Node | null {
  for (let k = path.length; k >= 0; k--) {
    const n = doc.getIn(path.slice(0, k), true) as Node | undefined;
    if (n && typeof n === 'object') {
      // For a key that exists, point at the key itself (its line), not its value.
      if (k === path.length && k > 0) {
        const parent = doc.getIn(path.slice(0, k - 1), true) as Node | undefined;
        if (parent && isMap(parent)) {
          const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[k - 1]);
          if (pair && isScalar(pair.key)) return pair.key;
        }
      }
      return n;
    }
  }
  return null;
}

const ENV = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolate(
  doc: Document,
  node: Node | null,
  path: Path,
  env: NodeJS.ProcessEnv,
  report: (path: Path, msg: string, node: Node) => void,
): void {
  if (!node) return;
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      interpolate(doc, pair.value as Node | null, [...path, key], env, report);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => interpolate(doc, item as Node | null, [...path, i], env, report));
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
    node.value = node.value.replace(ENV, (_, name: string, def: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (def !== undefined) return def;
      report(path, `environment variable ${name} is not set (use \${${name}:-default} for a default)`, node);
      return '';
    });
  }
}

function unionMessage(path: Path, data: unknown): string {
  let v: unknown = data;
  for (const p of path) v = (v as Record<string | number, unknown> | undefined)?.[p];
  const obj = (v ?? {}) as Record<string, unknown>;
  const name = path.join('.');
  if (/signals\.[^.]+$/.test(name)) {
    if (obj.kind === 'count')
      return 'a count signal needs kind, bad and metric (and optional matchers, watch, minEffect)';
    if (obj.kind === 'ratio')
      return 'a ratio signal needs kind, bad, numerator {metric, matchers} and denominator {metric, matchers}';
    if (obj.kind === 'latency')
      return 'a latency signal needs kind, bad, metric (a histogram) and slowerThan (a bucket bound, e.g. 500ms)';
    return `kind must be "count", "ratio" or "latency"`;
  }
  if (/hooks\.(halt|rollback)$/.test(name))
    return 'a hook is either { url, method?, headers?, body?, secret? } or { command: [argv...] }';
  return 'does not match any allowed form';
}

/** Union branches each report their own errors; keep the precise ones, drop duplicates. */
function dedupeUnionNoise(problems: string[]): string[] {
  return [...new Set(problems)];
}

function semanticChecks(c: Config, report: (path: Path, msg: string) => void): void {
  const durations: [Path, string][] = [
    [['evaluation', 'interval'], c.evaluation.interval],
    [['evaluation', 'alwaysMeanTimeBetweenFalsePages'], c.evaluation.alwaysMeanTimeBetweenFalsePages],
    [['metrics', 'scrape', 'timeout'], c.metrics.scrape.timeout],
    [['metrics', 'scrape', 'retention'], c.metrics.scrape.retention],
    [['metrics', 'prometheus', 'timeout'], c.metrics.prometheus.timeout],
    [['paging', 'blindAfter'], c.paging.blindAfter],
    [['paging', 'resolveAfter'], c.paging.resolveAfter],
    ...(['timeout', 'initialBackoff', 'maxBackoff', 'maxAge'] as const).map((k): [Path, string] => [
      ['paging', 'delivery', k],
      c.paging.delivery[k],
    ]),
  ];
  for (const [name, svc] of Object.entries(c.services)) durations.push([['services', name, 'watchFor'], svc.watchFor]);
  c.freezes.forEach((f, i) => durations.push([['freezes', i, 'duration'], f.duration]));
  for (const [path, text] of durations) {
    try {
      if (!(parseDuration(text) > 0)) report(path, 'must be longer than zero');
    } catch (e) {
      report(path, (e as Error).message);
    }
  }
  if (c.metrics.prometheus.bearerToken !== undefined && c.metrics.prometheus.basicAuth !== undefined)
    report(['metrics', 'prometheus', 'bearerToken'], 'give either bearerToken or basicAuth, not both');
  for (const [name, route] of Object.entries(c.paging.routes)) {
    if (Object.keys(route).length === 0) report(['paging', 'routes', name], 'a route needs at least one provider');
  }
  for (const k of ['fallback', 'undeliverable'] as const) {
    const r = c.paging[k];
    if (r !== undefined && !c.paging.routes[r]) report(['paging', k], `no paging route named "${r}" in paging.routes`);
  }
  for (const [name, svc] of Object.entries(c.services)) {
    svc.page.forEach((r, i) => {
      if (!c.paging.routes[r]) report(['services', name, 'page', i], `no paging route named "${r}" in paging.routes`);
    });
    svc.dependsOn.forEach((d, i) => {
      if (!c.services[d]) report(['services', name, 'dependsOn', i], `no service named "${d}"`);
    });
  }
  c.auth.tokens.forEach((t, i) => {
    if ((t.token === undefined) === (t.sha256 === undefined))
      report(['auth', 'tokens', i], 'give exactly one of token or sha256');
  });
  const names = new Set<string>();
  c.auth.tokens.forEach((t, i) => {
    if (names.has(t.name)) report(['auth', 'tokens', i, 'name'], `token name "${t.name}" appears twice`);
    names.add(t.name);
  });
  c.evaluation.holidays.forEach((h, i) => {
    try {
      parseHoliday(h);
    } catch (e) {
      report(['evaluation', 'holidays', i], (e as Error).message);
    }
  });
  c.freezes.forEach((f, i) => {
    try {
      CronExpressionParser.parse(f.cron, { tz: 'UTC' });
    } catch (e) {
      report(['freezes', i, 'cron'], `not a cron expression: ${(e as Error).message}`);
    }
    (f.services ?? []).forEach((s, j) => {
      if (!c.services[s]) report(['freezes', i, 'services', j], `no service named "${s}"`);
    });
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

/**
 * The Prometheus source's TLS files: resolved against the config file's folder (as Prometheus resolves its
 * own tls_config) and read now, so a missing or unreadable file, or one that is not PEM, is a config error
 * naming the key and its line rather than a watch that goes blind at its first query.
 */
function resolveTlsFiles(c: Config, base: string, report: (path: Path, msg: string) => void): void {
  const tls = c.metrics.prometheus.tls;
  if (!tls) return;
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    report(
      ['metrics', 'prometheus', 'tls', tls.certFile ? 'keyFile' : 'certFile'],
      'certFile and keyFile go together (mTLS)',
    );
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const p = tls[key];
    if (p === undefined) continue;
    const abs = resolve(base, p);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      report(
        ['metrics', 'prometheus', 'tls', key],
        `cannot read ${abs}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
      continue;
    }
    if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text))
      report(['metrics', 'prometheus', 'tls', key], `${abs} is not a PEM file`);
    tls[key] = abs;
  }
}
