// Runs jobs on `workers` worker threads, each loading the TypeScript module `workerUrl` (which answers one
// message per job), and returns the results in job order, printing progress on stderr every `every` jobs.
import { Worker } from 'node:worker_threads';

export async function workerPool<J, R>(workerUrl: URL, jobs: J[], workers: number, every = 20): Promise<R[]> {
  const results: R[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(workers, jobs.length) }, async () => {
      // a worker cannot load TypeScript by itself: register tsx in it first, then import the worker module
      const w = new Worker(
        `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })`,
        { eval: true },
      );
      try {
        while (next < jobs.length) {
          const i = next++;
          results[i] = await new Promise<R>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.postMessage(jobs[i]);
          });
          w.removeAllListeners('error');
          done++;
          if (done % every === 0 || done === jobs.length)
            process.stderr.write(`\r${done}/${jobs.length} jobs, ${((Date.now() - started) / 1000).toFixed(0)} s`);
        }
      } finally {
        await w.terminate();
      }
    }),
  );
  process.stderr.write('\n');
  return results;
}
