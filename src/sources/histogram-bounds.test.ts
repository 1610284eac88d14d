import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { checkBound, checkBounds, latencySignals, ScrapeBoundChecks, type BoundCheck } from './histogram-bounds.js';

const cfg = (slowerThan: string, metric = 'http_request_duration_seconds') =>
  parseConfig(
    `services:
  checkout:
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout } }
      latency: { kind: latency, bad: rise, metric: ${metric}, matchers: { service: checkout }, slowerThan: ${slowerThan} }
`,
    'n.yaml',
  );

const BOUNDS = ['0.1', '0.25', '0.5', '1', '+Inf'];
const buckets = (labels: Record<string, string>, les = BOUNDS) => les.map((le) => ({ ...labels, le }));

describe('latency bucket bounds, checked before judging', () => {
  const ref = latencySignals(cfg('300ms'))[0]!;

  it('finds only latency signals', () => {
    expect(latencySignals(cfg('500ms')).map((r) => `${r.service}/${r.signal}`)).toEqual(['checkout/latency']);
  });

  it('names the key, the metric, the bound and the bounds the histogram has', () => {
    const c = checkBound(ref, buckets({ service: 'checkout', version: 'v1' }));
    expect(c.status).toBe('missing');
    expect(c.bounds).toEqual([0.1, 0.25, 0.5, 1]);
    expect(c.message).toMatch(
      /^services\.checkout\.signals\.latency\.slowerThan: histogram http_request_duration_seconds has no bucket bound le="0\.3" .*\(its bounds: 0\.1, 0\.25, 0\.5, 1\)/,
    );
  });

  it('accepts the bound written any way Prometheus writes it, in the metric’s unit', () => {
    const ok = latencySignals(cfg('500ms'))[0]!;
    expect(checkBound(ok, buckets({ service: 'checkout' }, ['0.25', '5e-01', '+Inf'])).status).toBe('ok');
    const ms = latencySignals(cfg('500ms', 'rpc_latency_milliseconds'))[0]!;
    expect(checkBound(ms, buckets({ service: 'checkout' }, ['250.0', '500.0', '+Inf'])).status).toBe('ok');
    expect(checkBound(ms, buckets({ service: 'checkout' }, ['0.25', '0.5', '+Inf'])).status).toBe('missing');
  });

  it('rejects a histogram where one version (or pod) lacks the bound, and a count without buckets', () => {
    const ok = latencySignals(cfg('500ms'))[0]!;
    const mixed = [...buckets({ version: 'v1' }), ...buckets({ version: 'v2' }, ['0.1', '1', '+Inf'])];
    const c = checkBound(ok, mixed);
    expect(c.status).toBe('missing');
    expect(c.lacking).toBe(1);
    expect(c.groups).toBe(2);
    expect(c.message).toMatch(/1 of 2 series lack it, e\.g\. http_request_duration_seconds_bucket\{version="v2"\}/);
    expect(checkBound(ok, buckets({ version: 'v1' }), [{ version: 'v1' }, { version: 'v2' }]).status).toBe('missing');
  });

  it('a histogram with no series yet is not an error: it is checked when they appear', () => {
    const c = checkBound(ref, []);
    expect(c.status).toBe('unseen');
    expect(c.message).toMatch(/no series of http_request_duration_seconds_bucket\{service="checkout"\} yet/);
  });

  it('asks the source once per histogram selector, with the signal’s matchers', async () => {
    const asked: string[] = [];
    const checks = await checkBounds(cfg('300ms'), async (sel) => {
      asked.push(`${sel.metric}${JSON.stringify(sel.matchers)}`);
      return sel.metric.endsWith('_bucket') ? buckets({ service: 'checkout' }) : [{ service: 'checkout' }];
    });
    expect(asked.sort()).toEqual([
      'http_request_duration_seconds_bucket{"service":"checkout"}',
      'http_request_duration_seconds_count{"service":"checkout"}',
    ]);
    expect(checks.map((c) => c.status)).toEqual(['missing']);
  });

  it('the scraper’s check: the first scrape that shows the histogram decides, told once per change', () => {
    const told: [BoundCheck['status'], string][] = [];
    const checks = new ScrapeBoundChecks(cfg('300ms'), (c, target) => told.push([c.status, target]));
    const series = (les: string[]) => [
      ...buckets({ service: 'checkout', version: 'v1' }, les).map((labels) => ({
        metric: 'http_request_duration_seconds_bucket',
        labels,
      })),
      { metric: 'http_request_duration_seconds_count', labels: { service: 'checkout', version: 'v1' } },
      { metric: 'orders_total', labels: { service: 'checkout', version: 'v1' } },
    ];
    checks.scraped('http://a/metrics', [{ metric: 'orders_total', labels: { service: 'checkout' } }]);
    expect(told).toEqual([]);
    expect(checks.checks()[0]!.status).toBe('unseen');
    checks.scraped('http://a/metrics', series(BOUNDS));
    checks.scraped('http://a/metrics', series(BOUNDS));
    expect(told).toEqual([['missing', 'http://a/metrics']]);
    expect(checks.checks()[0]!.status).toBe('missing');
    checks.scraped('http://a/metrics', series(['0.1', '0.3', '+Inf'])); // re-bucketed
    expect(told).toEqual([
      ['missing', 'http://a/metrics'],
      ['ok', 'http://a/metrics'],
    ]);
    expect(checks.checks()[0]!.status).toBe('ok');
  });
});
