// One tick's queries, deduplicated: every open watch of a service asks for the same selectors over the same
// few grid points, so the watch loop asks the source once per (selector, range) and tick, and each watch
// picks its cohorts from the shared answer; the Prometheus source then batches what remains across services
// (prometheus-batch.ts).
import { observeOf, type MetricSource, type Observed, type SeriesGrid, type SeriesSelector } from './types.js';

export class TickCache implements MetricSource {
  private readonly answers = new Map<string, Promise<SeriesGrid[]>>();
  private readonly observed = new Map<string, Promise<Observed>>();

  constructor(private readonly source: MetricSource) {}

  grid(sel: SeriesSelector, from: number, to: number, step: number): Promise<SeriesGrid[]> {
    const key = `${sel.metric}|${JSON.stringify(sel.matchers)}|${from}|${to}|${step}`;
    let p = this.answers.get(key);
    if (!p) {
      p = this.source.grid(sel, from, to, step);
      this.answers.set(key, p);
    }
    return p;
  }

  observe(sel: SeriesSelector, from: number, to: number, step: number): Promise<Observed> {
    const key = `${sel.metric}|${JSON.stringify(sel.matchers)}|${sel.by?.join(',') ?? ''}|${from}|${to}|${step}`;
    let p = this.observed.get(key);
    if (!p) {
      p = observeOf(this.source, sel, from, to, step);
      this.observed.set(key, p);
    }
    return p;
  }
}
