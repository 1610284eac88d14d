import { describe, expect, it } from 'vitest';
import { parseHoliday, parseHolidays } from './holidays.js';
import { ConfigError, parseConfig } from './load.js';

describe('evaluation.holidays', () => {
  it('reads a date as its UTC day and an interval as given', () => {
    expect(parseHoliday('2014-11-27')).toEqual({
      from: Date.UTC(2014, 10, 27) / 1000,
      to: Date.UTC(2014, 10, 28) / 1000,
    });
    expect(parseHoliday('2014-11-27T05:00:00Z/2014-11-28T05:00:00Z')).toEqual({
      from: Date.UTC(2014, 10, 27, 5) / 1000,
      to: Date.UTC(2014, 10, 28, 5) / 1000,
    });
    expect(parseHoliday('2014-11-27T00:00:00-05:00/2014-11-28T00:00:00-05:00').from).toBe(
      Date.UTC(2014, 10, 27, 5) / 1000,
    );
    expect(parseHolidays(['2015-01-01', '2014-12-25']).map((h) => h.from)).toEqual([
      Date.UTC(2014, 11, 25) / 1000,
      Date.UTC(2015, 0, 1) / 1000,
    ]);
  });

  it('names the entry that is not a day, in the config file', () => {
    const svc =
      'services:\n  taxi:\n    signals:\n      rides: { kind: count, bad: drop, metric: rides_total, matchers: {} }\n';
    const text = `evaluation:\n  holidays: [2014-11-27, 2025-02-30, christmas, 2014-11-28T00:00:00/2014-11-29T00:00:00]\n${svc}`;
    let message = '';
    try {
      parseConfig(text, 'n.yaml');
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      message = e.message;
    }
    expect(message).toMatch(/evaluation\.holidays\.1: "2025-02-30" is not a calendar date/);
    expect(message).toMatch(/evaluation\.holidays\.2: "christmas" is neither a date/);
    // an interval without a time zone is ambiguous: refused
    expect(message).toMatch(/evaluation\.holidays\.3: .* is neither a date/);
    expect(message).not.toMatch(/holidays\.0/);
    expect(parseConfig(`evaluation:\n  holidays: [2014-11-27]\n${svc}`, 'n.yaml').evaluation.holidays).toEqual([
      '2014-11-27',
    ]);
  });
});
