// The shipped Grafana dashboards: the dashboard-linter rules from the reference, every metric a dashboard
// names is one Navigator exports, and every query parses and runs on a real Prometheus.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../src/telemetry/metrics.js';
import { ROOT } from './support/cli.js';
import { Processes } from './support/processes.js';
import { binary, startPrometheus } from './support/prometheus.js';
import { histogramOpenMetrics } from '../bench/lib/histogram.js';
import { mulberry32, poisson } from '../bench/lib/random.js';

interface Target {
  expr: string;
}
interface Panel {
  title?: string;
  description?: string;
  datasource?: { uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { type: string; name: string }[] };
  annotations: { list: { expr?: string }[] };
  panels: Panel[];
}

const dir = join(ROOT, 'grafana/dashboards');
const dashboards = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Dashboard] as const);
const exprsOf = (d: Dashboard) => [
  ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...d.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
];

/**
 * A dashboard expression as Grafana sends it, with test values for the template variables: the service's
 * counter and histogram the user picks, the bucket bound, and All (`.+`) for job, instance and signal.
 */
const VALUES: Record<string, string> = {
  __rate_interval: '1m',
  service: 'checkout',
  counter: 'orders_total',
  histogram: 'http_request_duration_seconds_bucket',
  slower: '0.5',
  job: '.+',
  instance: '.+',
  signal: '.+',
};
const substitute = (e: string, values: Record<string, string> = VALUES) =>
  e.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (m, a: string | undefined, b: string | undefined) => values[(a ?? b) as string] ?? m,
  );

const procs = new Processes();
afterAll(() => procs.stopAll());

describe('Grafana dashboards', () => {
  it('ships an overview and a deploy dashboard', async () => {
    expect(dashboards.map(([, d]) => d.uid).sort()).toEqual(['navigator-deploy', 'navigator-overview']);
  });

  it.each(dashboards)('%s follows the dashboard-linter rules', (_f, d) => {
    const vars = d.templating.list.filter((v) => v.type === 'datasource');
    expect(vars.map((v) => v.name)).toEqual(['datasource']);
    for (const p of d.panels) {
      expect(p.title, 'every panel has a title').toBeTruthy();
      expect(p.description, `${p.title}: a description`).toBeTruthy();
      expect(p.fieldConfig?.defaults?.unit, `${p.title}: a unit`).toBeTruthy();
      expect(p.datasource?.uid).toBe('${datasource}');
    }
    // job and instance variables used in every selector of Navigator's own metrics; provisioned, not editable.
    const names = d.templating.list.map((v) => v.name);
    expect(names).toEqual(expect.arrayContaining(['job', 'instance']));
    expect((d as Dashboard & { editable?: boolean }).editable).toBe(false);
    for (const e of exprsOf(d)) {
      for (const m of e.matchAll(/\b(navigator_[a-zA-Z0-9_]+)(\{[^}]*\})?/g)) {
        expect(m[2] ?? '', `${e}: ${m[1]} by job`).toContain('job=~"$job"');
        expect(m[2] ?? '', `${e}: ${m[1]} by instance`).toContain('instance=~"$instance"');
      }
    }
    for (const e of exprsOf(d)) {
      // Counters (and the templated ones) are wrapped in rate/increase, and their windows are $__rate_interval.
      for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*(?:_total|_bucket)\b|\$\{(?:counter|histogram)\})/g)) {
        const before = e.slice(0, m.index);
        expect(
          /(rate|increase)\($/.test(before.trimEnd()) || /(rate|increase)\(\s*$/.test(before),
          `${e}: ${m[1]} inside rate/increase`,
        ).toBe(true);
      }
      for (const w of e.matchAll(/\[([^\]]+)\]/g)) expect(w[1], e).toBe('$__rate_interval');
    }
  });

  it('names only metrics Navigator exports (or the services own counters)', async () => {
    const exported = new Set<string>();
    for (const m of await createMetrics().registry.getMetricsAsJSON()) {
      exported.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(`${m.name}${s}`);
    }
    for (const [, d] of dashboards) {
      for (const e of exprsOf(d)) {
        for (const m of e.matchAll(/\b(navigator_[a-zA-Z0-9_]+)/g))
          expect(exported.has(m[1] as string), `${m[1]} is exported`).toBe(true);
      }
    }
  });

  it("the deploy dashboard names no service's metric: the service, signal, counter and histogram are variables", async () => {
    const deploy = dashboards.find(([, d]) => d.uid === 'navigator-deploy')![1];
    expect(deploy.templating.list.map((v) => v.name)).toEqual(
      expect.arrayContaining(['service', 'signal', 'counter', 'histogram', 'slower']),
    );
    for (const e of exprsOf(deploy)) {
      for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g))
        expect(m[1], `${e}: a selector of Navigator's own metrics or a variable`).toMatch(/^navigator_/);
      expect(e).not.toMatch(/\{[^}]*le="[0-9.]+"/); // the bucket bound is a variable too
    }
  });

  it('provisioning uses only the environment references Grafana expands ($VAR, ${VAR})', async () => {
    const base = join(ROOT, 'grafana/provisioning');
    for (const sub of readdirSync(base)) {
      for (const f of readdirSync(join(base, sub))) {
        const text = readFileSync(join(base, sub, f), 'utf8').replace(/#.*$/gm, '');
        for (const m of text.matchAll(/\$\{[^}]*\}/g))
          expect(m[0], `${sub}/${f}`).toMatch(/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/);
        expect(text, `${sub}/${f}`).not.toMatch(/\$\{[^}]*:-/);
      }
    }
  });

  it('every query parses and runs on a real Prometheus', async () => {
    const prom = await startPrometheus(procs, { targets: [] });
    for (const [, d] of dashboards) {
      for (const e of exprsOf(d)) {
        const q = substitute(e);
        expect(q, 'every variable has a test value').not.toMatch(/\$/);
        const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; error?: string };
        expect(body.status, `${q}: ${body.error ?? ''}`).toBe('success');
      }
      // Variables: label_values(selector, label) is Grafana's series query for that selector.
      for (const v of d.templating.list as { name: string; definition?: string }[]) {
        const m = /^label_values\((.+), (\w+)\)$/.exec(v.definition ?? '');
        if (!m) continue;
        const q = `count by (${m[2]}) (${substitute(m[1] as string)})`;
        const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; error?: string };
        expect(body.status, `${v.name}: ${q}: ${body.error ?? ''}`).toBe('success');
      }
    }
  }, 90_000);

  it('the latency panels show each version, from a real Prometheus holding a backfilled histogram', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'navigator-grafana-latency-'));
    const t0 = Date.parse('2025-11-27T08:00:00Z') / 1000;
    writeFileSync(
      join(dir, 'data.om'),
      histogramOpenMetrics({
        metric: 'http_request_duration_seconds',
        from: t0,
        to: t0 + 3600,
        step: 15,
        rng: mulberry32(3),
        poisson,
        series: [
          { labels: { service: 'checkout', version: 'v1' }, rate: () => 90, slowShare: () => 0.01 },
          { labels: { service: 'checkout', version: 'v2' }, rate: () => 10, slowShare: () => 0.3 },
        ],
      }),
    );
    execFileSync(
      binary(['promtool'], 'prometheus'),
      ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'data.om'), join(dir, 'tsdb')],
      { stdio: 'pipe' },
    );
    const prom = await startPrometheus(procs, { tsdb: join(dir, 'tsdb') });
    const deploy = dashboards.find(([, d]) => d.uid === 'navigator-deploy')![1];
    const panel = (title: RegExp) => deploy.panels.find((p) => title.test(p.title ?? ''))!;
    const run = async (expr: string) => {
      // 30 minutes of data in each rate window, so the shares are close to the simulated ones
      const q = substitute(expr, { ...VALUES, __rate_interval: '30m' });
      const r = await fetch(`${prom.url}/api/v1/query?${new URLSearchParams({ query: q, time: String(t0 + 3600) })}`);
      const body = (await r.json()) as { data: { result: { metric: { version: string }; value: [number, string] }[] } };
      return Object.fromEntries(body.data.result.map((x) => [x.metric.version, Number(x.value[1])]));
    };
    const quantiles = panel(/^Latency quantiles/).targets!;
    expect(quantiles.map((t) => (t as Target & { legendFormat: string }).legendFormat)).toEqual([
      '{{version}} p50',
      '{{version}} p90',
      '{{version}} p99',
    ]);
    const [p50, , p99] = await Promise.all(quantiles.map((t) => run(t.expr)));
    expect(Object.keys(p99!).sort()).toEqual(['v1', 'v2']);
    expect(p99!.v2).toBeGreaterThan(1); // 30% slow: p99 deep in the slow tail
    expect(p99!.v1).toBeLessThan(p99!.v2!);
    expect(p50!.v1).toBeLessThan(0.25);
    const slow = await run(panel(/slower than/).targets![0]!.expr);
    expect(slow.v2).toBeGreaterThan(0.25);
    expect(slow.v2).toBeLessThan(0.35);
    expect(slow.v1).toBeGreaterThan(0.005);
    expect(slow.v1).toBeLessThan(0.015);
  }, 90_000);
});
