// The live tick loop: one tick per evaluation interval, aligned to the wall clock (ticks end at multiples
// of the step, as in the backtest), each judged `settle` seconds after it ended so the last scrape or the
// Prometheus rule evaluation has landed. The composition root picks settle: a quarter step up to 2 s for
// the embedded scraper, half a step up to 10 s for Prometheus (its scrape and ingestion lag).
// Ticks never overlap: a tick due while the previous one still runs is skipped and counted; the next one
// catches up, since the watcher judges every tick between a watch's last judged tick and now.
// Timers are unref'd; stop() waits for the running tick, so a shutdown finishes (and persists) it.

export interface LiveLoopOptions {
  /** seconds between ticks */
  step: number;
  /** seconds to wait after a tick's end before judging it */
  settle: number;
  /** the clock, epoch seconds */
  now: () => number;
  /** judges every open watch up to t (a tick's end) */
  tick: (t: number) => Promise<void>;
  onSkip?: (t: number) => void;
  onError?: (err: unknown) => void;
}

export class LiveLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  ticks = 0;
  skipped = 0;
  lastTick: number | null = null;

  constructor(private readonly o: LiveLoopOptions) {}

  get scheduled(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** The next tick end whose settle time is still ahead: at `now` = t + settle exactly, t is due now. */
  nextTick(now: number): number {
    const { step, settle } = this.o;
    const t = Math.ceil((now - settle) / step) * step;
    return t + settle > now ? t : t + step;
  }

  /** Arms the timer for the next tick, always after `after` (a timer may fire a hair early). */
  private schedule(after = -Infinity): void {
    if (this.stopped) return;
    const now = this.o.now();
    let t = this.nextTick(now);
    if (t <= after) t = after + this.o.step;
    this.timer = setTimeout(() => this.fire(t), Math.max(0, (t + this.o.settle - now) * 1000));
    this.timer.unref();
  }

  private fire(t: number): void {
    this.timer = null;
    this.schedule(t);
    if (this.running) {
      this.skipped++;
      this.o.onSkip?.(t);
      return;
    }
    this.running = this.runTick(t).finally(() => {
      this.running = null;
    });
  }

  /** Runs one tick now (tests, and catching up by hand). */
  async runTick(t: number): Promise<void> {
    try {
      await this.o.tick(t);
      this.ticks++;
      this.lastTick = t;
    } catch (err) {
      this.o.onError?.(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }
}
