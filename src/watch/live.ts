// The live tick loop: one tick per evaluation interval, aligned to the wall clock, judging the tick that
// ended `settle` seconds ago (so the last scrape has landed). Ticks never overlap: a tick that is due
// while the previous still runs is skipped and counted (the next one catches up from the source).
// Timers are unref'd; stop() waits for the running tick, so a shutdown finishes it.

export interface LiveLoopOptions {
  step: number;
  settle: number;
  now: () => number;
  tick: (t: number) => Promise<void>;
  onSkip?: () => void;
  onError?: (err: unknown) => void;
}

export class LiveLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  ticks = 0;
  skipped = 0;
  lastTick: number | null = null;

  constructor(private readonly o: LiveLoopOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.o.now();
    const next = Math.floor(now / this.o.step) * this.o.step + this.o.step + this.o.settle;
    this.timer = setTimeout(() => this.fire(next - this.o.settle), Math.max(0, (next - now) * 1000));
    this.timer.unref();
  }

  private fire(t: number): void {
    this.schedule();
    if (this.running) {
      this.skipped++;
      this.o.onSkip?.();
      return;
    }
    this.running = this.runTick(t).finally(() => {
      this.running = null;
    });
  }

  /** Runs one tick now (tests, and the first tick at start). */
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
    if (this.running) await this.running;
  }
}
