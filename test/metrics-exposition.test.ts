// Navigator's own /metrics, as Prometheus' own linter sees it: `promtool check metrics` (Debian's
// prometheus package) must find nothing, the default process metrics keep their standard names, and
// navigator_build_info says which build answers.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { testNavigator, type TestNavigator } from './support/navigator.js';
import { binary } from './support/prometheus.js';

let t: TestNavigator | null = null;
afterEach(async () => {
  await t?.nav.close();
  t = null;
});

describe('/metrics', () => {
  it('is clean for promtool check metrics, with unprefixed process metrics and navigator_build_info', async () => {
    t = await testNavigator();
    // Every labelled family gets a sample: a deploy registered, a tick judged, requests served.
    const r = await t.nav.http.inject({
      method: 'POST',
      url: '/v1/deploys',
      headers: t.auth('ci-token'),
      payload: { id: 'd-1', service: 'checkout', version: 'v2', baselineVersion: 'v1', strategy: 'canary' },
    });
    expect(r.statusCode).toBe(201);
    t.clock.now += 15;
    await t.nav.service.tick(t.clock.now);
    const text = (await t.nav.http.inject({ url: '/metrics' })).body;

    const promtool = binary(['promtool'], 'prometheus');
    const check = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    expect(check.status).toBe(0);

    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1] as string);
    expect(families).toContain('process_cpu_seconds_total');
    expect(families).toContain('process_resident_memory_bytes');
    expect(families).toContain('nodejs_eventloop_lag_seconds');
    expect(families.filter((f) => f.startsWith('navigator_process'))).toEqual([]);
    const version = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version;
    expect(text).toContain(`navigator_build_info{version="${version}",nodejs_version="${process.versions.node}"} 1`);
  });

  it('promtool flags what the check above guards against (a gauge ending in _total)', async () => {
    // The check can fail: the same linter on a line prom-client would emit with its defaults untouched.
    const promtool = binary(['promtool'], 'prometheus');
    const bad =
      '# HELP nodejs_active_handles_total x\n# TYPE nodejs_active_handles_total gauge\nnodejs_active_handles_total 3\n';
    const check = spawnSync(promtool, ['check', 'metrics'], { input: bad, encoding: 'utf8' });
    expect(check.status).not.toBe(0);
    expect(`${check.stdout}${check.stderr}`).toMatch(/should not have "_total" suffix/);
  });
});
