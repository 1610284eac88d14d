// Freeze windows: a cron expression (UTC) opens a window of `duration`; deploys registered inside one wait
// until an admin breaks the glass with a reason.
import { CronExpressionParser } from 'cron-parser';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';

export interface ActiveFreeze {
  reason: string;
  from: number;
  until: number;
}

/** The freeze window covering `now` (seconds) for `service`, if any. */
export function activeFreeze(freezes: Config['freezes'], service: string, now: number): ActiveFreeze | null {
  for (const f of freezes) {
    if (f.services && !f.services.includes(service)) continue;
    const length = parseDuration(f.duration);
    // The latest fire time at or before now: step back from just after now.
    const it = CronExpressionParser.parse(f.cron, { currentDate: new Date((now + 1) * 1000), tz: 'UTC' });
    const last = it.prev().getTime() / 1000;
    if (now >= last && now < last + length) return { reason: f.reason, from: last, until: last + length };
  }
  return null;
}
