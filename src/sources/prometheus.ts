// A Prometheus-compatible HTTP API as a metric source (Prometheus, VictoriaMetrics, Thanos, Mimir).
// Two ways of reading:
// - `grid` (backtests over weeks): `last_over_time(metric{matchers}[step])` range queries, split below
//   Prometheus' 11,000 points per series;
// - `observe` (the live watch): the raw samples of the counter over the few ticks a watch needs, put on
//   the tick grid here exactly as the embedded store does, plus the `up` series of the targets that serve
//   the selector. Raw samples make any scrape interval work with any tick: a tick with no sample in it is
//   a gap (its events arrive with the next sample, counted once), never zero; `up == 0` is blind; a
//   series gone while its target is up is absent.
// Every query carries the configured headers and credentials. 429 and 5xx are retried with capped
// backoff (honouring Retry-After) within the tick; a partial response (warnings) or any failure is a
// SourceError, which leaves watches blind, never passing. At most `maxConcurrency` HTTP requests are in
// flight at once (a backoff sleep holds no slot); each attempt is reported to `onQuery` with its outcome.
// The observations asked within a few milliseconds of each other (a tick's) are batched across services
// (prometheus-batch.ts): one query per metric instead of one per service; a batch Prometheus refuses is
// asked again selector by selector, so one bad selector blinds only its own watches.
import { Limit } from './limit.js';
import { batchSelector, planBatches, runsByLength, splitAnswer, type Batch } from './prometheus-batch.js';
import {
  PART_LABEL,
  TARGET_LABELS,
  aggregationLabels,
  matcherList,
  observeQuery,
  selectorQuery,
  targetsQuery,
  upQuery,
} from './prometheus-query.js';
import {
  SourceError,
  gridPoints,
  type MetricSource,
  type Observed,
  type SeriesGrid,
  type SeriesSelector,
} from './types.js';

export interface PrometheusOptions {
  url: string;
  /** seconds per request */
  timeout: number;
  retries: number;
  /** sent with every query (tenant headers: X-Scope-OrgID for Mimir, ...) */
  headers?: Record<string, string>;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  fetch?: typeof fetch;
  /** backoff before retry n (ms): min(cap, base * 2^n); tests shorten it */
  backoff?: { base: number; cap: number };
  /** HTTP requests in flight at most (default 10: half of Prometheus' default --query.max-concurrency of 20) */
  maxConcurrency?: number;
  /** told about every HTTP attempt (telemetry, wired in app.ts: this module never imports prom-client) */
  onQuery?: (outcome: QueryOutcome, seconds: number) => void;
  /** batch a tick's observations across services (default true; false: each selector its own queries) */
  batch?: boolean;
}

/**
 * One HTTP attempt's outcome: ok (an answer), partial (an answer with warnings, not used), retry (failed and
 * tried again), error (failed, and the query gives up).
 */
export type QueryOutcome = 'ok' | 'partial' | 'retry' | 'error';

const MAX_POINTS = 10_000;
/** How far back the targets serving a selector are looked for (a target that died an hour ago still counts). */
const TARGET_LOOKBACK = 3600;
/**
 * Observations are asked together once none has come for this long, ms: a tick's requests reach the
 * worker as many messages (observe-worker.ts), each read for a millisecond or two before the next, so one
 * event-loop turn (setImmediate) or a fixed delay would split a tick into many batches. A few ms against
 * a tick of seconds is nothing.
 */
const BATCH_QUIET_MS = 5;
/** ... but no observation waits longer than this for the others, ms. */
const BATCH_MAX_WAIT_MS = 250;
/**
 * How long the targets serving a selector are remembered, seconds of tick time: their 1-hour lookback
 * changes only when a target starts (seen at once in the observation) or drops out of that hour.
 */
const TARGETS_REFRESH = 60;
/** How long an answer is reused for the same query and time, ms. */
const MEMO_MS = 1000;
/** Longest Retry-After honoured within a tick, seconds. */
const MAX_RETRY_AFTER = 5;

/**
 * The grids of an observation answered by observeQuery: one series per target and cohort. Where the number
 * of series behind a sum changed from one point to the next, the sum's step is not an increment (a vanished
 * series would pass for a counter reset, a new one's whole value for new events): the series is split
 * there into one that ends and one that starts, which the increment rules count as a stopped and a new
 * series (the step between them is not counted, as a new pod's first value is not).
 */
export function gridsFromObserved(result: MatrixResult, from: number, step: number, points: number): SeriesGrid[] {
  // Decoded for every selector each tick (300 at 100 services, split from a few batched answers): plain
  // loops, the labels copied without `delete` and keyed by their sorted pairs (a tenth of a tick's CPU once).
  const onGrid = (values: [number, string][]) => {
    const out = new Float64Array(points).fill(NaN);
    for (let k = 0; k < values.length; k++) {
      const p = values[k] as [number, string];
      const i = Math.round((p[0] - from) / step);
      if (i >= 0 && i < points) out[i] = Number(p[1]);
    }
    return out;
  };
  const sums = new Map<string, SeriesGrid>();
  const counts = new Map<string, Float64Array>();
  for (const r of result) {
    const labels: Record<string, string> = {};
    const names: string[] = [];
    for (const name in r.metric) {
      if (name === '__name__' || name === PART_LABEL) continue;
      labels[name] = r.metric[name] as string;
      names.push(name);
    }
    names.sort();
    let key = '';
    for (const name of names) key += `${name}\u0000${labels[name]}\u0001`;
    if (r.metric[PART_LABEL] === 'count') counts.set(key, onGrid(r.values));
    else sums.set(key, { labels, values: onGrid(r.values) });
  }
  const out: SeriesGrid[] = [];
  for (const [key, g] of sums) {
    const n = counts.get(key);
    let start = 0;
    let prev = NaN;
    for (let i = 0; i < points && n; i++) {
      const c = n[i] as number;
      if (!Number.isFinite(c)) continue;
      if (Number.isFinite(prev) && c !== prev) {
        out.push({ labels: g.labels, values: g.values.map((v, j) => (j >= start && j < i ? v : NaN)) });
        start = i;
      }
      prev = c;
    }
    out.push(start === 0 ? g : { labels: g.labels, values: g.values.map((v, j) => (j >= start ? v : NaN)) });
  }
  return out;
}

/** values[i] = last raw sample in (from + i*step - step, from + i*step], NaN if none (MemoryStore's rule). */
export function gridFromSamples(samples: [number, string][], from: number, step: number, points: number): Float64Array {
  const values = new Float64Array(points).fill(NaN);
  for (const [t, v] of samples) {
    const i = Math.ceil((t - from) / step - 1e-9);
    if (i >= 0 && i < points) values[i] = Number(v); // samples come in time order: the last one wins
  }
  return values;
}

interface Answer<R> {
  status: string;
  data?: { resultType: string; result: R };
  error?: string;
  warnings?: string[];
}
export type MatrixResult = { metric: Record<string, string>; values: [number, string][] }[];
type VectorResult = { metric: Record<string, string>; value: [number, string] }[];

function stripName(m: Record<string, string>): Record<string, string> {
  const labels = { ...m };
  delete labels.__name__;
  return labels;
}

interface RememberedTargets {
  /** the tick end they were asked for */
  at: number;
  lookback: number;
  rows: VectorResult;
  keys: Set<string>;
}

const selectorKey = (sel: SeriesSelector) => `${sel.metric}${JSON.stringify(sel.matchers)}`;

interface Waiting {
  from: number;
  to: number;
  step: number;
  asks: { sel: SeriesSelector; resolve(o: Observed): void; reject(e: unknown): void }[];
}

/**
 * A query that failed: `retryable` false when Prometheus refused it (a 4xx other than 429: asking it again
 * cannot help, but asking its parts alone may), true when it failed after its retries.
 */
export class QueryError extends SourceError {
  constructor(
    message: string,
    readonly why: string,
    readonly retryable: boolean,
  ) {
    super(message, 'prometheus');
  }
}

/** What a selector's observation saw before its health: its series and the targets serving it. */
interface Seen {
  series: SeriesGrid[];
  targets: Record<string, string>[];
}

const targetsOf = (served: VectorResult) => served.map((r) => r.metric).filter((m) => m.instance !== undefined);
const instancesOf = (targets: Record<string, string>[]) =>
  [...new Set(targets.map((t) => t.instance as string))].sort();

/**
 * The observation's health from the `up` of the targets that serve the selector (see the header): `upRaw`
 * may hold other targets' too (a batch's), only the selector's own are read. Down targets are named in
 * their label order, so the reason does not depend on the order of Prometheus' answer.
 */
function withHealth(
  series: SeriesGrid[],
  targets: Record<string, string>[],
  upRaw: MatrixResult,
  from: number,
  step: number,
  points: number,
): Observed {
  const blind = new Array<string | null>(points).fill(null);
  const wanted = new Set(targets.map(targetKey));
  const up = new Map<string, Float64Array>();
  for (const r of upRaw) {
    const key = targetKey(r.metric);
    if (wanted.has(key)) up.set(key, gridFromSamples(r.values, from, step, points));
  }
  if (up.size === 0) return { series, blind, health: false }; // no `up` (recording rules, backfilled data)
  for (const s of series) {
    const u = up.get(targetKey(s.labels));
    if (u) s.up = u;
  }
  for (const key of [...up.keys()].sort()) {
    const u = up.get(key) as Float64Array;
    const [job, instance] = JSON.parse(key) as [string, string];
    for (let i = 0; i < points; i++)
      if (u[i] === 0 && blind[i] === null) blind[i] = `Prometheus reports ${job}/${instance} down (up == 0)`;
  }
  return { series, blind, health: true };
}

const targetKey = (l: Record<string, string>) => JSON.stringify([l.job ?? '', l.instance ?? '']);

export class PrometheusSource implements MetricSource {
  private readonly fetch: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly limit: Limit;
  private readonly memo = new Map<string, Promise<unknown>>();
  /** the targets serving each selector, as last asked (observeAll) */
  private readonly targets = new Map<string, RememberedTargets>();
  /** observations waiting to be asked together, per grid (from|to|step) */
  private readonly waiting = new Map<string, Waiting>();
  private flushing: NodeJS.Timeout | null = null;
  private firstAsk = 0;
  private lastAsk = 0;
  /** queries sent (attempts included), for tests and telemetry */
  requests = 0;

  constructor(private readonly o: PrometheusOptions) {
    this.fetch = o.fetch ?? fetch;
    const h: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.bearerToken) h.authorization = `Bearer ${o.bearerToken}`;
    else if (o.basicAuth)
      h.authorization = `Basic ${Buffer.from(`${o.basicAuth.username}:${o.basicAuth.password}`).toString('base64')}`;
    this.headers = h;
    this.limit = new Limit(o.maxConcurrency ?? 10);
  }

  async grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    const points = Math.round((to - from) / step) + 1;
    const bySeries = new Map<string, SeriesGrid>();
    for (let first = 0; first < points; first += MAX_POINTS) {
      const last = Math.min(points - 1, first + MAX_POINTS - 1);
      const m = await this.query<MatrixResult>('query_range', selectorQuery(sel, step), {
        start: String(from + first * step),
        end: String(from + last * step),
        step: String(step),
      });
      for (const r of m) {
        const labels = stripName(r.metric);
        const key = JSON.stringify(Object.entries(labels).sort());
        let g = bySeries.get(key);
        if (!g) {
          g = { labels, values: new Float64Array(points).fill(NaN) };
          bySeries.set(key, g);
        }
        for (const [t, v] of r.values) {
          const i = Math.round((t - from) / step);
          if (i >= 0 && i < points) g.values[i] = Number(v);
        }
      }
    }
    return [...bySeries.values()];
  }

  /**
   * A live observation. Batched (the default): it waits a few milliseconds for the tick's other
   * observations of the same range, and is asked with them (observeAll).
   */
  observe(sel: SeriesSelector, from: number, to: number, step: number): Promise<Observed> {
    if (this.o.batch === false) return this.observeAll([sel], from, to, step, false)[0] as Promise<Observed>;
    return new Promise<Observed>((resolve, reject) => {
      const key = `${from}|${to}|${step}`;
      let w = this.waiting.get(key);
      if (!w) this.waiting.set(key, (w = { from, to, step, asks: [] }));
      w.asks.push({ sel, resolve, reject });
      this.lastAsk = performance.now();
      if (!this.flushing) {
        this.firstAsk = this.lastAsk;
        this.flushing = setTimeout(() => this.flush(), BATCH_QUIET_MS);
      }
    });
  }

  private flush(): void {
    const now = performance.now();
    const quiet = now - this.lastAsk;
    if (quiet < BATCH_QUIET_MS && now - this.firstAsk < BATCH_MAX_WAIT_MS) {
      this.flushing = setTimeout(() => this.flush(), BATCH_QUIET_MS - quiet);
      return;
    }
    this.flushing = null;
    const windows = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of windows) {
      const answers = this.observeAll(
        w.asks.map((a) => a.sel),
        w.from,
        w.to,
        w.step,
        true,
      );
      w.asks.forEach((a, i) => void (answers[i] as Promise<Observed>).then(a.resolve, a.reject));
    }
  }

  /**
   * The observations of these selectors on one grid, each answer what the selector alone would get: the
   * aggregated observation and the targets serving the selector (per batch when `batched`, else per
   * selector), then the `up` of those targets. Each selector fails alone (a SourceError: its watches blind).
   */
  private observeAll(
    sels: readonly SeriesSelector[],
    from: number,
    to: number,
    step: number,
    batched: boolean,
  ): Promise<Observed>[] {
    const points = gridPoints(from, to, step);
    const at = { time: String(to) };
    const plan = batched
      ? planBatches(sels)
      : sels.map((s, i): Batch => ({ label: null, template: s, values: [''], members: [[i]] }));
    const lookback = Math.max(TARGET_LOOKBACK, to - from + step);
    const raw = this.askPlan<MatrixResult[number]>(
      plan,
      sels,
      (sel, extra) => observeQuery(sel, from, to, step, extra),
      aggregationLabels,
      at,
    );
    // The targets serving a selector: remembered between ticks (batched only), else asked, in batches too.
    const known = sels.map((sel) => (batched ? this.rememberedTargets(sel, to, lookback) : null));
    const askIdx = sels.map((_, i) => i).filter((i) => !known[i]);
    const askSels = askIdx.map((i) => sels[i] as SeriesSelector);
    const asked = this.askPlan<VectorResult[number]>(
      batched ? planBatches(askSels) : plan,
      askSels,
      (sel, extra) => targetsQuery(sel, lookback, extra),
      () => TARGET_LABELS,
      at,
    );
    const served = new Array<Promise<VectorResult> | undefined>(sels.length);
    askIdx.forEach((i, k) => {
      served[i] = (asked[k] as Promise<VectorResult>).then((rows) =>
        this.remember(sels[i] as SeriesSelector, to, lookback, rows),
      );
    });
    const seen = sels.map(async (sel, i): Promise<Seen> => {
      const k = known[i];
      if (!k) {
        const [rows, srv] = await Promise.all([raw[i] as Promise<MatrixResult>, served[i] as Promise<VectorResult>]);
        return { series: gridsFromObserved(rows, from, step, points), targets: targetsOf(srv) };
      }
      const series = gridsFromObserved(await (raw[i] as Promise<MatrixResult>), from, step, points);
      // A target the remembered set does not hold (a new pod): the set is asked again now.
      const srv = series.every((g) => k.keys.has(targetKey(g.labels)))
        ? k.rows
        : this.remember(sel, to, lookback, await this.query<VectorResult>('query', targetsQuery(sel, lookback), at));
      return { series, targets: targetsOf(srv) };
    });
    // Raw `up` samples in (from - step, to]: the window of point 0 included. Batched: one query for every
    // target of the tick; alone, per set of targets (the signals of a service share theirs: the memo).
    const windowMs = Math.round((to - from + step) * 1000);
    const own = (targets: Record<string, string>[]) =>
      this.query<MatrixResult>('query', upQuery(instancesOf(targets), windowMs), at);
    const upOf = batched
      ? this.upOfTick(seen, windowMs, at)
      : (_i: number, targets: Record<string, string>[]) => own(targets);
    return seen.map(async (p, i) => {
      const { series, targets } = await p;
      if (targets.length === 0) return { series, blind: new Array<string | null>(points).fill(null), health: false };
      return withHealth(series, targets, await upOf(i, targets), from, step, points);
    });
  }

  /**
   * The `up` of every target of a tick's observations in one query (a few when their alternation is long),
   * asked once every observation knows its targets; per observation, the rows of its chunks. A chunk
   * Prometheus refuses is asked again per observation's own targets, as the unbatched source does.
   */
  private upOfTick(
    seen: readonly Promise<Seen>[],
    windowMs: number,
    at: Record<string, string>,
  ): (i: number, targets: Record<string, string>[]) => Promise<MatrixResult> {
    const chunks = Promise.allSettled(seen).then((all) => {
      const instances = new Set<string>();
      for (const s of all)
        if (s.status === 'fulfilled') for (const t of s.value.targets) instances.add(t.instance as string);
      return runsByLength([...instances].sort()).map((run) => {
        const rows = this.query<MatrixResult>('query', upQuery(run, windowMs), at);
        rows.catch(() => {}); // handled by the observations that use it (a rejection is theirs to report)
        return { instances: new Set(run), rows };
      });
    });
    return async (_i, targets) => {
      const mine = instancesOf(targets);
      const parts = (await chunks).filter((c) => mine.some((x) => c.instances.has(x)));
      try {
        return (await Promise.all(parts.map((c) => c.rows))).flat();
      } catch (e) {
        const alone = parts.length === 1 && parts[0]?.instances.size === mine.length;
        if (alone) throw e;
        const q = upQuery(mine, windowMs);
        if (e instanceof QueryError && !e.retryable) return this.query<MatrixResult>('query', q, at);
        const why = e instanceof QueryError ? e.why : (e as Error).message;
        throw new SourceError(
          `Prometheus ${this.o.url}: ${q} (asked in one query with the tick's other targets): ${why}`,
          'prometheus',
        );
      }
    };
  }

  /**
   * The targets serving `sel` as last asked, if that was at most TARGETS_REFRESH seconds before `to` (not
   * after it: a tick caught up after an outage asks again) and over the same lookback. Between two asks a
   * target that stopped an hour ago still counts (its `up == 0` at worst makes the selector blind, never
   * passing); a new one is caught by the observation itself (above).
   */
  private rememberedTargets(sel: SeriesSelector, to: number, lookback: number): RememberedTargets | null {
    const r = this.targets.get(selectorKey(sel));
    return r && r.lookback === lookback && to >= r.at && to - r.at < TARGETS_REFRESH ? r : null;
  }

  private remember(sel: SeriesSelector, to: number, lookback: number, rows: VectorResult): VectorResult {
    if (this.targets.size > 10_000)
      for (const [key, r] of this.targets) if (to - r.at >= TARGETS_REFRESH) this.targets.delete(key);
    const keys = new Set(rows.map((r) => targetKey(r.metric)));
    this.targets.set(selectorKey(sel), { at: to, lookback, rows, keys });
    return rows;
  }

  /**
   * Asks a plan's queries; per selector, its share of the answer. A batch that fails for good (HTTP 400 or
   * 422: a bad query, too many samples) is asked again selector by selector, so one bad selector fails
   * alone; a batch that fails after its retries (5xx, timeouts, partial answers) fails its selectors, as
   * each would have alone. `kept`: the labels the selector's own answer carries (the batch's label is
   * dropped from its series unless it is one of them).
   */
  private askPlan<T extends { metric: Record<string, string> }>(
    plan: readonly Batch[],
    sels: readonly SeriesSelector[],
    build: (sel: SeriesSelector, extra: string | null) => string,
    kept: (sel: SeriesSelector) => readonly string[],
    at: Record<string, string>,
  ): Promise<T[]>[] {
    const out = new Array<Promise<T[]>>(sels.length);
    const alone = (i: number) => this.query<T[]>('query', build(sels[i] as SeriesSelector, null), at);
    for (const b of plan) {
      if (b.label === null) {
        for (const i of b.members[0] as number[]) out[i] = alone(i);
        continue;
      }
      const label = b.label;
      const n = b.members.reduce((a, m) => a + m.length, 0);
      const parts = this.query<T[]>('query', build(batchSelector(b), label), at).then((rows) =>
        splitAnswer(rows, b, !kept(b.template).includes(label)),
      );
      b.members.forEach((members, k) => {
        for (const i of members)
          out[i] = parts.then(
            (p) => p[k] as T[],
            (e: unknown) => {
              if (e instanceof QueryError && !e.retryable) return alone(i);
              const why = e instanceof QueryError ? e.why : (e as Error).message;
              throw new SourceError(
                `Prometheus ${this.o.url}: ${build(sels[i] as SeriesSelector, null)} (asked in one query with ${n - 1} other selectors): ${why}`,
                'prometheus',
              );
            },
          );
      });
    }
    return out;
  }

  /**
   * Label sets of the series matching `sel` with a sample in the `lookback` seconds up to `at`: the start-up
   * check of latency signals' bucket bounds (histogram-bounds.ts) asks this once per histogram.
   */
  async seriesLabels(sel: SeriesSelector, at: number, lookback: number): Promise<Record<string, string>[]> {
    const v = await this.query<VectorResult>(
      'query',
      `last_over_time(${sel.metric}{${matcherList(sel)}}[${Math.round(lookback)}s])`,
      { time: String(at) },
    );
    return v.map((r) => stripName(r.metric));
  }

  /**
   * One query, asked once while the same query for the same time is in flight or just answered: the
   * signals of a service share their targets, so their `up` queries are the same. An answer for a past
   * instant does not change within a second; a failure is not remembered.
   */
  private query<R>(path: 'query' | 'query_range', query: string, params: Record<string, string>): Promise<R> {
    const key = `${path}\n${query}\n${JSON.stringify(params)}`;
    const known = this.memo.get(key);
    if (known) return known as Promise<R>;
    const p = this.send<R>(path, query, params);
    this.memo.set(key, p);
    p.then(
      () => setTimeout(() => this.memo.delete(key), MEMO_MS).unref(),
      () => this.memo.delete(key),
    );
    return p;
  }

  private async send<R>(path: 'query' | 'query_range', query: string, params: Record<string, string>): Promise<R> {
    const url = new URL(`/api/v1/${path}`, this.o.url);
    const body = new URLSearchParams({ query, ...params });
    const backoff = this.o.backoff ?? { base: 200, cap: 2000 };
    let lastError = '';
    let retryable = true;
    let wait = 0;
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (attempt > 0)
        await new Promise((r) => setTimeout(r, wait || Math.min(backoff.cap, backoff.base * 2 ** attempt)));
      const last = attempt === this.o.retries;
      const a = await this.limit.run(() => this.attempt<R>(url, body, path === 'query'));
      this.o.onQuery?.(a.outcome === 'failed' ? (last || !a.retryable ? 'error' : 'retry') : a.outcome, a.seconds);
      if (a.outcome === 'ok') return a.result;
      lastError = a.error;
      wait = a.wait;
      retryable = a.outcome === 'partial' || a.retryable;
      if (!retryable) break;
    }
    throw new QueryError(`Prometheus ${this.o.url}: ${query}: ${lastError}`, lastError, retryable);
  }

  /**
   * One HTTP request, inside a concurrency slot. `plain`: ask for an uncompressed answer. The live watch's
   * instant queries answer a few points per target and cohort; inflating them cost about a tenth of a
   * tick's CPU at 10,000 watches (bench/service/live.ts, --cpu-prof), more than the bytes saved are worth.
   * Range queries (backtests, history) stay compressed: their answers are large.
   */
  private async attempt<R>(url: URL, body: URLSearchParams, plain: boolean): Promise<Attempt<R>> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    this.requests++;
    try {
      const res = await this.fetch(url, {
        method: 'POST',
        body,
        headers: {
          ...this.headers,
          'content-type': 'application/x-www-form-urlencoded',
          ...(plain ? { 'accept-encoding': 'identity' } : {}),
        },
        signal: AbortSignal.timeout(this.o.timeout * 1000),
      });
      const text = await res.text();
      // 429 and 5xx may pass (overload, a restart); another 4xx (a bad query, bad credentials) does not.
      const retryable = res.status === 429 || res.status >= 500;
      const wait = retryable ? retryAfterMs(res.headers.get('retry-after')) : 0;
      let json: Answer<R>;
      try {
        json = JSON.parse(text) as Answer<R>;
      } catch {
        const error = `HTTP ${res.status}: not JSON: ${text.slice(0, 120)}`;
        return { outcome: 'failed', error, retryable: retryable || res.ok, wait, seconds: seconds() };
      }
      if (res.ok && json.status === 'success' && json.data) {
        // A partial answer (a Thanos store or a Mimir ingester missing) is not an answer: blind.
        if (json.warnings?.length)
          return {
            outcome: 'partial',
            error: `partial response: ${json.warnings.join('; ')}`,
            wait,
            seconds: seconds(),
          };
        return { outcome: 'ok', result: json.data.result, seconds: seconds() };
      }
      const error = `HTTP ${res.status}: ${json.error ?? 'unexpected answer'}`;
      return { outcome: 'failed', error, retryable, wait, seconds: seconds() };
    } catch (e) {
      return { outcome: 'failed', error: (e as Error).message, retryable: true, wait: 0, seconds: seconds() };
    }
  }
}

type Attempt<R> =
  | { outcome: 'ok'; result: R; seconds: number }
  | { outcome: 'partial'; error: string; wait: number; seconds: number }
  | { outcome: 'failed'; error: string; retryable: boolean; wait: number; seconds: number };

/** Retry-After in ms (seconds or an HTTP date), capped; 0 when absent or unreadable. */
function retryAfterMs(h: string | null): number {
  if (!h) return 0;
  const secs = /^\d+$/.test(h.trim()) ? Number(h) : (Date.parse(h) - Date.now()) / 1000;
  return Number.isFinite(secs) && secs > 0 ? Math.min(MAX_RETRY_AFTER, secs) * 1000 : 0;
}
