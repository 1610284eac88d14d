// bench/lib and bench/anchors: the simulator gives the rates and dispersion asked for, Mann-Whitney matches
// hand-computed, R's and Kayenta's values, and the reference judges act exactly when their tools would.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runGrid } from '../bench/anchors/grid.js';
import { quantile, summarize } from '../bench/anchors/report.js';
import {
  argoJudge,
  flaggerJudge,
  kayentaClassify,
  kayentaJudge,
  referenceJudges,
  type BenchJudge,
} from '../bench/lib/judges.js';
import { kthDiff, mannWhitney, normalQuantile, wilcoxonDiff } from '../bench/lib/mannwhitney.js';
import { binomial, gamma, mulberry32, poisson } from '../bench/lib/random.js';
import { delayBoundSeconds, informationRate, simulate, type Recording } from '../bench/lib/simulate.js';

const meanVar = (xs: readonly number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: m, variance: xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1) };
};

describe('samplers', () => {
  it('Poisson (inversion and PTRS), gamma and binomial have their means and variances', async () => {
    const rng = mulberry32(7);
    for (const mean of [0.3, 3, 9.5, 40, 2000]) {
      const s = meanVar(Array.from({ length: 40_000 }, () => poisson(rng, mean)));
      expect(s.mean / mean).toBeCloseTo(1, 1);
      expect(s.variance / mean).toBeGreaterThan(0.95);
      expect(s.variance / mean).toBeLessThan(1.05);
    }
    const g = meanVar(Array.from({ length: 40_000 }, () => gamma(rng, 20)));
    expect(g.mean).toBeCloseTo(20, 0);
    expect(g.variance / 20).toBeCloseTo(1, 1);
    for (const [n, p] of [
      [30, 0.1],
      [5000, 0.3],
      [5000, 0.98],
    ] as const) {
      const b = meanVar(Array.from({ length: 20_000 }, () => binomial(rng, n, p)));
      expect(b.mean / (n * p)).toBeCloseTo(1, 2);
      expect(b.variance / (n * p * (1 - p))).toBeGreaterThan(0.93);
      expect(b.variance / (n * p * (1 - p))).toBeLessThan(1.07);
    }
  });
});

describe('simulate', () => {
  it('gives each arm its share of lambda with variance D times the mean', async () => {
    for (const [lambda, weight, D] of [
      [50, 0.1, 1.6],
      [0.5, 0.5, 2],
      [500, 0.05, 1],
    ] as const) {
      const r = simulate({ seed: 11, ticks: 6000, lambda, weight, drop: 0, dispersion: D });
      const mc = lambda * 15 * weight;
      const mb = lambda * 15 * (1 - weight);
      for (const [xs, mu] of [
        [r.canaryOrders, mc],
        [r.baselineOrders, mb],
        [r.canaryRequests, mc],
        [r.baselineRequests, mb],
      ] as const) {
        const s = meanVar(xs);
        expect(Math.abs(s.mean / mu - 1)).toBeLessThan(0.03);
        expect(Math.abs(s.variance / mu / D - 1)).toBeLessThan(0.1);
      }
      expect(r.expectedCanaryOrders.every((e) => Math.abs(e - mc) < 1e-9)).toBe(true);
    }
  });

  it('applies the drop from the onset, the error ratios, bursts shared by both arms, and is reproducible', async () => {
    const spec = { seed: 5, ticks: 4000, lambda: 50, weight: 0.2, drop: 0.2, onset: 2000, errorRatio: 0.01 };
    const r = simulate(spec);
    const before = meanVar(r.canaryOrders.slice(0, 2000)).mean;
    const after = meanVar(r.canaryOrders.slice(2000)).mean;
    expect(before / 150).toBeCloseTo(1, 1);
    expect(after / 120).toBeCloseTo(1, 1);
    const ratio = (e: number[], n: number[], a: number, b: number) =>
      e.slice(a, b).reduce((x, y) => x + y, 0) / n.slice(a, b).reduce((x, y) => x + y, 0);
    expect(ratio(r.canaryErrors, r.canaryRequests, 0, 2000)).toBeCloseTo(0.01, 2);
    expect(ratio(r.canaryErrors, r.canaryRequests, 2000, 4000)).toBeCloseTo(1 - 0.99 * 0.8, 2);
    expect(ratio(r.baselineErrors, r.baselineRequests, 0, 4000)).toBeCloseTo(0.01, 2);
    expect(simulate(spec)).toEqual(r);

    // Shared bursts, gamma shape 20: the total's variance is mu D + mu^2 / 20 and the arms move together.
    const b = simulate({ seed: 3, ticks: 6000, lambda: 50, weight: 0.5, drop: 0, dispersion: 1.5, burstShape: 20 });
    const mu = 375;
    expect(meanVar(b.baselineOrders).variance / (mu * 1.5 + (mu * mu) / 20)).toBeCloseTo(1, 0.5);
    const c = meanVar(b.canaryOrders);
    const cov = b.canaryOrders.reduce((a, x, i) => a + (x - c.mean) * ((b.baselineOrders[i] as number) - mu), 0) / 6000;
    expect(cov / ((mu * mu) / 20)).toBeGreaterThan(0.85);
  });

  it('computes the information floor of shared/reference/statistics.md', async () => {
    expect(informationRate(100, 0.99)).toBeCloseTo(94.4, 1);
    expect(delayBoundSeconds(100, 0.99)).toBeCloseTo(0.073, 3);
    expect(informationRate(1, 0.05)).toBeCloseTo(0.00127, 5);
    expect(delayBoundSeconds(1, 0.2) / 60).toBeCloseTo(5.4, 1);
    expect(delayBoundSeconds(1, 0)).toBe(Infinity);
  });
});

describe('Mann-Whitney U and the Hodges-Lehmann interval', () => {
  it('matches hand-computed values', async () => {
    // x all below y: U = 0; exact two-sided p = 2 / C(10, 5); differences -9 (once) .. -1 (once), median -5.
    const t = mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 0.95);
    expect(t.u).toBe(0);
    expect(t.exact).toBe(true);
    expect(t.p).toBeCloseTo(2 / 252, 10);
    expect(t.z).toBeCloseTo((0 - 12.5 + 0.5) / Math.sqrt((25 / 12) * 11), 10);
    expect(t.hodgesLehmann).toBe(-5);
    expect(t.estimate).toBe(-5);
    // 95%: C > 12.5 + 0.5 + 1.96 sd, sd = sqrt(25 * 11 / 12), so C >= 23 pairs above: the 3rd smallest
    // difference (-8); the upper end mirrors it (-2).
    expect([t.lower, t.upper]).toEqual([-8, -2]);
    const same = mannWhitney([1, 2, 3], [1, 2, 3]);
    expect(same.u).toBe(4.5);
    expect(same.p).toBeCloseTo(1, 6);
    expect(same.estimate).toBe(0);
    expect(normalQuantile(0.99)).toBeCloseTo(2.326348, 6);
  });

  it("matches Kayenta's own test and R's documented example", async () => {
    // kayenta-judge MannWhitneySuite: control 1..4, experiment 10..40, 95%: interval [6, 39], estimate 22.5.
    const k = mannWhitney([10, 20, 30, 40], [1, 2, 3, 4], 0.95);
    expect([k.lower, k.upper, k.estimate]).toEqual([6, 39, 22.5]);
    // R ?wilcox.test: W = 35, one-sided p 0.1272, so two-sided 0.2544 (exact, no ties).
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const r = mannWhitney(x, y, 0.95);
    expect(r.u).toBe(35);
    expect(r.p).toBeCloseTo(0.2544, 4);
  });

  it("finds the roots of R's statistic and the median of all differences (property)", async () => {
    const sample = fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 2, maxLength: 25 });
    fc.assert(
      fc.property(sample, sample, fc.constantFrom(0.9, 0.95, 0.98), (x, y, conf) => {
        fc.pre(new Set([...x, ...y]).size > 1);
        const t = mannWhitney(x, y, conf);
        const diffs = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
        const N = diffs.length;
        expect(t.hodgesLehmann).toBe(
          ((diffs[Math.floor((N - 1) / 2)] as number) + (diffs[Math.floor(N / 2)] as number)) / 2,
        );
        const xs = Float64Array.from(x).sort();
        const ys = Float64Array.from(y).sort();
        for (const k of [1, 2, Math.ceil(N / 2), N]) expect(kthDiff(xs, ys, k)).toBe(diffs[k - 1]);
        expect(t.lower).toBeLessThanOrEqual(t.estimate);
        expect(t.estimate).toBeLessThanOrEqual(t.upper);
        // A root of a non-increasing step function: not negative just left of it, not positive just right
        // (integer data: differences are whole, so 0.25 stays between neighbours), unless at an end.
        const zq = normalQuantile(1 - (1 - conf) / 2);
        for (const [mu, q] of [
          [t.lower, zq],
          [t.upper, -zq],
          [t.estimate, 0],
        ] as const) {
          const min = diffs[0] as number;
          const max = diffs[N - 1] as number;
          if (mu > min) expect(wilcoxonDiff(x, y, mu - 0.25, q)).toBeGreaterThanOrEqual(-1e-12);
          if (mu < max) expect(wilcoxonDiff(x, y, mu + 0.25, q)).toBeLessThanOrEqual(1e-12);
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

/**
 * Steady, noiseless traffic: per 15 s tick 40 orders and requests in a 10% canary, 360 in the baseline;
 * from `onset` the canary's orders are multiplied by `factor` and it returns `errors` errors per tick.
 */
function steady(
  ticks: number,
  o: { factor?: number; onset?: number; errors?: number; requests?: number } = {},
): Recording {
  const { factor = 1, onset = 0, errors = 0, requests = 40 } = o;
  const r = simulate({ seed: 1, ticks: 0, lambda: 1, weight: 0.1, drop: 1 - factor < 1 ? 1 - factor : 0 });
  for (let i = 0; i < ticks; i++) {
    const bad = i >= onset;
    r.weight.push(0.1);
    r.canaryOrders.push(bad ? Math.round(40 * factor) : 40);
    r.baselineOrders.push(360);
    r.canaryRequests.push(requests);
    r.baselineRequests.push(360);
    r.canaryErrors.push(bad ? errors : 0);
    r.baselineErrors.push(0);
    r.expectedCanaryOrders.push(40);
  }
  return { ...r, ticks, onset };
}
const seconds = (tick: number | null) => (tick === null ? null : (tick + 1) * 15);

describe('reference judges', () => {
  it('Flagger (threshold 5) fails checks at minutes 1..5 of a collapse and rolls back on the next tick', async () => {
    const f5 = flaggerJudge(5);
    expect(seconds(f5.decide(steady(240, { factor: 0.01 }), 'orders').tick)).toBe(6 * 60);
    expect(seconds(flaggerJudge(10).decide(steady(240, { factor: 0.01 }), 'orders').tick)).toBe(11 * 60);
    // Four failed checks then a recovery: never rolled back.
    const four = steady(240);
    for (let i = 0; i < 16; i++) four.canaryOrders[i] = 0;
    expect(f5.decide(four, 'orders').tick).toBeNull();
    // Failed checks never reset: five bad minutes spread over the first 50 still roll back, after the 5th.
    const spread = steady(240);
    for (const m of [0, 10, 20, 30, 40]) for (let i = m * 4; i < m * 4 + 4; i++) spread.canaryOrders[i] = 0;
    expect(seconds(f5.decide(spread, 'orders').tick)).toBe(42 * 60);
    // No canary requests is "no values found": a failed check.
    expect(seconds(f5.decide(steady(240, { requests: 0 }), 'errors').tick)).toBe(6 * 60);
    // Errors: 1 in 40 (2.5%) breaks the 1% range; nothing on a good canary.
    expect(seconds(f5.decide(steady(240, { errors: 1 }), 'errors').tick)).toBe(6 * 60);
    expect(f5.decide(steady(240), 'errors').tick).toBeNull();
  });

  it('Argo Rollouts fails on the fourth failed measurement and aborts on the fifth consecutive error', async () => {
    const argo = argoJudge();
    // Measurements at 0 (no canary data yet: an error), 5, 10, 15, 20 minutes: the 4th failure at 20.
    expect(seconds(argo.decide(steady(480, { factor: 0.5 }), 'orders').tick)).toBe(20 * 60);
    expect(argo.decide(steady(480, { factor: 0.5 }), 'orders').error).toBeUndefined();
    // Three failed measurements, then good: failureLimit 3 is not exceeded.
    expect(argo.decide(steady(480, { factor: 0.5, onset: 480 - 60 }), 'orders').tick).toBeNull();
    const three = steady(480);
    for (let i = 0; i < 60; i++) three.canaryOrders[i] = 0;
    expect(argo.decide(three, 'orders').tick).toBeNull();
    // No canary traffic at all: empty results are errors; the fifth in a row (20 minutes) ends the run.
    const empty = argo.decide(steady(480, { requests: 0 }), 'errors');
    expect(seconds(empty.tick)).toBe(20 * 60);
    expect(empty.error).toBe(true);
    expect(argo.decide(steady(480), 'errors').tick).toBeNull();
  });

  it('Kayenta fails a collapse at the 60-minute judgement and not before', async () => {
    const kayenta = kayentaJudge();
    expect(seconds(kayenta.decide(steady(960, { factor: 0.01 }), 'orders').tick)).toBe(3600);
    expect(kayenta.decide(steady(239, { factor: 0.01 }), 'orders').tick).toBeNull();
    // A collapse that starts after the first judgement: at 120 minutes half the grown window is good, the
    // shift's interval reaches 0 and the metric passes; at 180 minutes two thirds are bad and it fails.
    expect(seconds(kayenta.decide(steady(960, { factor: 0.01, onset: 240 }), 'orders').tick)).toBe(10_800);
    expect(seconds(kayenta.decide(steady(960, { errors: 4 }), 'errors').tick)).toBe(3600);
    expect(kayenta.decide(steady(960), 'orders').tick).toBeNull();
    expect(kayenta.decide(steady(960), 'errors').tick).toBeNull();
  });

  it("classifies like Kayenta's MannWhitneyClassifier", async () => {
    const base = Array.from({ length: 60 }, (_, i) => 100 + (i % 7));
    expect(
      kayentaClassify(
        base.map((v) => v * 0.5),
        base,
        'decrease',
      ),
    ).toBe('Low');
    expect(
      kayentaClassify(
        base.map((v) => v * 0.5),
        base,
        'increase',
      ),
    ).toBe('Pass');
    expect(
      kayentaClassify(
        base.map((v) => v + 50),
        base,
        'increase',
      ),
    ).toBe('High');
    expect(kayentaClassify([...base].reverse(), base, 'decrease')).toBe('Pass');
    expect(kayentaClassify([], base, 'decrease')).toBe('Nodata');
    // A shift well inside the noise: the interval straddles the bounds.
    expect(
      kayentaClassify(
        base.map((v, i) => v + (i % 2 ? 3 : -3)),
        base,
        'decrease',
      ),
    ).toBe('Pass');
  });
});

describe('the anchors grid', () => {
  it('runs the references on the quick grid and compares them with a stand-in Navigator', async () => {
    // A stand-in that cheats (it reads the drop) and halts every regression at its first tick: it exercises
    // the ratios and targets, nothing more.
    const oracle: BenchJudge = {
      name: 'Oracle',
      settings: {},
      source: 'test',
      decide: (rec) => ({ tick: rec.drop > 0 ? 0 : null }),
    };
    const judges = [oracle, ...referenceJudges()];
    const run = runGrid(judges, { quick: true, seedsPerCell: 1, goodPerCell: 1 });
    const s = summarize(
      run,
      judges.map((j) => j.name),
      'Oracle',
      15,
    );
    const row = (j: string, d: number) =>
      s.rows.find((r) => r.judge === j && r.drop === d && r.signal === 'orders' && r.lambda === 'all');
    expect(row('Oracle', 0.99)?.medianDelaySeconds).toBe(15);
    expect(row('Flagger (threshold 5)', 0.99)?.medianDelaySeconds).toBe(360);
    expect(row('Flagger (threshold 5)', 0.99)?.medianOverNavigator).toBe(24);
    expect(row('Argo Rollouts', 0.99)?.medianDelaySeconds).toBe(1200);
    expect(row('Kayenta', 0.99)?.medianDelaySeconds).toBe(3600);
    expect(s.falseAlarms.find((f) => f.judge === 'Oracle')?.either).toBe(0);
    expect(s.falseAlarms[0]?.goodDeploys).toBe(24);
    expect(s.targets).toMatchObject({ tenTimesFasterAtCollapse: true, fasterAtEveryDrop: true, collapseSpeedup: 24 });
    expect(quantile([1, 2, Infinity], 0.5)).toBe(2);
    expect(quantile([1, Infinity, Infinity], 0.5)).toBeNull();
  });
});
