// Real Prometheus and Alertmanager (Debian packages) for end-to-end tests, on free ports in temporary
// folders, always stopped. A missing binary fails the test with what to install: `npm test` installs them
// when it runs as root, and nothing here skips.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Processes, freePort, waitUntil } from './processes.js';

export function binary(names: string[], pkg: string): string {
  for (const n of names) {
    try {
      return execFileSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' }).trim();
    } catch {
      /* try the next name */
    }
  }
  throw new Error(`${names[0]} is not installed: run 'apt-get install -y ${pkg}' (npm test does it when run as root)`);
}

export async function startPrometheus(
  procs: Processes,
  o: {
    targets?: string[];
    tsdb?: string;
    scrapeInterval?: string;
    /** serve HTTPS: Prometheus' --web.config.file contents, the scrape job's extra YAML (scheme, tls_config) and a fetch that trusts its CA */
    tls?: { webConfig: string; scrapeJob: string; fetch: typeof fetch };
  },
): Promise<{ url: string; dir: string; proc: ChildProcess }> {
  const bin = binary(['prometheus'], 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'navigator-prom-'));
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global: { scrape_interval: ${o.scrapeInterval ?? '1s'}, evaluation_interval: 1s }
scrape_configs:
  - job_name: storefront
    static_configs: [ { targets: [ ${(o.targets ?? []).map((t) => JSON.stringify(t)).join(', ')} ] } ]
${o.tls ? o.tls.scrapeJob : ''}`,
  );
  const web = join(dir, 'web.yml');
  if (o.tls) writeFileSync(web, o.tls.webConfig);
  const p = procs.startBinary(bin, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${o.tsdb ?? join(dir, 'data')}`,
    `--storage.tsdb.retention.time=100y`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...(o.tls ? [`--web.config.file=${web}`] : []),
  ]);
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const get = o.tls?.fetch ?? fetch;
  await waitUntil(`Prometheus on ${url}`, async () => p.exitCode === null && (await get(`${url}/-/ready`)).ok, 60_000);
  return { url, dir, proc: p };
}

export async function startAlertmanager(
  procs: Processes,
  webhook: string,
  o: { resolveTimeout?: string } = {},
): Promise<string> {
  const bin = binary(['prometheus-alertmanager', 'alertmanager'], 'prometheus-alertmanager');
  const dir = mkdtempSync(join(tmpdir(), 'navigator-am-'));
  const [port, cluster] = [await freePort(), await freePort()];
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(
    config,
    `${o.resolveTimeout ? `global: { resolve_timeout: ${o.resolveTimeout} }\n` : ''}route: { receiver: hook, group_by: ['alertname', 'deploy'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }
receivers:
  - name: hook
    webhook_configs: [ { url: ${JSON.stringify(webhook)}, send_resolved: true } ]
`,
  );
  const p = procs.startBinary(bin, [
    `--config.file=${config}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--cluster.listen-address=127.0.0.1:${cluster}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    `Alertmanager on ${url}`,
    async () => p.exitCode === null && (await fetch(`${url}/-/ready`)).ok,
    60_000,
  );
  return url;
}
