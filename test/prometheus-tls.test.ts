// TLS to Prometheus with a private CA and a client certificate (issue 11: "and a CA file"), against a real
// Prometheus 2.42 serving HTTPS from --web.config.file and requiring a client certificate signed by its
// client CA. Certificates are made here with openssl. Checked: the config resolves the files against the
// config file's folder and refuses unreadable or non-PEM ones naming the key and line; with the CA and the
// client certificate the source reads Prometheus' own samples; without the CA, or without the client
// certificate, every query fails (a blind watch), never silently succeeds.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { PrometheusSource } from '../src/sources/prometheus.js';
import { tlsFetch } from '../src/sources/tls.js';
import { SourceError } from '../src/sources/types.js';
import { startPrometheus } from './support/prometheus.js';
import { Processes, waitUntil } from './support/processes.js';

const procs = new Processes();
const SERVICES =
  'services:\n  checkout:\n    signals:\n      orders: { kind: count, bad: drop, metric: orders_total, matchers: {} }\n';
afterAll(() => procs.stopAll());

/** A CA, a server certificate for 127.0.0.1 and a client certificate, each signed by the CA. */
function makeCertificates(dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=navigator test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:prometheus.test\nextendedKeyUsage=serverAuth\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', `${who}.key`, '-out', `${who}.csr`]);
    ssl([
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${who}.ext`,
      '-out',
      `${who}.pem`,
    ]);
  }
  return {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
}

describe('TLS to Prometheus (a private CA, mTLS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'navigator-tls-'));
  const certs = makeCertificates(dir);

  it('resolves the files against the config file and refuses bad ones naming the key', () => {
    const cfgDir = join(dir, 'cfg');
    mkdirSync(cfgDir);
    writeFileSync(join(cfgDir, 'not-pem.txt'), 'hello\n');
    const file = join(cfgDir, 'navigator.yaml');
    writeFileSync(
      file,
      `${SERVICES}metrics:\n  source: prometheus\n  prometheus:\n    url: https://127.0.0.1:9090\n    tls:\n      caFile: ../ca.pem\n      certFile: ../client.pem\n      keyFile: ../client.key\n`,
    );
    const ok = loadConfig(file, {});
    expect(ok.metrics.prometheus.tls?.caFile).toBe(certs.ca);
    expect(ok.metrics.prometheus.tls?.keyFile).toBe(certs.clientKey);

    writeFileSync(
      file,
      `${SERVICES}metrics:\n  source: prometheus\n  prometheus:\n    tls:\n      caFile: missing.pem\n      certFile: not-pem.txt\n`,
    );
    let err: unknown;
    try {
      loadConfig(file, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = String((err as Error).message);
    expect(msg).toMatch(/navigator\.yaml:9: metrics\.prometheus\.tls\.caFile: cannot read .*missing\.pem: ENOENT/);
    expect(msg).toMatch(/metrics\.prometheus\.tls\.certFile: .*not-pem\.txt is not a PEM file/);
    expect(msg).toMatch(/metrics\.prometheus\.tls\.keyFile: certFile and keyFile go together/);
  });

  it('reads a real Prometheus over HTTPS with a client certificate, and fails without the CA or the certificate', async () => {
    const trusted = tlsFetch({ caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey });
    const prom = await startPrometheus(procs, {
      tls: {
        webConfig: `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${certs.ca}\n`,
        // Prometheus scrapes itself over the same mTLS, so there are real samples to read.
        scrapeJob: `  - job_name: self\n    scheme: https\n    tls_config: { ca_file: ${certs.ca}, cert_file: ${certs.clientCert}, key_file: ${certs.clientKey} }\n    static_configs: [ { targets: [ "127.0.0.1:PORT" ] } ]\n`,
        fetch: trusted,
      },
    });
    const port = new URL(prom.url).port;
    expect(prom.url.startsWith('https://')).toBe(true);
    // The self-scrape job names its port only once Prometheus has one: reload with it filled in.
    execFileSync('sed', ['-i', `s/127.0.0.1:PORT/127.0.0.1:${port}/`, join(prom.dir, 'prometheus.yml')]);
    const reload = await trusted(`${prom.url}/-/reload`, { method: 'POST' });
    expect([200, 403]).toContain(reload.status); // 403: lifecycle API off; then SIGHUP reloads
    if (reload.status === 403) prom.proc.kill('SIGHUP');

    const sel = { metric: 'prometheus_http_requests_total', matchers: { job: 'self' } };
    const source = new PrometheusSource({ url: prom.url, timeout: 5, retries: 0, fetch: trusted });
    const grids = await waitUntil(
      'Prometheus to have scraped itself over mTLS',
      async () => {
        const now = Math.floor(Date.now() / 1000);
        const g = await source.grid(sel, now - 30, now, 1);
        return g.length > 0 && g.some((s) => Array.from(s.values).some(Number.isFinite)) ? g : false;
      },
      60_000,
    );
    expect(grids[0]?.labels.job).toBe('self');

    const now = Math.floor(Date.now() / 1000);
    const noCa = new PrometheusSource({ url: prom.url, timeout: 5, retries: 0 });
    await expect(noCa.grid(sel, now - 30, now, 1)).rejects.toBeInstanceOf(SourceError);
    const noClientCert = new PrometheusSource({
      url: prom.url,
      timeout: 5,
      retries: 0,
      fetch: tlsFetch({ caFile: certs.ca }),
    });
    await expect(noClientCert.grid(sel, now - 30, now, 1)).rejects.toBeInstanceOf(SourceError);
    // The wrong name: the certificate is for 127.0.0.1 and prometheus.test; serverName makes it check that.
    const wrongName = new PrometheusSource({
      url: prom.url,
      timeout: 5,
      retries: 0,
      fetch: tlsFetch({
        caFile: certs.ca,
        certFile: certs.clientCert,
        keyFile: certs.clientKey,
        serverName: 'elsewhere.test',
      }),
    });
    await expect(wrongName.grid(sel, now - 30, now, 1)).rejects.toBeInstanceOf(SourceError);
    const rightName = new PrometheusSource({
      url: prom.url,
      timeout: 5,
      retries: 0,
      fetch: tlsFetch({
        caFile: certs.ca,
        certFile: certs.clientCert,
        keyFile: certs.clientKey,
        serverName: 'prometheus.test',
      }),
    });
    expect((await rightName.grid(sel, now - 30, now, 1)).length).toBeGreaterThan(0);
  }, 120_000);
});
