// `watch: always` signals in the live service: each judged every tick against its own history (the same
// AlwaysWatch as the backtest), and every new regression episode attributed to the recent changes of all
// services and paged. At start (and after a restart) the history the forecast needs is read from the
// source and replayed through the detector, so its cleaned history, level and warm-up state are those of
// a watch that ran all along; the pages that replay would have sent are its calibration (how often this
// detector, on this signal's own history, pages).
import { parseDuration } from '../config/duration.js';
import type { Config, SignalConfig } from '../config/schema.js';
import type { MetricSource } from '../sources/types.js';
import {
  alwaysStatus,
  newAlwaysWatch,
  replayHistory,
  stepAlways,
  type AlwaysIncident,
  type AlwaysStatus,
  type AlwaysWatch,
} from './always-watch.js';
import { HistogramBoundError } from '../signals/histogram.js';
import { HISTORY_SECONDS } from './history.js';
import { selectorsOf, totalHistory, totalTick } from './inputs.js';
import { parseHolidays } from '../config/holidays.js';

/** A watch's status with the calibration replay on its own history. */
export interface AlwaysLiveStatus extends Omit<AlwaysStatus, 'state'> {
  /** `not-judged`: the signal cannot be judged as configured (a histogram without the slowerThan bound) */
  state: AlwaysStatus['state'] | 'not-judged';
  calibration: { replayedSeconds: number; pages: number; statement: string } | null;
}

export class AlwaysWatches {
  private readonly watches: {
    w: AlwaysWatch | null;
    service: string;
    name: string;
    sig: SignalConfig;
    calibration: AlwaysLiveStatus['calibration'];
    /** set once: why the signal is never judged (said in its status, and logged by onError) */
    error?: string;
  }[] = [];

  constructor(
    private readonly o: {
      config: Config;
      source: MetricSource;
      step: number;
      absentAfter: number;
      onIncident: (inc: AlwaysIncident) => void | Promise<void>;
      onStatus?: (s: AlwaysLiveStatus) => void;
      onError?: (service: string, signal: string, error: string) => void;
    },
  ) {
    for (const [service, sc] of Object.entries(o.config.services)) {
      for (const [name, sig] of Object.entries(sc.signals))
        if (sig.watch === 'always') this.watches.push({ w: null, service, name, sig, calibration: null });
    }
  }

  get count(): number {
    return this.watches.length;
  }

  statuses(): AlwaysLiveStatus[] {
    return this.watches.map((a) =>
      a.error
        ? { ...this.unread(a.service, a.name, a.error), state: 'not-judged' as const }
        : a.w
          ? { ...alwaysStatus(a.w), calibration: a.calibration }
          : this.unread(a.service, a.name, 'warming up: its history has not been read yet'),
    );
  }

  private unread(service: string, signal: string, reason: string): AlwaysLiveStatus {
    return {
      service,
      signal,
      state: 'warming-up',
      reason,
      historySeconds: 0,
      needSeconds: 0,
      origins: 0,
      margin: NaN,
      episode: null,
      calibration: null,
    };
  }

  /** A histogram without the slowerThan bound: the signal is never judged, and says why once. */
  private misconfigured(a: (typeof this.watches)[number], error: string): void {
    a.error = `signal ${a.name}: ${error}`;
    this.o.onError?.(a.service, a.name, a.error);
  }

  async tick(t: number): Promise<void> {
    const { step, absentAfter, config, source } = this.o;
    for (const a of this.watches) {
      if (a.error) continue;
      if (!a.w) {
        const from = t - Math.floor(HISTORY_SECONDS / step) * step;
        let history: Float64Array;
        try {
          history = await totalHistory(source, selectorsOf(a.sig).num, from, t - step, step, absentAfter);
        } catch (e) {
          if (!(e instanceof HistogramBoundError)) throw e;
          this.misconfigured(a, e.message);
          continue;
        }
        a.w = newAlwaysWatch({
          service: a.service,
          signal: a.name,
          direction: a.sig.bad,
          step,
          start: from,
          meanTicksBetweenFalsePages: parseDuration(config.evaluation.alwaysMeanTimeBetweenFalsePages) / step,
          minEffect: a.sig.minEffect ?? config.evaluation.minEffect,
          holidays: parseHolidays(config.evaluation.holidays),
        });
        const replayed = replayHistory(a.w, history);
        const seen = a.w.judgedTicks * step;
        const days = seen / 86400;
        a.calibration = {
          replayedSeconds: seen,
          pages: replayed.length,
          statement:
            days >= 1
              ? `replayed on ${days.toFixed(1)} days of its own history: ${replayed.length} pages` +
                (replayed.length === 0
                  ? `, so the page rate is below about 3 / ${days.toFixed(1)} days (95%) on this signal's history`
                  : ' (each a real drop, or a false page: check them)')
              : 'too little history to replay',
        };
      }
      const input = await totalTick(source, a.sig, t, step, absentAfter);
      if (input.error) {
        this.misconfigured(a, input.error);
        continue;
      }
      const x = input.mode === 'history' ? input.total.num.value : NaN;
      const inc = stepAlways(a.w, t, x);
      if (inc) await this.o.onIncident(inc);
      this.o.onStatus?.({ ...alwaysStatus(a.w), calibration: a.calibration });
    }
  }
}
