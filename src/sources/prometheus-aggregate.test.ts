// The live observation summed at the server (per target and cohort): the query's shape, and how its answer
// becomes grids the increment rules count exactly as they count raw series, including when the number of
// series behind a sum changes (a vanished series must not pass for a counter reset).
import { describe, expect, it } from 'vitest';
import { observeCohort } from '../signals/observe.js';
import { gridsFromObserved, type MatrixResult } from './prometheus.js';
import { aggregationLabels, observeQuery, PART_LABEL } from './prometheus-query.js';

const target = { job: 'shop', instance: '10.0.0.1:80', version: 'v2' };
const sum = (values: [number, string][]) => ({ metric: { ...target }, values });
const count = (values: [number, string][]) => ({ metric: { ...target, [PART_LABEL]: 'count' }, values });

describe('server-side aggregation of live observations', () => {
  it('sums by the cohort label and the target, and keeps le for buckets', () => {
    const q = observeQuery({ metric: 'orders_total', matchers: { service: 'checkout' }, by: ['version'] }, 60, 90, 15);
    expect(q).toBe(
      '(sum by (version, job, instance) (last_over_time(orders_total{service=~"checkout"}[14999ms])) or ' +
        'label_replace(count by (version, job, instance) (last_over_time(orders_total{service=~"checkout"}[14999ms])), ' +
        '"navigator_part", "count", "", ""))[45000ms:15000ms]',
    );
    expect(aggregationLabels({ metric: 'latency_seconds_bucket', matchers: {}, by: ['track'] })).toEqual([
      'track',
      'job',
      'instance',
      'le',
    ]);
  });

  it('puts the sums on the tick grid by timestamp and drops the point before it', () => {
    const r: MatrixResult = [
      sum([
        [45, '5'],
        [60, '10'],
        [75.001, '20'],
        [90, '35'],
      ]),
      count([
        [45, '2'],
        [60, '2'],
        [75.001, '2'],
        [90, '2'],
      ]),
    ];
    const g = gridsFromObserved(r, 60, 15, 3);
    expect(g).toHaveLength(1);
    expect(g[0]?.labels).toEqual(target);
    expect([...(g[0]?.values ?? [])]).toEqual([10, 20, 35]);
  });

  it('a series that vanishes inside a live target is not a counter reset: no events are invented', () => {
    // Two series (100 and 5 events so far) then the second vanishes: the sum falls from 110 to 106, which
    // the reset rule would count as 106 new events.
    const r: MatrixResult = [
      sum([
        [60, '105'],
        [75, '110'],
        [90, '106'],
        [105, '108'],
      ]),
      count([
        [60, '2'],
        [75, '2'],
        [90, '1'],
        [105, '1'],
      ]),
    ];
    const g = gridsFromObserved(r, 60, 15, 4);
    expect(g).toHaveLength(2);
    const none = [null, null, null, null];
    // The target was scraped at every tick (up == 1), as Prometheus reports.
    for (const x of g) x.up = Float64Array.from([1, 1, 1, 1]);
    // The tick ending at 90 (anchor 75): the old sum ends, the new one starts; nothing counted, nothing made up.
    const at90 = observeCohort(g, none, true, 1, 2, 3);
    expect(at90.value).toBe(0);
    expect(at90.born).toBe(1);
    // The next tick counts the surviving series' increments again.
    const at105 = observeCohort(g, none, true, 2, 3, 3);
    expect(at105.value).toBe(2);
    expect(at105.live).toBe(1);
    // Without the split, the fall would count as a reset: this is what the count guards against.
    const merged = [
      { labels: target, values: Float64Array.from([105, 110, 106, 108]), up: Float64Array.from([1, 1, 1, 1]) },
    ];
    expect(observeCohort(merged, none, true, 1, 2, 3).value).toBe(106);
  });
});
