// `watch: always` signals in the live service: each judged every tick against its own history (the same
// AlwaysWatch as the backtest), and every new regression episode attributed to the recent changes of all
// services and paged. The history is read from the source when the watch starts (and again after a
// restart: the source keeps it, so nothing but the detector's last few ticks is lost).
import { parseDuration } from '../config/duration.js';
import type { Config, SignalConfig } from '../config/schema.js';
import type { MetricSource } from '../sources/types.js';
import { newAlwaysWatch, stepAlways, type AlwaysIncident, type AlwaysWatch } from './always-watch.js';
import { HISTORY_SECONDS } from './history.js';
import { selectorsOf, totalHistory, totalTick } from './inputs.js';

export class AlwaysWatches {
  private readonly watches: { w: AlwaysWatch | null; service: string; name: string; sig: SignalConfig }[] = [];

  constructor(
    private readonly o: {
      config: Config;
      source: MetricSource;
      step: number;
      absentAfter: number;
      onIncident: (inc: AlwaysIncident) => void;
    },
  ) {
    for (const [service, sc] of Object.entries(o.config.services)) {
      for (const [name, sig] of Object.entries(sc.signals))
        if (sig.watch === 'always') this.watches.push({ w: null, service, name, sig });
    }
  }

  get count(): number {
    return this.watches.length;
  }

  async tick(t: number): Promise<void> {
    const { step, absentAfter, config, source } = this.o;
    for (const a of this.watches) {
      if (!a.w) {
        const from = t - Math.floor(HISTORY_SECONDS / step) * step;
        const history = await totalHistory(source, selectorsOf(a.sig).num, from, t - step, step, absentAfter);
        a.w = newAlwaysWatch({
          service: a.service,
          signal: a.name,
          direction: a.sig.bad,
          step,
          start: from,
          history,
          meanTicksBetweenFalsePages: parseDuration(config.evaluation.alwaysMeanTimeBetweenFalsePages) / step,
          minEffect: a.sig.minEffect ?? config.evaluation.minEffect,
        });
      }
      const input = await totalTick(source, a.sig, t, step, absentAfter);
      const x = input.mode === 'history' ? input.total.num.value : NaN;
      const inc = stepAlways(a.w, t, x);
      if (inc) this.o.onIncident(inc);
    }
  }
}
