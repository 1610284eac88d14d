import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.js';

const config = (signal: string) => `services:\n  checkout:\n    signals:\n      latency: ${signal}\n`;
const problems = (signal: string): string[] => {
  try {
    parseConfig(config(signal), 'n.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split('\n').slice(1);
    throw e;
  }
  return [];
};

describe('latency signals in the config', () => {
  it('accepts the contracts example', () => {
    const c = parseConfig(
      config(
        '{ kind: latency, bad: rise, metric: http_request_duration_seconds, matchers: { service: checkout }, slowerThan: 500ms }',
      ),
      'n.yaml',
    );
    expect(c.services.checkout!.signals.latency).toMatchObject({ kind: 'latency', slowerThan: '500ms' });
  });

  it("names the signal's own problems only, not those of the other kinds' forms", () => {
    const p = problems('{ kind: latency, bad: rise, metric: h_seconds, matchers: {}, slowerThan: fast }');
    expect(p.join('\n')).toMatch(/n\.yaml:4: services\.checkout\.signals\.latency\.slowerThan: must match pattern/);
    expect(p.join('\n')).not.toMatch(/numerator|unknown key/);
    const missing = problems('{ kind: latency, bad: rise, metric: h_seconds, matchers: {} }');
    expect(missing.join('\n')).toMatch(/signals\.latency: missing required key "slowerThan"/);
    expect(missing.join('\n')).not.toMatch(/numerator/);
  });
});
