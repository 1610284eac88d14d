import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { MemoryStore } from './memory-store.js';
import { OpenMetricsError, parseOpenMetricsLine, parseOpenMetricsText, readOpenMetricsFile } from './openmetrics.js';

const dir = mkdtempSync(join(tmpdir(), 'om-test-'));
let files = 0;
const file = (text: string) => {
  const path = join(dir, `f${files++}.om`);
  writeFileSync(path, text);
  return path;
};

/** Every sample of every series, sorted, for comparing two stores. */
function dump(store: MemoryStore): [string, string, number[], number[]][] {
  return store
    .metrics()
    .flatMap((metric) =>
      store
        .samples({ metric, matchers: {} })
        .map((s): [string, string, number[], number[]] => [
          metric,
          JSON.stringify(Object.entries(s.labels).sort()),
          Array.from(s.ts),
          Array.from(s.values),
        ]),
    )
    .sort((a, b) => (`${a[0]}${a[1]}` < `${b[0]}${b[1]}` ? -1 : 1));
}

/** The error a function throws (fails the test when it throws none). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

// Each kind of malformed line, with the words its message must contain.
const malformed: [string, RegExp][] = [
  ['9orders 1 2', /must start with a metric name/],
  ['{a="1"} 1 2', /must start with a metric name/],
  ['orders_total{service="x" 1 2', /expected , or \}/],
  ['orders_total{service=x} 1 2', /quoted value for label service/],
  ['orders_total{service "x"} 1 2', /expected = after label service/],
  ['orders_total{1a="x"} 1 2', /expected a label name at column 14/],
  ['orders_total{a="x', /unterminated value of label a/],
  ['orders_total{a="x\\"} 1 2', /unterminated value of label a/],
  ['orders_total{a="x",', /unterminated label set/],
  ['orders_total{a="\\t"} 1 2', /bad escape \\t/],
  ['orders_total{a="1",a="2"} 1 2', /label a appears twice/],
  ['orders_total', /no value after the series/],
  ['orders_total{a="1"}', /no value after the series/],
  ['orders_total{a="1"}x 1 2', /expected a space before the value at column 20/],
  ['orders_total abc 2', /value "abc" is not a number/],
  ['orders_total 0x10 2', /value "0x10" is not a number/],
  ['orders_total 1 soon', /timestamp "soon" is not a number of seconds/],
  ['orders_total 1 +Inf', /timestamp "\+Inf" is not a number of seconds/],
  ['orders_total 1 2 3', /unexpected "3" after the timestamp/],
  ['orders_total 1 2 # trace', /exemplar must start with # \{/],
  ['orders_total 1 2 # {a="1"} x', /exemplar needs a value/],
  ['# TYPE orders countre', /unknown metric type "countre"/],
  ['# TYPE', /# TYPE needs a metric name/],
  ['# HELP 1x text', /# HELP needs a metric name/],
];

describe('parseOpenMetricsLine', () => {
  it('parses labels with escapes, values and timestamps', () => {
    const s = parseOpenMetricsLine('orders_total{service="check\\"out",path="a\\\\b\\nc",e=""} 423 1764248400', 1, 'f');
    expect(s).toEqual({
      metric: 'orders_total',
      labels: { service: 'check"out', path: 'a\\b\nc', e: '' },
      value: 423,
      ts: 1764248400,
    });
    expect(parseOpenMetricsLine('up 1', 1, 'f')?.ts).toBeNaN();
    expect(parseOpenMetricsLine('a:b_c{} 1.5e3 1764248400.25', 1, 'f')).toMatchObject({
      value: 1500,
      ts: 1764248400.25,
    });
    expect(parseOpenMetricsLine('m{a="1",} -Inf 1', 1, 'f')).toMatchObject({ labels: { a: '1' }, value: -Infinity });
    expect(parseOpenMetricsLine('m +Inf 1', 1, 'f')?.value).toBe(Infinity);
    expect(parseOpenMetricsLine('m NaN 1', 1, 'f')?.value).toBeNaN();
    expect(parseOpenMetricsLine('m{a="}} {"} 2 3\r', 1, 'f')).toMatchObject({ labels: { a: '}} {' }, ts: 3 });
    expect(parseOpenMetricsLine('m 1 2 # {trace_id="abc"} 1 1.5', 1, 'f')).toMatchObject({ value: 1, ts: 2 });
  });

  it('passes comments, TYPE/HELP/UNIT, # EOF and blank lines', () => {
    for (const line of [
      '# TYPE x counter',
      '# HELP x Orders, "placed".',
      '# UNIT x_seconds seconds',
      '# EOF',
      '#x',
      '',
    ])
      expect(parseOpenMetricsLine(line, 1, 'f')).toBeNull();
  });

  it.each(malformed)('rejects %s naming the file, the line and the text', (line, why) => {
    const e = thrown(() => parseOpenMetricsLine(line, 7, 'rec.om'));
    expect(e).toBeInstanceOf(OpenMetricsError);
    expect(e.name).toBe('OpenMetricsError');
    expect(e.message).toMatch(why);
    expect(e.message.startsWith('rec.om:7: ')).toBe(true);
    expect(e.message).toContain(JSON.stringify(line));
    expect((e as OpenMetricsError).file).toBe('rec.om');
    expect((e as OpenMetricsError).line).toBe(7);
  });

  it('truncates a long bad line in the message', () => {
    const line = `m{a="${'x'.repeat(500)}`;
    const e = thrown(() => parseOpenMetricsLine(line, 1, 'f'));
    expect(e.message.length).toBeLessThan(200);
    expect(e.message).toContain('…');
  });
});

describe('the reader', () => {
  const good = (n: number) =>
    Array.from({ length: n }, (_, i) => `orders_total{service="checkout",version="v1"} ${i * 10} ${1000 + i * 15}`);

  it('reports each malformed line kind at its line number, also after lines of the same series (property)', () => {
    // Bad lines that start like the good ones exercise the reader's fast path for known series.
    const bad = [
      ...malformed.map(([line]) => line),
      'orders_total{service="checkout",version="v1"} 1 2 3',
      'orders_total{service="checkout",version="v1"} 1e 2',
      'orders_total{service="checkout",version="v1"}  1 soon',
      'orders_total{service="checkout",version="v1"} 1 2x',
      'orders_total{service="checkout",version="v1"} 5',
      'orders_total{service="checkout",version="v1"} 1 1764248400000',
      'orders_total{service="checkout",version="v1"}\t1\t',
    ];
    fc.assert(
      fc.property(fc.nat(30), fc.nat(bad.length - 1), fc.boolean(), (before, k, crlf) => {
        const lines = ['# TYPE orders counter', ...good(before), bad[k]!, ...good(3)];
        const text = lines.join(crlf ? '\r\n' : '\n');
        const e = thrown(() => parseOpenMetricsText(text, 'gen.om', new MemoryStore()));
        expect(e).toBeInstanceOf(OpenMetricsError);
        expect(e.message).toMatch(new RegExp(`^gen\\.om:${before + 2}: `));
        expect((e as OpenMetricsError).line).toBe(before + 2);
      }),
    );
  });

  it('agrees with parseOpenMetricsLine on random mutations of a known series line (property)', () => {
    const base = 'm{a="x y",b="1"} 12.5 1000';
    const chars = fc.constantFrom(...' \t{}",=\\.#0123456789eE+-_aInfNx\r'.split(''));
    const edit = fc.record({ at: fc.nat(base.length), del: fc.nat(2), ins: fc.array(chars, { maxLength: 2 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), (edits) => {
        let line = base;
        for (const e of edits) line = line.slice(0, e.at) + e.ins.join('') + line.slice(e.at + e.del);
        // expected: the pure parser plus the reader's documented rules
        const want = new MemoryStore();
        want.append('m', { a: 'x y', b: '1' }, 1000, 12.5);
        let wantError: string | undefined;
        try {
          const s = line === '# EOF' ? null : parseOpenMetricsLine(line, 2, 'f');
          if (s && Number.isNaN(s.ts)) wantError = 'f:2: a recorded sample needs a timestamp';
          else if (s && Math.abs(s.ts) > 1e11) wantError = 'f:2: timestamp';
          else if (s && Number.isFinite(s.value)) want.append(s.metric, s.labels, s.ts, s.value);
        } catch (e) {
          wantError = (e as Error).message;
        }
        const got = new MemoryStore();
        let gotError: string | undefined;
        try {
          parseOpenMetricsText(`${base}\n${line}`, 'f', got);
        } catch (e) {
          gotError = (e as Error).message;
        }
        if (wantError) expect(gotError?.startsWith(wantError), `${line} -> ${gotError}`).toBe(true);
        else {
          expect(gotError, line).toBeUndefined();
          expect(dump(got), line).toEqual(dump(want));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips generated series through text, in either order, through a file (property)', async () => {
    const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,6}$/);
    const seriesArb = fc.record({
      metric: fc.constantFrom('orders_total', 'http_requests_total', 'a:b'),
      // any text but a raw CR, which readline (like most tools) takes for a line break
      labels: fc.dictionary(
        labelName,
        fc.string({ unit: 'grapheme', maxLength: 6 }).map((v) => v.replace(/\r/g, '')),
        {
          maxKeys: 3,
        },
      ),
      samples: fc.array(
        fc.record({
          gap: fc.integer({ min: 1, max: 3 }), // 15 s steps to the next sample: 2 or 3 leave a scrape gap
          value: fc
            .oneof(fc.nat(), fc.double({ min: -1e25, max: 1e25, noNaN: true }), fc.constant(0.1 + 0.2))
            .map((v) => (Object.is(v, -0) ? 0 : v)), // text has no -0
        }),
        { minLength: 1, maxLength: 30 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(seriesArb, {
          maxLength: 5,
          selector: (s) => s.metric + JSON.stringify(Object.entries(s.labels).sort()),
        }),
        fc.boolean(),
        async (all, interleave) => {
          const rows: { at: number; line: string }[] = [];
          const want = new MemoryStore();
          for (const s of all) {
            const labels = Object.entries(s.labels)
              .map(([k, v]) => `${k}="${escape(v)}"`)
              .join(',');
            let t = 1764248400;
            for (const { gap, value } of s.samples) {
              t += gap * 15;
              rows.push({ at: t, line: `${s.metric}${labels ? `{${labels}}` : ''} ${value} ${t}` });
              want.append(s.metric, s.labels, t, value);
            }
          }
          if (interleave) rows.sort((a, b) => a.at - b.at);
          const text = `# TYPE x counter\n${rows.map((r) => r.line).join('\n')}\n# EOF\n`;
          const fromText = new MemoryStore();
          const r = parseOpenMetricsText(text, 'gen', fromText);
          expect(r).toEqual({ samples: rows.length, series: all.length, skipped: 0, eof: true });
          expect(dump(fromText)).toEqual(dump(want));
          const fromFile = new MemoryStore();
          expect(await readOpenMetricsFile(file(text), fromFile)).toEqual(r);
          expect(dump(fromFile)).toEqual(dump(want));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('streams a file: TYPE/HELP/comments, CRLF, float timestamps, exemplars, # EOF then blank lines', async () => {
    const path = file(
      '# HELP orders Orders.\r\n# TYPE orders counter\r\n# a comment\r\n\r\n' +
        'orders_total{v="1"} 1 100.5\r\norders_total{v="1"} 5 115 # {trace_id="t"} 1 114\r\n' +
        'orders_total{v="2"} 7 115\r\n# EOF\r\n\r\n',
    );
    const store = new MemoryStore();
    expect(await readOpenMetricsFile(path, store)).toEqual({ samples: 3, series: 2, skipped: 0, eof: true });
    expect(dump(store)).toEqual([
      ['orders_total', JSON.stringify([['v', '1']]), [100.5, 115], [1, 5]],
      ['orders_total', JSON.stringify([['v', '2']]), [115], [7]],
    ]);
  });

  it('accepts a missing # EOF (Prometheus text) and says so; only an exact # EOF ends the input', async () => {
    expect(await readOpenMetricsFile(file('m 1 100\n'), new MemoryStore())).toMatchObject({ samples: 1, eof: false });
    expect(parseOpenMetricsText('m 1 100\n# EOF of part 1\nm 2 115', 'f', new MemoryStore())).toMatchObject({
      samples: 2,
      eof: false,
    });
  });

  it('reads plain decimals exactly as Number() does (property)', () => {
    const decimal = fc
      .tuple(fc.boolean(), fc.stringMatching(/^[0-9]{1,15}$/), fc.nat(15))
      .filter(([, digits, point]) => point <= digits.length)
      .map(([neg, digits, point]) => `${neg ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}`);
    fc.assert(
      fc.property(fc.array(decimal, { minLength: 1, maxLength: 20 }), (values) => {
        const store = new MemoryStore();
        // a first line so the rest take the reader's fast path for a known series
        parseOpenMetricsText(['m 0 0', ...values.map((v, i) => `m ${v} ${i + 1}.${i}`)].join('\n'), 'f', store);
        const [s] = store.samples({ metric: 'm', matchers: {} });
        expect(Array.from(s!.values)).toEqual([0, ...values.map(Number)]);
        expect(Array.from(s!.ts)).toEqual([0, ...values.map((_, i) => Number(`${i + 1}.${i}`))]);
      }),
    );
  });

  it('skips NaN/Inf values and out-of-order samples, replaces a repeated timestamp, and counts them', () => {
    const store = new MemoryStore();
    const text = ['m 1 100', 'm NaN 115', 'm +Inf 130', 'm 2 145', 'm 9 130', 'm 3 145', 'm 4 160'].join('\n');
    expect(parseOpenMetricsText(text, 'f', store)).toEqual({ samples: 4, series: 1, skipped: 3, eof: false });
    const [s] = store.samples({ metric: 'm', matchers: {} });
    expect(Array.from(s!.ts)).toEqual([100, 145, 160]);
    expect(Array.from(s!.values)).toEqual([1, 3, 4]);
  });

  it('refuses content after # EOF, samples without a timestamp and millisecond timestamps', async () => {
    const after = file('orders_total 1 100\n# EOF\n\norders_total 2 115\n');
    await expect(readOpenMetricsFile(after, new MemoryStore())).rejects.toThrow(
      `${after}:4: content after # EOF (line 2)`,
    );
    const nots = file('orders_total 1 100\norders_total 2\n');
    await expect(readOpenMetricsFile(nots, new MemoryStore())).rejects.toThrow(
      `${nots}:2: a recorded sample needs a timestamp`,
    );
    const ms = file('orders_total 1 1764248400000\n');
    await expect(readOpenMetricsFile(ms, new MemoryStore())).rejects.toThrow(
      `${ms}:1: timestamp 1764248400000 looks like milliseconds`,
    );
  });

  it('names the file when it cannot be read', async () => {
    const missing = join(dir, 'missing.om');
    const e = (await readOpenMetricsFile(missing, new MemoryStore()).catch((x: unknown) => x)) as Error;
    expect(e).toBeInstanceOf(OpenMetricsError);
    expect(e.message).toBe(`${missing}: cannot read: ENOENT: no such file or directory, open '${missing}'`);
  });

  it('gives a scrape body its scrape time, ignoring the body`s own timestamps', () => {
    const store = new MemoryStore();
    const body = '# TYPE up gauge\nup 1\nreqs_total{code="200"} 5 1764248400000\n# EOF\n';
    expect(parseOpenMetricsText(body, 'http://t/metrics', store, 500)).toMatchObject({ samples: 2, series: 2 });
    expect(store.timeRange()).toEqual({ min: 500, max: 500 });
  });
});

describe('histograms', () => {
  it("reads prom-client's histogram exposition: buckets by le (+Inf included), _count and _sum as counters", async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'req_seconds',
      help: 'request duration',
      labelNames: ['version'],
      buckets: [0.1, 0.5, 1],
      registers: [registry],
    });
    for (const x of [0.05, 0.2, 0.3, 0.7, 2]) h.observe({ version: 'v1' }, x);
    const store = new MemoryStore();
    const r = parseOpenMetricsText(await registry.metrics(), 'scrape', store, 100);
    expect(r.samples).toBe(6); // four buckets, _sum and _count
    const buckets = store.gridSync({ metric: 'req_seconds_bucket', matchers: { version: 'v1' } }, 100, 100, 15);
    const byLe = Object.fromEntries(buckets.map((b) => [b.labels.le, b.values[0]]));
    expect(byLe).toEqual({ '0.1': 1, '0.5': 3, '1': 4, '+Inf': 5 });
    expect(store.gridSync({ metric: 'req_seconds_count', matchers: {} }, 100, 100, 15)[0]!.values[0]).toBe(5);
  });

  it('refuses a bucket of a histogram family without a numeric le, naming the line', () => {
    const text = (le: string) => `# TYPE req_seconds histogram\nreq_seconds_bucket{${le}} 3 1\n# EOF\n`;
    expect(() => parseOpenMetricsText(text('version="v1"'), 'h.om', new MemoryStore())).toThrow(
      /h\.om:2: histogram bucket req_seconds_bucket has no le label/,
    );
    expect(() => parseOpenMetricsText(text('le="fast"'), 'h.om', new MemoryStore())).toThrow(
      /h\.om:2: histogram bucket req_seconds_bucket has le="fast", which is not a number or \+Inf/,
    );
    // the same names in a family not typed histogram are just counters
    expect(parseOpenMetricsText('req_seconds_bucket 3 1\n', 'c.om', new MemoryStore()).samples).toBe(1);
  });
});
