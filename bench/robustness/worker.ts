// One worker of bench/robustness: judges a range of seeds of one condition, returns the alarm counts.
import { parentPort } from 'node:worker_threads';
import { judgeCanary } from '../lib/navigator-canary.js';
import { simulateProduction } from '../lib/production.js';
import { CONDITIONS, runSpec } from './conditions.js';
import { runDelay, runErrors, type DelayTask, type ErrorTask } from './delays.js';

export interface Task {
  condition: number;
  /** the ways each simulated run is judged (one simulation, judged with and without traffic / history) */
  combos: { traffic: boolean; history: boolean }[];
  from: number;
  to: number;
}
export interface TaskResult {
  condition: number;
  traffic: boolean;
  history: boolean;
  orders: number;
  errors: number;
  any: number;
  traffic_tests: number;
  runs: number;
}

export function runTask(task: Task): TaskResult[] {
  const c = CONDITIONS[task.condition];
  if (!c) throw new Error(`no condition ${task.condition}`);
  const out = task.combos.map((k) => ({
    condition: task.condition,
    ...k,
    orders: 0,
    errors: 0,
    any: 0,
    traffic_tests: 0,
    runs: task.to - task.from,
  }));
  for (let seed = task.from; seed < task.to; seed++) {
    const run = simulateProduction(runSpec(c, seed));
    for (const r of out) {
      const o = judgeCanary(run, { traffic: r.traffic, history: r.history });
      if (o.orders !== null) r.orders++;
      if (o.errors !== null) r.errors++;
      if (o.orders !== null || o.errors !== null) r.any++;
      if (o.ordersTest === 'traffic' || o.errorsTest === 'traffic') r.traffic_tests++;
    }
  }
  return out;
}

export type Job =
  { kind: 'alarms'; task: Task } | { kind: 'delay'; task: DelayTask } | { kind: 'errors'; task: ErrorTask };

export function runJob(job: Job): unknown {
  if (job.kind === 'alarms') return runTask(job.task);
  if (job.kind === 'delay') return runDelay(job.task);
  return runErrors(job.task);
}

parentPort?.on('message', (job: Job) => parentPort?.postMessage(runJob(job)));
