// OpenMetrics / Prometheus text: a streaming reader for recordings (contracts §3: counters, one sample a
// line, timestamps in seconds, `# EOF` last) and the parser the embedded scraper uses (no timestamps:
// the scrape time is used). A malformed line is an error naming the file and the line.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { MemoryStore } from './memory-store.js';

export class OpenMetricsError extends Error {
  override name = 'OpenMetricsError';
  constructor(
    readonly file: string,
    readonly line: number,
    what: string,
  ) {
    super(`${file}:${line}: ${what}`);
  }
}

export interface Sample {
  metric: string;
  labels: Record<string, string>;
  value: number;
  /** seconds; NaN when the line has none */
  ts: number;
}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;

function parseNumber(text: string): number {
  switch (text) {
    case '+Inf':
    case 'Inf':
    case '+inf':
      return Infinity;
    case '-Inf':
    case '-inf':
      return -Infinity;
    case 'NaN':
    case 'nan':
      return NaN;
  }
  if (text === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number.NaN - 1; // marker: invalid
  return Number(text);
}

const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

/** Parses one sample line; throws OpenMetricsError. Comment and blank lines return null. */
export function parseOpenMetricsLine(line: string, lineNo: number, file: string): Sample | null {
  if (line === '' || line.startsWith('#')) return null;
  const fail = (what: string): never => {
    throw new OpenMetricsError(file, lineNo, `${what} in ${quote(line)}`);
  };
  let i = 0;
  if (!NAME_START.test(line[0] as string)) fail('a sample line must start with a metric name');
  while (i < line.length && NAME_CHAR.test(line[i] as string)) i++;
  const metric = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      if (line[i] === '}') {
        i++;
        break;
      }
      const start = i;
      if (!LABEL_START.test(line[i] ?? '')) fail(`expected a label name at column ${i + 1}`);
      while (i < line.length && LABEL_CHAR.test(line[i] as string)) i++;
      const name = line.slice(start, i);
      if (line[i] !== '=') fail(`expected = after label ${name}`);
      i++;
      if (line[i] !== '"') fail(`expected a quoted value for label ${name}`);
      i++;
      let value = '';
      for (;;) {
        const ch = line[i];
        if (ch === undefined) fail(`unterminated value of label ${name}`);
        if (ch === '"') break;
        if (ch === '\\') {
          const next = line[i + 1];
          if (next === 'n') value += '\n';
          else if (next === '\\' || next === '"') value += next;
          else fail(`bad escape \\${next ?? ''} in label ${name}`);
          i += 2;
          continue;
        }
        value += ch;
        i++;
      }
      i++;
      if (name in labels) fail(`label ${name} appears twice`);
      labels[name] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') fail(`expected , or } after label ${name}`);
    }
  }
  if (line[i] !== ' ') fail('expected a space before the value');
  const rest = line
    .slice(i + 1)
    .trim()
    .split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') fail('expected a value and an optional timestamp');
  const value = parseNumber(rest[0] as string);
  if (Number.isNaN(value) && !/^nan$/i.test(rest[0] as string)) fail(`${quote(rest[0] as string)} is not a number`);
  let ts = NaN;
  if (rest.length === 2) {
    ts = parseNumber(rest[1] as string);
    if (!Number.isFinite(ts)) fail(`${quote(rest[1] as string)} is not a timestamp`);
  }
  return { metric, labels, value, ts };
}

/** Feeds lines into a store; `requireTimestamps` for recordings, where a line without one has no time. */
class Reader {
  samples = 0;
  private eofAt = 0;
  private lineNo = 0;
  constructor(
    private readonly file: string,
    private readonly store: MemoryStore,
    private readonly defaultTs: number,
  ) {}

  line(raw: string): void {
    this.lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.eofAt) {
      if (line.trim() !== '')
        throw new OpenMetricsError(this.file, this.lineNo, `content after # EOF (line ${this.eofAt})`);
      return;
    }
    if (line === '# EOF') {
      this.eofAt = this.lineNo;
      return;
    }
    const s = parseOpenMetricsLine(line, this.lineNo, this.file);
    if (!s) return;
    let ts = s.ts;
    if (Number.isNaN(ts)) {
      if (Number.isNaN(this.defaultTs))
        throw new OpenMetricsError(this.file, this.lineNo, 'a recorded sample needs a timestamp (seconds)');
      ts = this.defaultTs;
    }
    if (!Number.isFinite(s.value)) return; // NaN / Inf counters carry no countable events
    this.store.append(s.metric, s.labels, ts, s.value);
    this.samples++;
  }
}

/**
 * Streams a recording into `store`. A missing `# EOF` is accepted (Prometheus' own text format has none);
 * content after it is not.
 */
export async function readOpenMetricsFile(
  path: string,
  store: MemoryStore,
): Promise<{ samples: number; series: number }> {
  const reader = new Reader(path, store, NaN);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) reader.line(line);
  } catch (e) {
    stream.destroy();
    if (e instanceof OpenMetricsError) throw e;
    throw new OpenMetricsError(path, 0, `cannot read: ${(e as Error).message}`);
  }
  return { samples: reader.samples, series: store.seriesCount() };
}

/** Parses text already in memory (a scrape body); samples without a timestamp get `ts`. */
export function parseOpenMetricsText(text: string, file: string, store: MemoryStore, ts = NaN): number {
  const reader = new Reader(file, store, ts);
  for (const line of text.split('\n')) reader.line(line);
  return reader.samples;
}
