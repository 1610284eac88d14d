import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffSeconds, classify, headerSafe, retryAfterSeconds } from './delivery-policy.js';

describe('classify', () => {
  it('retries what a token rotation, a recreated route, a rate limit or an outage answer', () => {
    for (const provider of ['pagerduty', 'alertmanager', 'opsgenie', 'slack', 'webhook', 'halt-hook', 'grafana'])
      for (const status of [401, 403, 404, 408, 409, 425, 429, 500, 502, 503, 504, 302])
        expect(classify(provider, status), `${provider} ${status}`).toBe('retry');
  });
  it('gives up only on what the provider documents as a permanently bad payload', () => {
    expect(classify('pagerduty', 400)).toBe('final');
    expect(classify('pagerduty', 422)).toBe('retry'); // not in PagerDuty's Events v2 documentation
    expect(classify('opsgenie', 422)).toBe('final');
    expect(classify('slack', 410)).toBe('final'); // channel_is_archived
    expect(classify('alertmanager', 400)).toBe('final');
    expect(classify('webhook', 422)).toBe('final');
    expect(classify('webhook', 413)).toBe('final');
    expect(classify('slack', 200)).toBe('delivered');
    expect(classify('opsgenie', 202)).toBe('delivered');
  });
});

describe('backoff', () => {
  const b = { initial: 1, max: 300, scale: 1 };
  it('doubles from the initial delay, with jitter in [half, whole], capped', () => {
    expect(backoffSeconds(1, b, 0)).toBe(0.5);
    expect(backoffSeconds(1, b, 1)).toBe(1);
    expect(backoffSeconds(4, b, 1)).toBe(8);
    expect(backoffSeconds(30, b, 1)).toBe(300);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, r) => {
        const d = backoffSeconds(n, b, r);
        const base = Math.min(300, 2 ** (n - 1));
        return d >= base / 2 && d <= base;
      }),
    );
  });
  it('never retries sooner than Retry-After, and compresses time by the scale', () => {
    expect(backoffSeconds(1, b, 0.5, 120)).toBe(120);
    expect(backoffSeconds(4, { ...b, scale: 0.01 }, 1)).toBeCloseTo(0.08);
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterSeconds('30', 0)).toBe(30);
    expect(retryAfterSeconds(null, 0)).toBe(0);
    expect(retryAfterSeconds('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('2015-10-21T07:27:00Z') / 1000)).toBe(60);
    expect(retryAfterSeconds('soon', 0)).toBe(0);
  });
});

describe('headerSafe', () => {
  it('keeps plain keys and hashes the rest (header values must be visible ASCII)', () => {
    expect(headerSafe('halt:d-1', () => 'x')).toBe('halt:d-1');
    expect(headerSafe('page:a:webhook:navigator/svc/dé ploy/regression:trigger', () => 'abc')).toBe('sha256:abc');
  });
});
