import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveLoop } from './live.js';

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-11-27T10:00:01Z'));
});
afterEach(() => {
  vi.useRealTimers();
});

const wall = () => Date.now() / 1000;
const T0 = Date.parse('2025-11-27T10:00:00Z') / 1000;

describe('LiveLoop', () => {
  it('ticks on the step grid, each judged settle seconds after it ended', async () => {
    const ticks: number[] = [];
    const judgedAt: number[] = [];
    const loop = new LiveLoop({
      step: 15,
      settle: 2,
      now: wall,
      tick: async (t) => {
        ticks.push(t - T0);
        judgedAt.push(wall() - T0);
      },
    });
    expect(loop.nextTick(T0 + 1)).toBe(T0); // 10:00:00 is judged at 10:00:02, still ahead
    expect(loop.nextTick(T0 + 2)).toBe(T0 + 15);
    loop.start();
    await vi.advanceTimersByTimeAsync(46_000);
    expect(ticks).toEqual([0, 15, 30, 45]);
    expect(judgedAt).toEqual([2, 17, 32, 47]);
    expect(loop.ticks).toBe(4);
    expect(loop.lastTick).toBe(T0 + 45);
    await loop.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ticks.length).toBe(4);
  });

  it('never overlaps: a tick due while the previous runs is skipped and counted', async () => {
    const ticks: number[] = [];
    const skipped: number[] = [];
    const loop = new LiveLoop({
      step: 15,
      settle: 2,
      now: wall,
      tick: async (t) => {
        ticks.push(t - T0);
        if (ticks.length === 1) await new Promise((r) => setTimeout(r, 20_000)); // a slow first tick
      },
      onSkip: (t) => skipped.push(t - T0),
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(33_000);
    expect(ticks).toEqual([0, 30]);
    expect(skipped).toEqual([15]);
    expect(loop.skipped).toBe(1);
    await loop.stop();
  });

  it('stop() waits for the running tick to finish', async () => {
    let finished = false;
    const loop = new LiveLoop({
      step: 15,
      settle: 2,
      now: wall,
      tick: async () => {
        await new Promise((r) => setTimeout(r, 5_000));
        finished = true;
      },
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(2_500); // the first tick is running
    const stopped = loop.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    await stopped;
    expect(finished).toBe(true);
    expect(loop.scheduled).toBe(false);
  });

  it('a failing tick is reported and the loop goes on', async () => {
    const errors: unknown[] = [];
    let n = 0;
    const loop = new LiveLoop({
      step: 15,
      settle: 2,
      now: wall,
      tick: async () => {
        if (n++ === 0) throw new Error('store full');
      },
      onError: (e) => errors.push(e),
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(errors).toHaveLength(1);
    expect(loop.ticks).toBe(1);
    await loop.stop();
  });
});
