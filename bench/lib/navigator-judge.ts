// PLACEHOLDER, to be replaced by the engineer wiring Navigator's production judge (src/watch/signal-judge.ts)
// into the benchmarks: `navigatorJudge()` must return a BenchJudge that feeds a Recording tick by tick to the
// same judge that runs live. Until then bench/anchors/run.ts runs only the references with
// `--without-navigator`.
import type { BenchJudge } from './judges.js';

export function navigatorJudge(): BenchJudge {
  throw new Error('navigatorJudge: not wired yet (bench/lib/navigator-judge.ts is a placeholder)');
}
