// A token bucket per caller: how fast a pipeline token may write (register, stages, end, integration
// hooks). Every write appends to the audit log, so without a bound one leaked or looping pipeline token
// grows the log by thousands of entries a second. People (approver, admin) are not limited: their writes
// are few and each is a decision someone must be able to make during an incident.
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  /** Takes one token for `who`; the seconds to wait when there is none (0 when allowed). */
  take(who: string): number {
    const t = this.now();
    const b = this.buckets.get(who) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + (t - b.at) * this.perSecond);
    b.at = t;
    this.buckets.set(who, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.perSecond;
  }
}
