// The README's Argo Rollouts AnalysisTemplate, evaluated with Argo's own rules (test/support/argo.ts, ported
// from its source) on Navigator's real answers: "wait" keeps the analysis running instead of pausing the
// rollout at the first measurement, "proceed" ends it Successful, "halt" Failed, a long wait ends
// Inconclusive (a human decides) only after `count`, and Navigator restarts are ridden out.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { assess, measure, validateMetric, type Metric } from './support/argo.js';
import { testNavigator, type TestNavigator } from './support/navigator.js';

let t: TestNavigator | null = null;
afterEach(async () => {
  await t?.nav.close();
  t = null;
});

interface Template {
  kind: string;
  spec: { args: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[]; metrics: Metric[] };
}

/** The AnalysisTemplate in the README's Argo Rollouts bullet. */
function readmeTemplate(): Template {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('- **Argo Rollouts**');
  expect(at).toBeGreaterThan(0);
  const block = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block).not.toBeNull();
  const doc = parse((block![1] as string).replace(/^ {2}/gm, '')) as Template;
  expect(doc.kind).toBe('AnalysisTemplate');
  return doc;
}

/** The template as released before: it paused every rollout at its first measurement. */
const OLD: Metric = {
  name: 'navigator',
  interval: '15s',
  successCondition: 'result == "proceed"',
  failureCondition: 'result == "halt"',
  failureLimit: 0,
  provider: { web: { url: 'http://navigator:8080/v1/integrations/argo/{{args.deploy-id}}', jsonPath: '{$.decision}' } },
};

const deploy = (id: string) => ({ id, service: 'checkout', version: 'v2', baselineVersion: 'v1', strategy: 'canary' });

describe("the README's Argo Rollouts template", () => {
  it('is valid for Argo, sends the token from a Secret, and reads the Argo route', async () => {
    const tpl = readmeTemplate();
    const [m] = tpl.spec.metrics;
    expect(validateMetric(m!)).toBeNull();
    expect(m!.count).toBeGreaterThan(1);
    const auth = m!.provider.web!.headers!.find((h) => h.key === 'Authorization');
    const arg = /^Bearer \{\{args\.([a-z0-9-]+)\}\}$/.exec(auth!.value)?.[1];
    expect(tpl.spec.args.find((a) => a.name === arg)?.valueFrom?.secretKeyRef).toBeTruthy();
    expect(m!.provider.web!.url).toMatch(/\/v1\/integrations\/argo\/\{\{args\.deploy-id\}\}$/);
    expect(tpl.spec.args.map((a) => a.name)).toContain('deploy-id');
  });

  it("maps Navigator's answers to the intended phases by Argo's rules", async () => {
    const [m] = readmeTemplate().spec.metrics as [Metric];
    t = await testNavigator();
    const headers = (token: string) => ({ authorization: `Bearer ${token}` }); // as the template sends it
    for (const id of ['d-watch', 'd-pass', 'd-halt'])
      expect(
        (
          await t.nav.http.inject({
            method: 'POST',
            url: '/v1/deploys',
            headers: headers('ci-token'),
            payload: deploy(id),
          })
        ).statusCode,
      ).toBe(201);
    const poll = async (id: string) => {
      const url = new URL(m.provider.web!.url.replace('{{args.deploy-id}}', id)).pathname;
      const r = await t!.nav.http.inject({ url, headers: headers('ci-token') });
      return measure(m, r.statusCode, r.body);
    };
    const override = (id: string, action: string, token: string) =>
      t!.nav.http.inject({
        method: 'POST',
        url: `/v1/deploys/${id}/overrides`,
        headers: headers(token),
        payload: { action, reason: 'test' },
      });

    // Watching: Inconclusive measurements that keep the analysis Running, not paused.
    const waits = [await poll('d-watch'), await poll('d-watch')];
    expect(waits).toEqual(['Inconclusive', 'Inconclusive']);
    expect(assess(m, waits.slice(0, 1))).toBe('Running');
    expect(assess(m, waits)).toBe('Running');
    // The old template paused the rollout at that very first measurement.
    expect(assess(OLD, waits.slice(0, 1))).toBe('Inconclusive');

    // Judged good: Successful at the first "proceed", after any number of waits.
    expect((await override('d-pass', 'proceed', 'admin-token')).statusCode).toBe(200);
    const pass = await poll('d-pass');
    expect(pass).toBe('Successful');
    expect(assess(m, [...waits, pass])).toBe('Successful');

    // Halted: Failed at the first "halt" (the rollout aborts).
    expect((await override('d-halt', 'halt', 'alice-token')).statusCode).toBe(200);
    const halt = await poll('d-halt');
    expect(halt).toBe('Failed');
    expect(assess(m, [...waits, halt])).toBe('Failed');

    // Navigator down or restarting (no answer, 503) for 5 minutes of 15 s polls: still Running; then it answers.
    const down = Array.from({ length: 20 }, () => measure(m, 503, ''));
    expect(down.every((x) => x === 'Error')).toBe(true);
    expect(assess(m, [...waits, ...down])).toBe('Running');
    expect(assess(m, [...waits, ...down, pass])).toBe('Successful');
    expect(assess(OLD, ['Error', 'Error', 'Error', 'Error', 'Error'])).toBe('Error');

    // Waiting through the whole count: Inconclusive (paused for a human) only at the count-th wait.
    const all = Array.from({ length: m.count! }, () => 'Inconclusive');
    expect(assess(m, all.slice(0, -1))).toBe('Running');
    expect(assess(m, all)).toBe('Inconclusive');

    // A wrong token or an unknown deploy is an Error measurement, never a success.
    const url = new URL(m.provider.web!.url.replace('{{args.deploy-id}}', 'd-pass')).pathname;
    const bad = await t.nav.http.inject({ url, headers: headers('wrong') });
    expect(measure(m, bad.statusCode, bad.body)).toBe('Error');
    expect(await poll('nope')).toBe('Error');
  });
});
