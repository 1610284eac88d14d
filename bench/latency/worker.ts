// One worker of bench/latency: judges a range of seeds of one job (good canaries of a condition, or the
// runs of one delay cell) and returns what it saw.
import { parentPort } from 'node:worker_threads';
import { runLatencyCanary, type LatencyCell } from '../lib/latency-sim.js';
import { CONDITIONS, goodCell, WATCH_TICKS } from './conditions.js';

export type Job =
  | { kind: 'alarms'; condition: number; history: boolean; from: number; to: number }
  | { kind: 'delay'; cell: LatencyCell; seeds: number[]; maxTicks: number };

export type JobResult =
  | { kind: 'alarms'; condition: number; history: boolean; runs: number; alarms: number }
  | { kind: 'delay'; ticks: (number | null)[] };

export function runJob(job: Job): JobResult {
  if (job.kind === 'delay')
    return { kind: 'delay', ticks: job.seeds.map((seed) => runLatencyCanary(seed, job.cell, job.maxTicks).tick) };
  const c = CONDITIONS[job.condition];
  if (!c) throw new Error(`no condition ${job.condition}`);
  let alarms = 0;
  for (let seed = job.from; seed < job.to; seed++)
    if (runLatencyCanary(seed, goodCell(c, seed, job.history), WATCH_TICKS).tick !== null) alarms++;
  return { kind: 'alarms', condition: job.condition, history: job.history, runs: job.to - job.from, alarms };
}

parentPort?.on('message', (job: Job) => parentPort?.postMessage(runJob(job)));
