// The audit chain's head, exported where a rewrite of the store cannot reach it: a log line per signed
// checkpoint, the `navigator_audit_head_seq` gauge (Prometheus keeps its history), and optionally an
// append-only file (`audit.headFile`) of signed checkpoint lines, which `navigator audit verify` compares
// against the store. A store whose newest rows were deleted no longer reaches the exported head.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { Gauge, type Registry } from 'prom-client';
import { checkpointValid, type Checkpoint } from './checkpoint.js';
import type { HeadClaim } from './verifier.js';

export interface HeadLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What to do with each signed checkpoint once it committed. */
export function headExporter(o: { headFile?: string | undefined; log?: HeadLog }): (c: Checkpoint) => void {
  return (c) => {
    o.log?.info({ audit: { seq: c.seq, hash: c.hash, at: c.at, mac: c.mac } }, `audit checkpoint ${c.seq}`);
    if (!o.headFile) return;
    try {
      appendFileSync(o.headFile, `${JSON.stringify(c)}\n`, { flag: 'a' });
    } catch (err) {
      o.log?.error({ err, file: o.headFile }, 'cannot append the audit head file');
    }
  };
}

/** The gauge of the head this process appended (read at scrape time). */
export function headGauge(registry: Registry, head: () => Promise<{ seq: number } | null>): Gauge {
  return new Gauge({
    name: 'navigator_audit_head_seq',
    help: 'Sequence number of the newest audit entry this process appended; a store whose log ends earlier was truncated',
    registers: [registry],
    async collect() {
      this.set((await head())?.seq ?? 0);
    },
  });
}

/**
 * The newest signed line of a head file, as a claim the store must reach; lines not signed by the key are
 * an error (the file was edited). Null when the file does not exist or is empty.
 */
export function readHeadFile(file: string, key: Buffer | null): HeadClaim | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').split('\n');
  let best: HeadClaim | null = null;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let c: Checkpoint;
    try {
      c = JSON.parse(line) as Checkpoint;
    } catch {
      throw new HeadFileError(`${file}:${i + 1}: not a JSON checkpoint line`);
    }
    if (key && !checkpointValid(key, c))
      throw new HeadFileError(`${file}:${i + 1}: checkpoint ${c.seq} is not signed by the audit key`);
    if (!best || c.seq > best.seq) best = { seq: c.seq, hash: c.hash, from: `head file ${file} line ${i + 1}` };
  });
  return best;
}

export class HeadFileError extends Error {
  override name = 'HeadFileError';
}
