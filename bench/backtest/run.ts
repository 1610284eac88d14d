// bench/backtest: wall time of `navigator backtest` (the built CLI, as users run it) on 8 days of 15 s data
// for one service, with an always-watched signal (judged every tick) and a canary deploy. Median of runs.
//   npm run build && npx tsx bench/backtest/run.ts [--runs 3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diurnal, generateOpenMetrics, iso, type SeriesSpec } from '../../test/support/recording.js';

const runsAt = process.argv.indexOf('--runs');
const runs = runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 3;
const DAY = 86400;
const from = Date.parse('2025-11-19T00:00:00Z') / 1000;
const to = from + 8 * DAY;
const deployAt = to - 6 * 3600;
const dir = mkdtempSync(join(tmpdir(), 'navigator-bench-'));
const orders = diurnal(20);
const series: SeriesSpec[] = ['v1', 'v2'].flatMap((v): SeriesSpec[] => {
  const share = v === 'v1' ? 0.9 : 0.1;
  const alive = v === 'v2' ? { startsAt: deployAt } : {};
  return [
    {
      metric: 'orders_total',
      labels: { service: 'checkout', version: v },
      rate: (t: number) => orders(t) * share,
      ...alive,
    },
    {
      metric: 'http_requests_total',
      labels: { service: 'checkout', version: v, code: '200' },
      rate: () => 300 * share,
      ...alive,
    },
    {
      metric: 'http_requests_total',
      labels: { service: 'checkout', version: v, code: '500' },
      rate: () => 1.5 * share,
      ...alive,
    },
  ];
});
writeFileSync(join(dir, 'data.om'), generateOpenMetrics({ from, to, step: 15, seed: 3, burstShape: 20, series }));
writeFileSync(
  join(dir, 'deploys.json'),
  JSON.stringify([
    {
      id: 'd-1',
      service: 'checkout',
      version: 'v2',
      baselineVersion: 'v1',
      strategy: 'canary',
      startedAt: iso(deployAt),
      stages: [{ at: iso(deployAt), weight: 0.1 }],
    },
  ]),
);
writeFileSync(
  join(dir, 'navigator.yaml'),
  `evaluation: { interval: 15s }
services:
  checkout:
    signals:
      orders: { kind: count, bad: drop, metric: orders_total, matchers: { service: checkout }, watch: always }
      errors:
        kind: ratio
        bad: rise
        numerator: { metric: http_requests_total, matchers: { service: checkout, code: "5.." } }
        denominator: { metric: http_requests_total, matchers: { service: checkout } }
`,
);
const mb = statSync(join(dir, 'data.om')).size / 1e6;
const times: number[] = [];
let verdict = '';
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [
      'bin/navigator.js',
      'backtest',
      '--config',
      join(dir, 'navigator.yaml'),
      '--data',
      join(dir, 'data.om'),
      '--deploys',
      join(dir, 'deploys.json'),
      '--json',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  if (r.status !== 0) throw new Error(r.stderr);
  verdict = (JSON.parse(r.stdout) as { deploys: { verdict: string }[] }).deploys[0]?.verdict ?? '';
}
times.sort((a, b) => a - b);
const result = {
  command: 'npx tsx bench/backtest/run.ts',
  days: 8,
  stepSeconds: 15,
  fileMB: +mb.toFixed(1),
  runs,
  medianSeconds: +(times[Math.floor(runs / 2)] as number).toFixed(2),
  times: times.map((t) => +t.toFixed(2)),
  verdict,
  target: 'under 10 s',
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/backtest.json', `${JSON.stringify(result, null, 2)}\n`);
console.log(
  `backtest of 8 days at 15 s (${mb.toFixed(1)} MB, 6 series, one always-on signal judged every tick, one canary): median ${result.medianSeconds} s over ${runs} runs (${result.times.join(', ')}); deploy verdict ${verdict}`,
);
