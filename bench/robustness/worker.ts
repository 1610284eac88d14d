// One worker of bench/robustness: judges a range of seeds of one condition, returns the alarm counts.
import { parentPort } from 'node:worker_threads';
import { judgeCanary } from '../lib/navigator-canary.js';
import { simulateProduction } from '../lib/production.js';
import { CONDITIONS, runSpec } from './conditions.js';
import { runDelay, runErrors, type DelayTask, type ErrorTask } from './delays.js';

export interface Task {
  condition: number;
  traffic: boolean;
  history: boolean;
  from: number;
  to: number;
}
export interface TaskResult extends Task {
  orders: number;
  errors: number;
  any: number;
  traffic_tests: number;
  runs: number;
}

export function runTask(task: Task): TaskResult {
  const c = CONDITIONS[task.condition];
  if (!c) throw new Error(`no condition ${task.condition}`);
  let orders = 0;
  let errors = 0;
  let any = 0;
  let trafficTests = 0;
  for (let seed = task.from; seed < task.to; seed++) {
    const run = simulateProduction(runSpec(c, seed));
    const out = judgeCanary(run, { traffic: task.traffic, history: task.history });
    if (out.orders !== null) orders++;
    if (out.errors !== null) errors++;
    if (out.orders !== null || out.errors !== null) any++;
    if (out.ordersTest === 'traffic' || out.errorsTest === 'traffic') trafficTests++;
  }
  return { ...task, orders, errors, any, traffic_tests: trafficTests, runs: task.to - task.from };
}

export type Job =
  { kind: 'alarms'; task: Task } | { kind: 'delay'; task: DelayTask } | { kind: 'errors'; task: ErrorTask };

export function runJob(job: Job): unknown {
  if (job.kind === 'alarms') return runTask(job.task);
  if (job.kind === 'delay') return runDelay(job.task);
  return runErrors(job.task);
}

parentPort?.on('message', (job: Job) => parentPort?.postMessage(runJob(job)));
