// `navigator backtest` end to end on recordings generated here: the built CLI, real files, exit codes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { navigator } from './support/cli.js';
import { diurnal, generateOpenMetrics, iso } from './support/recording.js';

const DAY = 86400;
const FROM = Date.parse('2025-11-19T00:00:00Z') / 1000;

const CONFIG = `
evaluation:
  interval: 15s
  falseAlarmRate: 0.001
services:
  checkout:
    watchFor: 30m
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout }, watch: always }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: checkout, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: checkout } }
  payments:
    watchFor: 30m
    signals:
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: payments, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: payments } }
`;

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'navigator-backtest-'));
  writeFileSync(join(dir, 'navigator.yaml'), CONFIG);
});

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('navigator backtest', () => {
  it('fails a canary whose orders collapse, at the first ticks, and passes a good one', async () => {
    const start = FROM + 2 * DAY;
    const deployAt = start + 3600;
    const good = deployAt + 2 * 3600;
    const orders = diurnal(20);
    const data = generateOpenMetrics({
      from: start,
      to: good + 2400,
      step: 15,
      seed: 7,
      burstShape: 20,
      series: [
        {
          metric: 'orders_total',
          labels: { service: 'checkout', version: 'v1' },
          rate: (t) => orders(t) * (t >= deployAt && t < deployAt + 3600 ? 0.9 : t >= good ? 0.9 : 1),
        },
        {
          metric: 'orders_total',
          labels: { service: 'checkout', version: 'v2' },
          rate: (t) => orders(t) * 0.1 * 0.01,
          startsAt: deployAt,
          stopsAt: deployAt + 3600,
        },
        {
          metric: 'orders_total',
          labels: { service: 'checkout', version: 'v3' },
          rate: (t) => orders(t) * 0.1,
          startsAt: good,
        },
        { metric: 'http_requests_total', labels: { service: 'checkout', version: 'v1', code: '200' }, rate: () => 180 },
        {
          metric: 'http_requests_total',
          labels: { service: 'checkout', version: 'v2', code: '200' },
          rate: () => 20,
          startsAt: deployAt,
          stopsAt: deployAt + 3600,
        },
        {
          metric: 'http_requests_total',
          labels: { service: 'checkout', version: 'v3', code: '200' },
          rate: () => 20,
          startsAt: good,
        },
      ],
    });
    const deploys = [
      {
        id: 'bad',
        service: 'checkout',
        version: 'v2',
        baselineVersion: 'v1',
        strategy: 'canary',
        startedAt: iso(deployAt),
        stages: [{ at: iso(deployAt), weight: 0.1 }],
      },
      {
        id: 'good',
        service: 'checkout',
        version: 'v3',
        baselineVersion: 'v1',
        strategy: 'canary',
        startedAt: iso(good),
        stages: [{ at: iso(good), weight: 0.1 }],
      },
    ];
    const r = navigator([
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--data',
      write('canary.om', data),
      '--deploys',
      write('canary.json', JSON.stringify(deploys)),
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const bad = report.deploys.find((d: { id: string }) => d.id === 'bad');
    expect(bad.verdict).toBe('fail');
    expect(bad.signal).toBe('orders');
    expect((Date.parse(bad.decidedAt) / 1000 - deployAt) / 15).toBeLessThanOrEqual(2);
    expect(bad.evidence.statistic).toBeGreaterThanOrEqual(bad.evidence.threshold);
    expect(bad.evidence.sentence).toMatch(/orders/);
    const good_ = report.deploys.find((d: { id: string }) => d.id === 'good');
    expect(good_.verdict, good_.reason).toBe('pass');
    expect(report.incidents.some((i: { attributedTo: string }) => i.attributedTo === 'bad')).toBe(true);
  });

  it('pages an always-watched collapse within 3 ticks and blames the recent change of another service', async () => {
    const onset = FROM + 8 * DAY + 11 * 3600;
    const orders = diurnal(30);
    const data = generateOpenMetrics({
      from: FROM,
      to: onset + 1800,
      step: 15,
      seed: 11,
      burstShape: 30,
      series: [
        {
          metric: 'orders_total',
          labels: { service: 'checkout', version: 'v1' },
          rate: (t) => orders(t) * (t >= onset ? 0.01 : 1),
        },
        { metric: 'http_requests_total', labels: { service: 'payments', version: 'v7', code: '200' }, rate: () => 50 },
      ],
    });
    const deploys = [
      {
        id: 'old-payments',
        service: 'payments',
        version: 'v6',
        strategy: 'all-at-once',
        startedAt: iso(onset - 5 * 3600),
      },
      { id: 'new-payments', service: 'payments', version: 'v7', strategy: 'all-at-once', startedAt: iso(onset - 60) },
    ];
    const r = navigator([
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--data',
      write('always.om', data),
      '--deploys',
      write('always.json', JSON.stringify(deploys)),
      '--json',
    ]);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    const hit = report.incidents.filter(
      (i: { signal: string; detectedAt: string }) => i.signal === 'orders' && Date.parse(i.detectedAt) / 1000 >= onset,
    );
    expect(hit.length).toBeGreaterThanOrEqual(1);
    expect((Date.parse(hit[0].detectedAt) / 1000 - onset) / 15).toBeLessThanOrEqual(3);
    expect(hit[0].attributedTo).toBe('new-payments');
    expect(hit[0].candidates).toContain('old-payments');
  });

  it('exits 2 naming the file and line of a malformed recording, and prints nothing on stdout', async () => {
    const bad = write(
      'bad.om',
      '# TYPE orders counter\norders_total{service="checkout"} 1 1764248400\norders_total{service="checkout" 2 1764248415\n# EOF\n',
    );
    const r = navigator([
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--data',
      bad,
      '--deploys',
      write('none.json', '[]'),
      '--json',
    ]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${bad}:3`);
  });

  it('exits 2 naming the field of a bad deploy', async () => {
    const r = navigator([
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--data',
      write('ok.om', '# TYPE orders counter\norders_total{service="checkout"} 1 1764248400\n# EOF\n'),
      '--deploys',
      write(
        'bad.json',
        JSON.stringify([
          { id: 'x', service: 'checkout', version: 'v2', strategy: 'sideways', startedAt: '2025-11-27T11:00:00Z' },
        ]),
      ),
      '--json',
    ]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bad\.json: \[0\]\.strategy/);
  });

  it('exits 2 naming the key and line of a bad config', async () => {
    const cfg = write(
      'bad.yaml',
      'evaluation:\n  interval: 15s\n  falseAlarmRate: 0.001\nservices:\n  checkout:\n    signals:\n      orders: { kind: count, bad: drop, metirc: orders_total }\n',
    );
    const r = navigator([
      'backtest',
      '--config',
      cfg,
      '--data',
      join(dir, 'ok.om'),
      '--deploys',
      join(dir, 'none.json'),
      '--json',
    ]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bad\.yaml:7/);
    expect(r.stderr).toMatch(/metirc/);
  });
});
