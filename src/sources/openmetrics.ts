// OpenMetrics / Prometheus text: a streaming reader for recordings (contracts §3: counters, one sample a
// line, timestamps in seconds, `# EOF` last) and the parser the embedded scraper uses on scrape bodies.
// A malformed line is an OpenMetricsError naming the file and the line, so `backtest` exits 2 with it.
//
// Choices, where the two formats differ or are silent:
// - `# EOF` is optional (Prometheus' text format has none); anything but blank lines after it is an error.
// - `# TYPE`, `# HELP` and `# UNIT` must name a metric (TYPE a known type); other comments are ignored.
// - Values may be +Inf/-Inf/NaN (any case, as Go's ParseFloat reads them); such samples are parsed but not
//   stored, since a counter at NaN or Inf counts no events (the count is reported as `skipped`).
// - In a recording every sample needs a timestamp in seconds (a float is fine); one above 1e11 (year 5138)
//   is refused as milliseconds, Prometheus' exposition unit, which would silently shift the data 1000x.
// - Exemplars (`... # {trace_id="x"} 1 1.5`) are checked and ignored.
// - Histograms are their classic series: `<name>_bucket{le}` (cumulative, +Inf last), `_count`, `_sum`, each
//   stored as a counter; a bucket of a family typed histogram needs a numeric `le` (or +Inf).
// - Per series, a sample older than the previous one is dropped (counted in `skipped`) and one at the same
//   timestamp replaces it (counted in `samples`), as MemoryStore.append does.
// - Lines end at \n; a trailing \r is dropped. (readline also ends a line at a lone \r, so a raw CR inside
//   a label value, which no exporter writes, splits the line in a file.)
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { MemoryStore, SeriesRef } from './memory-store.js';

export class OpenMetricsError extends Error {
  override name = 'OpenMetricsError';
  constructor(
    readonly file: string,
    /** 1-based; 0 when the error is not about a line (the file could not be read) */
    readonly line: number,
    what: string,
  ) {
    super(line > 0 ? `${file}:${line}: ${what}` : `${file}: ${what}`);
  }
}

export interface Sample {
  metric: string;
  labels: Record<string, string>;
  value: number;
  /** seconds; NaN when the line has none */
  ts: number;
}

export interface ReadResult {
  /** sample lines stored (a same-timestamp repeat that replaced a value included) */
  samples: number;
  /** distinct series the input named */
  series: number;
  /** sample lines read but not stored: NaN/Inf values, or older than their series' previous sample */
  skipped: number;
  /** whether the input ended with `# EOF` */
  eof: boolean;
}

/** Above this a timestamp is surely milliseconds: 1e11 s is the year 5138. */
const MAX_SECONDS = 1e11;
// OpenMetrics' types, and Prometheus text's `untyped`
const METRIC_TYPES = new Set('counter gauge histogram gaugehistogram summary stateset info unknown untyped'.split(' '));

const isBlank = (c: number) => c === 32 || c === 9;
const isLabelStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isLabelChar = (c: number) => isLabelStart(c) || (c >= 48 && c <= 57);
const isNameStart = (c: number) => isLabelStart(c) || c === 58;
const isNameChar = (c: number) => isLabelChar(c) || c === 58;

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number as Prometheus writes it; undefined when the text is not one. */
function parseNumber(text: string): number | undefined {
  if (FLOAT.test(text)) return Number(text);
  switch (text.toLowerCase()) {
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  return undefined;
}

const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);
/** where the last scanDecimal stopped (a second return value without allocating) */
let scanEnd = 0;

/**
 * A plain decimal at i (`-?digits[.digits]`, at most 15 digits), as Number() reads it: below 2^53 the
 * digits and the power of ten are exact, so one division rounds correctly. NaN for anything else (signs,
 * exponents, Inf, more digits), which sends the caller to parseNumber. Sets scanEnd.
 */
function scanDecimal(line: string, i: number): number {
  const neg = line.charCodeAt(i) === 45; /* - */
  if (neg) i++;
  let n = 0;
  let digits = 0;
  let frac = -1;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 /* . */ && frac < 0) frac = 0;
    else break;
  }
  scanEnd = i;
  if (digits === 0 || digits > 15) return NaN;
  const v = frac > 0 ? n / (POW10[frac] as number) : n;
  return neg ? -v : v;
}

const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

type Fail = (what: string) => never;

function failer(line: string, lineNo: number, file: string): Fail {
  return (what) => {
    throw new OpenMetricsError(file, lineNo, `${what} in ${quote(line)}`);
  };
}

function skipBlanks(line: string, i: number): number {
  while (i < line.length && isBlank(line.charCodeAt(i))) i++;
  return i;
}

/** The run of non-blank characters from i. */
function token(line: string, i: number): string {
  let j = i;
  while (j < line.length && !isBlank(line.charCodeAt(j))) j++;
  return line.slice(i, j);
}

/** Parses `{name="value",...}` starting at the `{`; returns the index after the `}`. */
function parseLabels(line: string, i: number, labels: Record<string, string>, fail: Fail): number {
  i = skipBlanks(line, i + 1);
  while (line.charCodeAt(i) !== 125 /* } */) {
    const start = i;
    if (!isLabelStart(line.charCodeAt(i)))
      fail(i >= line.length ? 'unterminated label set' : `expected a label name at column ${i + 1}`);
    while (isLabelChar(line.charCodeAt(i))) i++;
    const name = line.slice(start, i);
    i = skipBlanks(line, i);
    if (line.charCodeAt(i) !== 61 /* = */) fail(`expected = after label ${name}`);
    i = skipBlanks(line, i + 1);
    if (line.charCodeAt(i) !== 34 /* " */) fail(`expected a quoted value for label ${name}`);
    i++;
    const close = line.indexOf('"', i);
    const backslash = line.indexOf('\\', i);
    let value: string;
    if (close >= 0 && (backslash < 0 || backslash > close)) {
      // The common case, no escapes: one slice.
      value = line.slice(i, close);
      i = close + 1;
    } else {
      value = '';
      for (;;) {
        const c = line.charCodeAt(i);
        if (i >= line.length) fail(`unterminated value of label ${name}`);
        if (c === 34) break;
        if (c === 92 /* \ */) {
          const next = line[i + 1];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else fail(`bad escape \\${next ?? ''} in the value of label ${name} (only \\\\, \\" and \\n)`);
          i += 2;
        } else {
          value += line[i];
          i++;
        }
      }
      i++;
    }
    if (Object.hasOwn(labels, name)) fail(`label ${name} appears twice`);
    labels[name] = value;
    i = skipBlanks(line, i);
    if (line.charCodeAt(i) === 44 /* , */) i = skipBlanks(line, i + 1);
    else if (line.charCodeAt(i) !== 125) fail(`expected , or } after label ${name}`);
  }
  return i + 1;
}

interface Parsed extends Sample {
  /** index just past the metric name and labels: line.slice(0, seriesEnd) names the series */
  seriesEnd: number;
}

function parseSample(line: string, fail: Fail): Parsed {
  if (!isNameStart(line.charCodeAt(0))) fail('a sample line must start with a metric name');
  let i = 1;
  while (isNameChar(line.charCodeAt(i))) i++;
  const metric = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line.charCodeAt(i) === 123 /* { */) i = parseLabels(line, i, labels, fail);
  const seriesEnd = i;
  if (i >= line.length) fail('no value after the series');
  if (!isBlank(line.charCodeAt(i))) fail(`expected a space before the value at column ${i + 1}`);
  i = skipBlanks(line, i);
  const valueText = token(line, i);
  if (valueText === '') fail('no value after the series');
  const value = parseNumber(valueText);
  if (value === undefined) fail(`value ${quote(valueText)} is not a number`);
  i = skipBlanks(line, i + valueText.length);
  let ts = NaN;
  if (i < line.length && line.charCodeAt(i) !== 35 /* # */) {
    const tsText = token(line, i);
    const t = parseNumber(tsText);
    if (t === undefined || !Number.isFinite(t)) fail(`timestamp ${quote(tsText)} is not a number of seconds`);
    ts = t;
    i = skipBlanks(line, i + tsText.length);
  }
  if (i < line.length) {
    if (line.charCodeAt(i) !== 35) fail(`unexpected ${quote(line.slice(i))} after the timestamp`);
    checkExemplar(line, i, fail);
  }
  return { metric, labels, value: value as number, ts, seriesEnd };
}

/** `# {labels} value [timestamp]` after a sample: checked so garbage is not waved through, then ignored. */
function checkExemplar(line: string, i: number, fail: Fail): void {
  i = skipBlanks(line, i + 1);
  if (line.charCodeAt(i) !== 123) fail('an exemplar must start with # {');
  i = skipBlanks(line, parseLabels(line, i, {}, fail));
  const rest = line
    .slice(i)
    .trimEnd()
    .split(/[ \t]+/);
  if (rest.length > 2 || rest.some((t) => parseNumber(t) === undefined))
    fail('an exemplar needs a value and an optional timestamp');
}

/** `# TYPE name type`, `# HELP name text`, `# UNIT name unit` must be well formed; other comments pass. */
function checkComment(line: string, fail: Fail): void {
  const m = /^# (TYPE|HELP|UNIT)(?:[ \t]+|$)/.exec(line);
  if (!m) return;
  const keyword = m[1] as string;
  const name = token(line, m[0].length);
  if (name === '' || !isNameStart(name.charCodeAt(0)) || ![...name].every((ch) => isNameChar(ch.charCodeAt(0))))
    fail(`# ${keyword} needs a metric name`);
  if (keyword === 'TYPE') {
    const type = line.slice(m[0].length + name.length).trim();
    if (!METRIC_TYPES.has(type)) fail(`unknown metric type ${quote(type)} (counter, gauge, ...)`);
  }
}

/**
 * Parses one line; throws OpenMetricsError naming `file` and `lineNo`. Comments, `# EOF` and blank lines
 * return null. Pure: whether a timestamp is required, and `# EOF` placement, are the reader's business.
 */
export function parseOpenMetricsLine(line: string, lineNo: number, file: string): Sample | null {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const fail = failer(line, lineNo, file);
  if (line.charCodeAt(0) === 35) {
    checkComment(line, fail);
    return null;
  }
  if (line.trim() === '') return null;
  const { metric, labels, value, ts } = parseSample(line, fail);
  return { metric, labels, value, ts };
}

/**
 * A classic histogram bucket names its upper bound in `le` (a number or +Inf): a bucket without one cannot
 * be placed, and a latency signal would judge garbage. Checked once per series (repeat lines reuse it).
 */
function checkBucket(s: Sample, fail: Fail): void {
  const le = s.labels.le;
  if (le === undefined) fail(`histogram bucket ${s.metric} has no le label`);
  if (parseNumber(le.trim()) === undefined || Number.isNaN(parseNumber(le.trim())))
    fail(`histogram bucket ${s.metric} has le=${quote(le)}, which is not a number or +Inf`);
}

/** Feeds lines into a store, remembering each distinct series text so repeat lines skip label parsing. */
class Reader {
  private samples = 0;
  private skipped = 0;
  private eofAt = 0;
  private lineNo = 0;
  private readonly refs = new Map<string, SeriesRef>();
  private readonly touched = new Set<SeriesRef>();
  /** `<name>_bucket` of every family typed histogram: their samples need a numeric `le` */
  private readonly histograms = new Set<string>();
  /** the last line's series text and series: the fast path's first guess */
  private lastText = '';
  private lastRef: SeriesRef | undefined;

  constructor(
    private readonly file: string,
    private readonly store: MemoryStore,
    /** a scrape's time: every sample gets it; undefined for a recording, whose lines carry their own */
    private readonly scrapeTs: number | undefined,
  ) {
    if (scrapeTs !== undefined && !Number.isFinite(scrapeTs)) throw new RangeError(`bad scrape time ${scrapeTs}`);
  }

  line(raw: string): void {
    this.lineNo++;
    const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    if (this.eofAt) {
      if (line.trim() !== '')
        throw new OpenMetricsError(
          this.file,
          this.lineNo,
          `content after # EOF (line ${this.eofAt}) in ${quote(line)}`,
        );
      return;
    }
    if (line.charCodeAt(0) === 35 /* # */) {
      if (line === '# EOF') this.eofAt = this.lineNo;
      else {
        checkComment(line, failer(line, this.lineNo, this.file));
        const h = /^# TYPE[ \t]+(\S+)[ \t]+(histogram|gaugehistogram)[ \t]*$/.exec(line);
        if (h) this.histograms.add(`${h[1] as string}_bucket`);
      }
      return;
    }
    if (this.fast(line)) return;
    if (line.trim() === '') return;
    const s = parseSample(line, failer(line, this.lineNo, this.file));
    const text = line.slice(0, s.seriesEnd);
    let ref = this.refs.get(text);
    if (!ref) {
      if (this.histograms.has(s.metric)) checkBucket(s, failer(line, this.lineNo, this.file));
      ref = this.store.series(s.metric, s.labels);
      this.refs.set(text, ref);
      this.touched.add(ref);
    }
    this.lastText = text;
    this.lastRef = ref;
    this.add(ref, s.value, s.ts, line);
  }

  /**
   * A line `<series> <value> [<timestamp>]` whose series text was parsed before (usually on the line
   * above, as a recording lists a series' samples together) with plain decimal numbers: no label parsing,
   * no regex, no slices but the lookup key. Sound because a remembered text is a complete, valid series, so
   * the full parser would end the series at the same place. Anything else (tabs, double spaces, exponents,
   * Inf, exemplars, garbage) returns false and takes the full parser, which also gives the proper error.
   */
  private fast(line: string): boolean {
    let ref = this.lastRef;
    let at = this.lastText.length;
    if (!ref || line.charCodeAt(at) !== 32 || !line.startsWith(this.lastText)) {
      // Another series: split before the value (and timestamp) on the last spaces and look the text up.
      const p2 = line.lastIndexOf(' ');
      if (p2 <= 0) return false;
      const p1 = line.lastIndexOf(' ', p2 - 1);
      ref = p1 > 0 ? this.refs.get(line.slice(0, p1)) : undefined;
      at = p1;
      if (!ref) {
        ref = this.refs.get(line.slice(0, p2));
        at = p2;
      }
      if (!ref) return false;
      this.lastText = line.slice(0, at);
      this.lastRef = ref;
    }
    const value = scanDecimal(line, at + 1);
    const end = scanEnd;
    if (Number.isNaN(value)) return false;
    if (end === line.length) {
      this.add(ref, value, NaN, line);
      return true;
    }
    if (line.charCodeAt(end) !== 32) return false;
    const ts = scanDecimal(line, end + 1);
    if (Number.isNaN(ts) || scanEnd !== line.length) return false;
    this.add(ref, value, ts, line);
    return true;
  }

  private add(ref: SeriesRef, value: number, ts: number, line: string): void {
    if (this.scrapeTs !== undefined) ts = this.scrapeTs;
    else if (Number.isNaN(ts))
      throw new OpenMetricsError(
        this.file,
        this.lineNo,
        `a recorded sample needs a timestamp (seconds) in ${quote(line)}`,
      );
    else if (Math.abs(ts) > MAX_SECONDS)
      throw new OpenMetricsError(
        this.file,
        this.lineNo,
        `timestamp ${ts} looks like milliseconds; recordings use seconds, in ${quote(line)}`,
      );
    if (Number.isFinite(value) && this.store.appendTo(ref, ts, value)) this.samples++;
    else this.skipped++;
  }

  result(): ReadResult {
    return { samples: this.samples, series: this.touched.size, skipped: this.skipped, eof: this.eofAt > 0 };
  }
}

/**
 * Streams a recording into `store` line by line (the file is never one string). Every sample needs a
 * timestamp in seconds; a missing `# EOF` is accepted (Prometheus' text format has none; `eof` says).
 */
export async function readOpenMetricsFile(path: string, store: MemoryStore): Promise<ReadResult> {
  const reader = new Reader(path, store, undefined);
  // 64 KiB chunks (the default): readline splits each chunk as one string, and measured 4-5x slower with
  // 1 MiB chunks on a 25 MB file.
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 16 });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) reader.line(line);
  } catch (e) {
    if (e instanceof OpenMetricsError) throw e;
    throw new OpenMetricsError(path, 0, `cannot read: ${(e as Error).message}`);
  } finally {
    lines.close();
    stream.destroy();
  }
  return reader.result();
}

/**
 * Parses text already in memory (small inputs, tests, a scrape body). With `scrapeTs`, every sample gets
 * that time and the body's own timestamps are ignored, as Prometheus' `honor_timestamps: false`: a scrape
 * is judged at its scrape time, and exposition timestamps are milliseconds in Prometheus' format but
 * seconds in OpenMetrics. Without it, the text is a recording and every sample needs a timestamp.
 */
export function parseOpenMetricsText(text: string, file: string, store: MemoryStore, scrapeTs?: number): ReadResult {
  const reader = new Reader(file, store, scrapeTs);
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    reader.line(text.slice(start, end));
    start = end + 1;
  }
  return reader.result();
}
