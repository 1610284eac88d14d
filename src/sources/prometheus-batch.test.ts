// The batching plan of a tick's observations (prometheus-batch.ts) and the client's fallback when a batch
// is refused, with a scripted fetch (the real Prometheus is in test/prometheus-batch.test.ts).
import { describe, expect, it } from 'vitest';
import { batchSelector, planBatches, splitAnswer } from './prometheus-batch.js';
import { PrometheusSource } from './prometheus.js';
import { SourceError, type SeriesSelector } from './types.js';

const orders = (service: string, more: Record<string, string> = {}): SeriesSelector => ({
  metric: 'orders_total',
  matchers: { service, ...more },
  by: ['version'],
});

describe('planBatches', () => {
  it('asks one metric of many services as one query, on the label whose values differ', () => {
    const plan = planBatches([orders('a'), orders('b'), orders('c'), orders('b')]);
    expect(plan).toHaveLength(1);
    const b = plan[0];
    expect(b?.label).toBe('service');
    expect(b?.values).toEqual(['a', 'b', 'c']);
    expect(b?.members).toEqual([[0], [1, 3], [2]]);
    expect(batchSelector(b!).matchers).toEqual({ service: 'a|b|c' });
  });

  it('keeps apart what differs in more than one label, in the metric or in the result labels', () => {
    const plan = planBatches([
      orders('a', { code: '5..' }),
      orders('b', { code: '5..' }),
      orders('c', { code: '4..' }), // its code differs from the others': no partner on `service`
      { ...orders('d'), metric: 'http_requests_total' },
      { ...orders('e'), by: ['track'] },
    ]);
    expect(plan.map((b) => [b.label, b.values])).toEqual([
      ['service', ['a', 'b']],
      [null, ['']],
      [null, ['']],
      [null, ['']],
    ]);
  });

  it('asks a regex value alone: a series label value names a literal selector only', () => {
    const plan = planBatches([orders('a'), orders('b|c'), orders('d.*'), orders('e')]);
    expect(plan.map((b) => b.values)).toEqual([['a', 'e'], [''], ['']]);
    expect(plan.slice(1).map((b) => b.template.matchers.service)).toEqual(['b|c', 'd.*']);
  });

  it('caps the alternation length', () => {
    const sels = Array.from({ length: 30 }, (_, i) => orders(`service-${String(i).padStart(3, '0')}`));
    const plan = planBatches(sels, 100);
    expect(plan.length).toBe(4); // 12 characters a value with its "|": 8 per query
    expect(plan.flatMap((b) => b.members.flat())).toEqual(sels.map((_, i) => i));
    for (const b of plan) expect(batchSelector(b).matchers.service?.length).toBeLessThanOrEqual(100);
  });

  it('splits an answer back per value, dropping the added label', () => {
    const [b] = planBatches([orders('a'), orders('b')]);
    const rows = [
      { metric: { service: 'b', version: 'v1', job: 'j', instance: 'i' }, values: [] },
      { metric: { service: 'a', version: 'v1', job: 'j', instance: 'i' }, values: [] },
    ];
    expect(splitAnswer(rows, b!, true).map((p) => p.map((r) => r.metric))).toEqual([
      [{ version: 'v1', job: 'j', instance: 'i' }],
      [{ version: 'v1', job: 'j', instance: 'i' }],
    ]);
    expect(splitAnswer(rows, b!, false)[0]?.[0]?.metric.service).toBe('a');
  });
});

const matrix = (result: unknown[]) =>
  new Response(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result } }), { status: 200 });
const vector = (result: unknown[]) =>
  new Response(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }), { status: 200 });
const refused = (status: number, error: string) =>
  new Response(JSON.stringify({ status: 'error', errorType: 'execution', error }), { status });

describe('a refused batch', () => {
  /** A scripted Prometheus: `reply` per query text; every query seen. */
  function prometheus(reply: (query: string) => Response) {
    const seen: string[] = [];
    const f = (async (_url: unknown, init?: RequestInit) => {
      const q = new URLSearchParams(String(init?.body)).get('query') ?? '';
      seen.push(q);
      return reply(q);
    }) as typeof fetch;
    return { f, seen };
  }

  it('is asked again selector by selector: only the one Prometheus refuses alone fails', async () => {
    const { f, seen } = prometheus((q) =>
      q.includes('a|b|c')
        ? refused(422, 'query processing would load too many samples into memory')
        : q.includes('"b"')
          ? refused(400, 'bad')
          : matrix([]),
    );
    const p = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 2, fetch: f, backoff: { base: 1, cap: 2 } });
    const r = await Promise.allSettled(['a', 'b', 'c'].map((s) => p.observe(orders(s), 0, 30, 15)));
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((r[1] as PromiseRejectedResult).reason).toBeInstanceOf(SourceError);
    // two batched queries (observation, targets) refused once each, then each selector's two alone
    expect(seen.filter((q) => q.includes('a|b|c'))).toHaveLength(2);
    expect(seen).toHaveLength(2 + 3 * 2);
  });

  it('that fails after its retries (5xx) leaves all its selectors blind, asked no more', async () => {
    const { f, seen } = prometheus((q) => (q.includes('a|b|c') ? refused(503, 'overloaded') : matrix([])));
    const p = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 1, fetch: f, backoff: { base: 1, cap: 2 } });
    const r = await Promise.allSettled(['a', 'b', 'c'].map((s) => p.observe(orders(s), 0, 30, 15)));
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'rejected']);
    const e = (r[0] as PromiseRejectedResult).reason as Error;
    expect(e).toBeInstanceOf(SourceError);
    // each selector's error names its own selector, not the batch's alternation
    expect(e.message).toMatch(/orders_total\{service=~"a"\}.*HTTP 503: overloaded/);
    await new Promise((r) => setTimeout(r, 50)); // the targets query's retry, still in flight when they failed
    expect(seen).toHaveLength(2 * 2); // two batched queries, each tried twice
  });

  it("of `up` for the tick is asked again per observation: each gets its own targets' health", async () => {
    const target = (service: string) => ({
      metric: { job: 'shop', instance: `${service}:80`, service },
      value: [30, '1'],
    });
    const { f, seen } = prometheus((q) => {
      if (q.startsWith('up{') && q.includes('|')) return refused(422, 'too many samples');
      if (q.startsWith('up{')) {
        const instance = /instance=~"([^"]+)"/.exec(q)?.[1] ?? '';
        return matrix([{ metric: { job: 'shop', instance }, values: [[30, '0']] }]);
      }
      if (q.startsWith('count by')) return vector(['a', 'b'].map(target));
      return matrix([]);
    });
    const p = new PrometheusSource({ url: 'http://p', timeout: 1, retries: 0, fetch: f });
    const r = await Promise.all(['a', 'b'].map((s) => p.observe(orders(s), 0, 30, 15)));
    // one `up` query for both services' targets, refused; then each observation's own
    expect(seen.filter((q) => q.startsWith('up{'))).toEqual([
      'up{instance=~"a:80|b:80"}[45000ms]',
      'up{instance=~"a:80"}[45000ms]',
      'up{instance=~"b:80"}[45000ms]',
    ]);
    for (const o of r) expect(o.health).toBe(true);
    expect(r[0]?.blind.at(-1)).toMatch(/down \(up == 0\)/);
  });
});
