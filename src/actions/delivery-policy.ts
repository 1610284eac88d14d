// How a failed delivery is treated: pure functions, no I/O, no clock (the outbox passes both in).
//
// An answer is final only when the provider documents it as a payload that will never be accepted as sent
// (sending it again cannot help); everything else (401/403 while a token rotates, 404 while a route or
// integration is being recreated, 408/409/425, 429 rate limits, 5xx, timeouts, refused connections) is
// retried with capped exponential backoff and jitter, honouring Retry-After, for as long as the page matters.
// Even a final answer is not silent: the page also goes to the fallback route and a "cannot deliver" page
// to the undeliverable route (actions/effects.ts).

export type Verdict = 'delivered' | 'retry' | 'final';

/**
 * Per provider, the statuses its documentation gives as permanently bad payloads:
 * - PagerDuty Events v2 (and Change Events): 400 "Invalid event" (malformed JSON or fields);
 * - Alertmanager API v2 POST /api/v2/alerts: 400 (validation: labels, times);
 * - Opsgenie Alert API: 400 (invalid request), 422 (semantically invalid);
 * - Slack incoming webhooks: 400 (invalid_payload, no_text, ...), 410 (channel_is_archived);
 * - generic webhooks, hooks, Grafana: 400 and 422 (the receiver says the body is wrong).
 * 413 (payload too large) is final everywhere: the same body will never fit.
 */
const FINAL: Record<string, readonly number[]> = {
  pagerduty: [400],
  'pagerduty-change': [400],
  alertmanager: [400],
  opsgenie: [400, 422],
  slack: [400, 410],
};
const FINAL_DEFAULT = [400, 422];

export function classify(provider: string, status: number): Verdict {
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 413) return 'final';
  return (FINAL[provider] ?? FINAL_DEFAULT).includes(status) ? 'final' : 'retry';
}

/** Seconds a Retry-After header asks for (delta-seconds or an HTTP date), or 0. */
export function retryAfterSeconds(header: string | null, nowS: number): number {
  if (!header) return 0;
  const n = Number(header);
  if (Number.isFinite(n)) return Math.max(0, n);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at / 1000 - nowS) : 0;
}

export interface Backoff {
  /** seconds before the first retry */
  initial: number;
  /** cap on any delay, seconds */
  max: number;
  /** multiplies every delay (compressed time in tests; 1 in production) */
  scale: number;
}

/**
 * Delay before attempt `failures + 1` after `failures` failed ones: initial * 2^(failures-1), capped, with
 * "equal jitter" (half fixed, half random) so that receivers coming back are not hit by every sender at
 * once, and never sooner than the receiver's Retry-After.
 */
export function backoffSeconds(failures: number, b: Backoff, random: number, retryAfter = 0): number {
  const base = Math.min(b.max, b.initial * 2 ** Math.max(0, failures - 1));
  const jittered = base * (0.5 + 0.5 * Math.min(1, Math.max(0, random)));
  return Math.max(jittered, retryAfter) * b.scale;
}

/** An idempotency key usable as an HTTP header value: the outbox key when it is plain ASCII, else a hash. */
export function headerSafe(key: string, hash: (s: string) => string): string {
  return /^[\x21-\x7e]{1,200}$/.test(key) ? key : `sha256:${hash(key)}`;
}
