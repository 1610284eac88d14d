import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import { OpenMetricsError, parseOpenMetricsLine, parseOpenMetricsText, readOpenMetricsFile } from './openmetrics.js';

describe('OpenMetrics reader', () => {
  it('parses labels with escapes, values and timestamps', () => {
    const s = parseOpenMetricsLine('orders_total{service="check\\"out",path="a\\\\b\\nc"} 423 1764248400', 1, 'f');
    expect(s).toEqual({
      metric: 'orders_total',
      labels: { service: 'check"out', path: 'a\\b\nc' },
      value: 423,
      ts: 1764248400,
    });
    expect(parseOpenMetricsLine('up 1', 1, 'f')?.ts).toBeNaN();
    expect(parseOpenMetricsLine('# TYPE x counter', 1, 'f')).toBeNull();
  });

  it.each([
    ['orders_total{service="x" 1 2', /expected , or \}/],
    ['orders_total{service=x} 1 2', /quoted value/],
    ['orders_total 1 2 3', /value and an optional timestamp/],
    ['orders_total abc 2', /not a number/],
    ['orders_total 1 soon', /not a timestamp/],
    ['9orders 1 2', /metric name/],
    ['orders_total{a="1",a="2"} 1 2', /appears twice/],
  ])('rejects %s naming the line', (line, why) => {
    expect(() => parseOpenMetricsLine(line, 7, 'rec.om')).toThrowError(why);
    try {
      parseOpenMetricsLine(line, 7, 'rec.om');
    } catch (e) {
      expect(e).toBeInstanceOf(OpenMetricsError);
      expect((e as Error).message.startsWith('rec.om:7: ')).toBe(true);
    }
  });

  it('streams a file, requires timestamps, and refuses content after # EOF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'om-'));
    const good = join(dir, 'good.om');
    writeFileSync(good, '# TYPE orders counter\norders_total{v="1"} 1 100\norders_total{v="1"} 5 115\n# EOF\n');
    const store = new MemoryStore();
    expect(await readOpenMetricsFile(good, store)).toEqual({ samples: 2, series: 1 });
    const after = join(dir, 'after.om');
    writeFileSync(after, 'orders_total 1 100\n# EOF\norders_total 2 115\n');
    await expect(readOpenMetricsFile(after, new MemoryStore())).rejects.toThrow(`${after}:3: content after # EOF`);
    const nots = join(dir, 'nots.om');
    writeFileSync(nots, 'orders_total 1 100\norders_total 2\n');
    await expect(readOpenMetricsFile(nots, new MemoryStore())).rejects.toThrow(
      `${nots}:2: a recorded sample needs a timestamp`,
    );
  });

  it('round-trips generated series through text (property)', () => {
    const labelValue = fc.string({ maxLength: 8 });
    fc.assert(
      fc.property(fc.array(fc.tuple(labelValue, fc.nat(1e6)), { minLength: 1, maxLength: 20 }), (rows) => {
        const text = rows
          .map(([v, n], i) => `m_total{l=${JSON.stringify(v).replace(/\\u[0-9a-f]{4}/g, '')}} ${n} ${1000 + i * 15}`)
          .join('\n');
        const store = new MemoryStore();
        let parsed: number;
        try {
          parsed = parseOpenMetricsText(text, 'gen', store);
        } catch {
          return true; // JSON escapes outside the format's three (e.g. \t) are rightly refused
        }
        return parsed === rows.length && store.sampleCount() <= rows.length;
      }),
    );
  });
});
