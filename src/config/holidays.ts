// evaluation.holidays: days that are not normal days for an always-watched signal. A date is the UTC day;
// an interval (ISO 8601 start/end) says where the day begins and ends in another time zone.

export interface Holiday {
  /** epoch seconds, [from, to) */
  from: number;
  to: number;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** One entry: 'YYYY-MM-DD' (the UTC day) or 'start/end' (ISO 8601 times with a zone). */
export function parseHoliday(text: string): Holiday {
  const d = DATE.exec(text.trim());
  if (d) {
    const from = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3])) / 1000;
    // Date.UTC rolls 2025-02-30 over into March: a date that does not exist is an error, not another day.
    if (new Date(from * 1000).toISOString().slice(0, 10) !== text.trim())
      throw new Error(`"${text}" is not a calendar date`);
    return { from, to: from + 86400 };
  }
  const parts = text.split('/');
  if (parts.length === 2) {
    const [a, b] = parts.map((p) => p.trim()) as [string, string];
    const zoned = (p: string) => /T.*(Z|[+-]\d{2}:?\d{2})$/.test(p);
    const from = Date.parse(a) / 1000;
    const to = Date.parse(b) / 1000;
    if (zoned(a) && zoned(b) && Number.isFinite(from) && Number.isFinite(to)) {
      if (!(to > from)) throw new Error(`"${text}": the interval ends before it starts`);
      if (to - from > 7 * 86400) throw new Error(`"${text}": an interval of at most 7 days`);
      return { from, to };
    }
  }
  throw new Error(
    `"${text}" is neither a date (YYYY-MM-DD, the UTC day) nor an interval (ISO 8601 start/end with a time zone, e.g. 2025-12-25T05:00:00Z/2025-12-26T05:00:00Z)`,
  );
}

/** All of them, sorted (a configuration built in code without the default has none). */
export function parseHolidays(list: readonly string[] | undefined): Holiday[] {
  return (list ?? []).map(parseHoliday).sort((a, b) => a.from - b.from);
}
