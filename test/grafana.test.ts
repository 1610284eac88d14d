// The shipped Grafana dashboards: the dashboard-linter rules from the reference, every metric a dashboard
// names is one Navigator exports, and every query parses and runs on a real Prometheus.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../src/telemetry/metrics.js';
import { ROOT } from './support/cli.js';
import { Processes } from './support/processes.js';
import { startPrometheus } from './support/prometheus.js';

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

const procs = new Processes();
afterAll(() => procs.stopAll());

describe('Grafana dashboards', () => {
  it('ships an overview and a deploy dashboard', () => {
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
    for (const e of exprsOf(d)) {
      // Counters are wrapped in rate/increase, and their windows are $__rate_interval.
      for (const m of e.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*(?:_total|_bucket))\b/g)) {
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

  it('every query parses and runs on a real Prometheus', async () => {
    const prom = await startPrometheus(procs, { targets: [] });
    for (const [, d] of dashboards) {
      for (const e of exprsOf(d)) {
        const q = e.replaceAll('$__rate_interval', '1m').replaceAll('$service', 'checkout');
        const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await r.json()) as { status: string; error?: string };
        expect(body.status, `${q}: ${body.error ?? ''}`).toBe('success');
      }
    }
  }, 90_000);
});
