// A counting semaphore: at most `max` tasks run at once, the rest wait in arrival order. Used to bound the
// HTTP queries in flight to Prometheus (its own --query.max-concurrency queues the excess anyway, and a
// shared Prometheus serves dashboards and rules too).
export class Limit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`concurrency limit must be an integer >= 1, got ${max}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter: `active` is unchanged
      else this.active--;
    }
  }
}
