import { describe, expect, it } from 'vitest';
import { mulberry32, overdispersed } from '../../test/support/random.js';
import { fitModel, forecastAt, forecastSettings, measureForecastError } from './forecast.js';
import { newForecastTest, summarizeForecastTest, updateForecastTest } from './forecast-test.js';

const STEP = 60;
const DAY = 86400 / STEP;

/** Eight days of a daily cycle with day-to-day level changes, over-dispersed counts. */
function series(seed: number, days = 8): number[] {
  const rng = mulberry32(seed);
  const out: number[] = [];
  for (let d = 0; d < days; d++) {
    const level = 1 + 0.05 * (rng() - 0.5);
    for (let i = 0; i < DAY; i++) {
      const mean = 600 * level * (1 + 0.6 * Math.sin((2 * Math.PI * i) / DAY));
      out.push(overdispersed(rng, mean, 1.3));
    }
  }
  return out;
}

describe('seasonal forecast', () => {
  it('forecasts the next hours within a few percent after level scaling', () => {
    const h = series(1);
    const s = forecastSettings(STEP);
    const i0 = 7 * DAY + 600;
    const past = h.slice(0, i0);
    const m = fitModel(past, i0 - s.levelTicks, i0, s);
    expect(m.lags.length).toBeGreaterThanOrEqual(2);
    let sx = 0;
    let sf = 0;
    for (let i = i0; i < i0 + 30; i++) {
      sx += h[i] as number;
      sf += forecastAt(past, i, m, s);
    }
    expect(Math.abs(sx / sf - 1)).toBeLessThan(0.05);
  });

  it('measures its own error on history: a margin of a few percent and a per-tick dispersion', () => {
    const h = series(2);
    const err = measureForecastError(h, h.length, 30, forecastSettings(STEP), 60, 200, 1);
    expect(err.origins).toBeGreaterThan(50);
    expect(err.dropMargin).toBeGreaterThan(0);
    expect(err.dropMargin).toBeLessThan(0.1);
    expect(err.d0).toBeGreaterThanOrEqual(1);
  });

  it('falls back to a flat level with less than a day of history', () => {
    const h = series(3, 1).slice(0, 300);
    const s = forecastSettings(STEP);
    const m = fitModel(h, 300 - s.levelTicks, 300, s);
    expect(m.lags).toEqual([]);
    expect(forecastAt(h, 310, m, s)).toBeCloseTo(m.flat, 6);
  });
});

describe('forecast test', () => {
  it('fails a 99% collapse at the first tick and not a normal day', () => {
    const bad = newForecastTest('drop', 0.05, 1.3, 0.001);
    updateForecastTest(bad, 12, 1200);
    expect(summarizeForecastTest(bad).logE).toBeGreaterThan(Math.log(1000));
    const good = newForecastTest('drop', 0.05, 1.3, 0.001);
    const rng = mulberry32(5);
    for (let t = 0; t < 30; t++) updateForecastTest(good, overdispersed(rng, 1200 * 0.98, 1.3), 1200);
    expect(summarizeForecastTest(good).logE).toBeLessThan(Math.log(1000));
  });
});
