// The always-on watch on simulated series with the phenomena real ones show (bursty counts, a daily and
// weekly cycle, surges, warm-up, an outage while another episode is open). Seeded; small.
import { describe, expect, it } from 'vitest';
import { gamma, mulberry32, poisson } from '../../test/support/random.js';
import { alwaysStatus, newAlwaysWatch, stepAlways, type AlwaysIncident } from './always-watch.js';

const STEP = 300;
const DAY = 86400 / STEP;
const T0 = 1_700_000_000 - (1_700_000_000 % 86400);

/** Per-tick mean: a daily cycle (quiet nights) and quieter weekends. */
function mean(i: number, base: number): number {
  const day = Math.floor(i / DAY);
  const phase = (2 * Math.PI * (i % DAY)) / DAY;
  return base * (1 + 0.7 * Math.sin(phase - Math.PI / 2)) * (day % 7 >= 5 ? 0.7 : 1) + 1;
}

function run(o: {
  seed: number;
  days: number;
  base: number;
  burst: number;
  factor?: (i: number) => number;
  holidays?: { from: number; to: number }[];
}) {
  const rng = mulberry32(o.seed);
  const w = newAlwaysWatch({
    service: 's',
    signal: 'orders',
    direction: 'drop',
    step: STEP,
    start: T0,
    meanTicksBetweenFalsePages: (90 * 86400) / STEP,
    minEffect: 0.05,
    ...(o.holidays ? { holidays: o.holidays } : {}),
  });
  const pages: { i: number; inc: AlwaysIncident }[] = [];
  const statusAt: string[] = [];
  for (let i = 0; i < o.days * DAY; i++) {
    const mu = mean(i, o.base) * (gamma(rng, o.burst) / o.burst) * (o.factor ? o.factor(i) : 1);
    const inc = stepAlways(w, T0 + i * STEP, poisson(rng, mu));
    if (inc) pages.push({ i, inc });
    statusAt.push(alwaysStatus(w).state);
  }
  return { w, pages, statusAt };
}

describe('always-on watch', () => {
  it('says it is warming up for its first week, and still pages a collapse to zero within 3 ticks then', () => {
    const onset = 2 * DAY + Math.round(DAY / 2);
    const r = run({ seed: 1, days: 3, base: 30, burst: 4, factor: (i) => (i >= onset && i < onset + 24 ? 0 : 1) });
    expect(r.statusAt[DAY]).toBe('warming-up');
    expect(alwaysStatus(r.w).reason).toMatch(/only a collapse/);
    expect(r.pages).toHaveLength(1);
    expect(r.pages[0]!.i - onset).toBeLessThanOrEqual(2);
    expect(r.pages[0]!.inc.evidence.test).toBe('always-collapse');
    expect(r.pages[0]!.inc.evidence.interval).toMatch(/Garwood/);
  });

  it('stays quiet on two weeks of a bursty series, then is armed', () => {
    const r = run({ seed: 2, days: 14, base: 40, burst: 3 });
    expect(r.pages).toEqual([]);
    expect(r.statusAt[r.statusAt.length - 1]).toBe('armed');
  });

  it('does not page the day after a surge (the surge stays out of the forecast)', () => {
    const surge = 9 * DAY + Math.round(DAY * 0.4);
    const r = run({ seed: 3, days: 11, base: 40, burst: 6, factor: (i) => (i >= surge && i < surge + 48 ? 4 : 1) });
    expect(r.pages).toEqual([]);
  });

  it('pages a 50% drop within the hour, and a collapse during that open episode within 3 ticks', () => {
    const drop = 22 * DAY + Math.round(DAY * 0.45);
    const collapse = drop + 30;
    const r = run({
      seed: 4,
      days: 23,
      base: 200,
      burst: 100,
      factor: (i) => (i >= collapse && i < collapse + 24 ? 0 : i >= drop && i < drop + 60 ? 0.5 : 1),
    });
    const after = r.pages.filter((p) => p.i >= drop);
    expect(r.pages.filter((p) => p.i < drop)).toEqual([]);
    expect(after.length).toBe(2);
    expect(after[0]!.i - drop).toBeLessThan(3600 / STEP);
    expect(after[0]!.inc.evidence.test).toBe('always-against-forecast');
    expect(after[1]!.i - collapse).toBeLessThanOrEqual(2);
    expect(after[1]!.inc.evidence.test).toBe('always-collapse');
  });
});

describe('always-on watch: partial drops on bursty series, and one page per anomalous period', () => {
  it('pages a 50% drop lasting an hour within it on a bursty series (gamma shape 20 per tick)', () => {
    const drop = 21 * DAY + 130;
    const r = run({ seed: 21, days: 22, base: 200, burst: 20, factor: (i) => (i >= drop && i < drop + 12 ? 0.5 : 1) });
    expect(r.pages.filter((p) => p.i < drop)).toEqual([]);
    const hit = r.pages.find((p) => p.i >= drop);
    expect(hit).toBeDefined();
    expect(hit!.i - drop).toBeLessThan(12);
    const ev = hit!.inc.evidence;
    expect(ev.test).toBe('always-against-forecast');
    // The evidence shows the forecast, its normal band and the history it came from, and a named interval
    // for the effect that holds the true one (-50%).
    const f = ev.forecast!;
    expect(f.band!.low).toBeLessThan(f.expected);
    expect(f.band!.high).toBeGreaterThan(f.expected);
    expect(f.lags).toEqual(['7d', '14d', '21d']);
    expect(Date.parse(f.measuredOn!.to) - Date.parse(f.measuredOn!.from)).toBeGreaterThan(7 * 86400 * 1000);
    expect(ev.interval).toMatch(/level-error law/);
    expect(ev.effect.low).toBeLessThan(-0.5);
    expect(ev.effect.high).toBeGreaterThan(-0.5);
    expect(ev.sentence).toMatch(/normal range \d+ to \d+, 95%/);
  });

  it('pages a holiday once: its weaker evening dip after a morning episode is the same period', () => {
    const day = 21 * DAY;
    const morning = (i: number) => i >= day + 84 && i < day + 120; // 07:00-10:00 at half
    const evening = (i: number) => i >= day + 204 && i < day + 240; // 17:00-20:00 at 60%
    const r = run({
      seed: 22,
      days: 23,
      base: 200,
      burst: 50,
      factor: (i) => (morning(i) ? 0.5 : evening(i) ? 0.6 : 1),
    });
    expect(r.pages.filter((p) => p.i < day + 84)).toEqual([]);
    const pages = r.pages.filter((p) => p.i >= day + 84);
    expect(pages).toHaveLength(1);
    expect(pages[0]!.i).toBeLessThan(day + 120);
    // the evening was seen (an episode was open then) and kept out of the history
    expect(Number.isNaN(r.w.truth[day + 220] as number)).toBe(true);
  });
});

describe('always-on watch: a holiday period over two days', () => {
  const morning = (day: number) => (i: number) => i >= day * DAY + 84 && i < day * DAY + 120; // 07:00-10:00
  it('pages its first morning once: the next, a little deeper, is the same period; a far deeper one pages', () => {
    const holiday = (second: number) =>
      run({
        seed: 24,
        days: 23,
        base: 200,
        burst: 50,
        factor: (i) => (morning(21)(i) ? 0.55 : morning(22)(i) ? second : 1),
      });
    const same = holiday(0.5);
    expect(same.pages.filter((p) => p.i < 21 * DAY + 84)).toEqual([]);
    const paged = same.pages.filter((p) => p.i >= 21 * DAY + 84);
    expect(paged).toHaveLength(1);
    expect(paged[0]!.i).toBeLessThan(21 * DAY + 120);
    // the second morning was seen (an episode was open) and kept out of the history
    expect(Number.isNaN(same.w.truth[22 * DAY + 110] as number)).toBe(true);
    const deeper = holiday(0.2).pages.filter((p) => p.i >= 21 * DAY + 84);
    expect(deeper).toHaveLength(2);
    expect(deeper[1]!.i).toBeGreaterThanOrEqual(22 * DAY + 84);
    expect(deeper[1]!.inc.evidence.test).toBe('always-against-forecast');
  });
});

describe('always-on watch: a declared holiday', () => {
  it('opens its episode without a page on a declared holiday at half, and still pages a collapse there', () => {
    const day = 21 * DAY;
    const holidays = [{ from: T0 + day * STEP, to: T0 + (day + DAY) * STEP }];
    const half = (i: number) => (i >= day && i < day + DAY ? 0.5 : 1);
    const undeclared = run({ seed: 25, days: 23, base: 200, burst: 50, factor: half });
    expect(undeclared.pages.filter((p) => p.i >= day && p.i < day + DAY)).toHaveLength(1);
    const declared = run({ seed: 25, days: 23, base: 200, burst: 50, factor: half, holidays });
    expect(declared.pages).toEqual([]);
    // the holiday was seen (an episode was open) and its low ticks kept out of the history
    expect(Number.isNaN(declared.w.truth[day + 150] as number)).toBe(true);
    const outage = day + 150;
    const collapse = run({
      seed: 25,
      days: 23,
      base: 200,
      burst: 50,
      factor: (i) => (i >= outage && i < outage + 24 ? 0 : half(i)),
      holidays,
    });
    expect(collapse.pages).toHaveLength(1);
    expect(collapse.pages[0]!.i - outage).toBeLessThanOrEqual(2);
    expect(collapse.pages[0]!.inc.evidence.test).toBe('always-collapse');
  });
});

describe('always-on watch: an observation spanning a gap', () => {
  it('judges a counter jump across a gap against the forecast summed over the ticks it spans', () => {
    const make = () =>
      newAlwaysWatch({
        service: 's',
        signal: 'orders',
        direction: 'drop',
        step: STEP,
        start: T0,
        meanTicksBetweenFalsePages: (90 * 86400) / STEP,
        minEffect: 0.05,
      });
    const rng = mulberry32(7);
    const steady = Array.from({ length: DAY + 100 }, (_, i) => poisson(rng, mean(i, 100)));
    const feed = (w: ReturnType<typeof make>, upto: number) => {
      for (let i = 0; i < upto; i++) expect(stepAlways(w, T0 + i * STEP, steady[i]!)).toBeNull();
    };
    // The normal total of three ticks, arriving at once after two unknown ticks: no page.
    const a = make();
    feed(a, DAY + 50);
    const i = DAY + 52;
    expect(stepAlways(a, T0 + (i - 2) * STEP, NaN)).toBeNull();
    expect(stepAlways(a, T0 + (i - 1) * STEP, NaN)).toBeNull();
    const total = steady[i - 2]! + steady[i - 1]! + steady[i]!;
    expect(stepAlways(a, T0 + i * STEP, total, 3)).toBeNull();
    expect(a.history.slice(i - 2, i + 1)).toEqual([total / 3, total / 3, total / 3]);
    // Zero across the same gap: a collapse over three ticks, paged at once.
    const b = make();
    feed(b, DAY + 50);
    stepAlways(b, T0 + (i - 2) * STEP, NaN);
    stepAlways(b, T0 + (i - 1) * STEP, NaN);
    const inc = stepAlways(b, T0 + i * STEP, 0, 3);
    expect(inc?.evidence.test).toBe('always-collapse');
    expect(inc?.onset).toBe(T0 + (i - 2) * STEP);
    expect(inc!.evidence.counts.expected).toBeGreaterThan(2 * mean(i, 100));
  });
});
