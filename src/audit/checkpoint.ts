// Signed checkpoints of the audit chain. A hash chain alone proves nothing against someone who can write
// the database: they rewrite a row and recompute every later hash, or delete the newest rows, and the chain
// still verifies. A checkpoint signs (seq, hash) of the chain head with an HMAC key that is not in the
// database, at every `checkpointEvery`-th entry, in the transaction that appends that entry; so a
// recomputed chain no longer matches its checkpoints, a missing checkpoint is noticed (they are at fixed
// sequence numbers), and deleting rows below the newest checkpoint is noticed. Rows after the newest
// checkpoint are covered by the head exported outside the store (audit/head.ts).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { StoreError } from '../store/faults.js';

export interface Checkpoint {
  seq: number;
  hash: string;
  at: number;
  mac: string;
}

export function checkpointMac(key: Buffer, seq: number, hash: string, at: number): string {
  return createHmac('sha256', key).update(`${seq}:${hash}:${at}`).digest('hex');
}

export function checkpointValid(key: Buffer, c: Checkpoint): boolean {
  const want = Buffer.from(checkpointMac(key, c.seq, c.hash, c.at), 'hex');
  const got = Buffer.from(c.mac, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

export function defaultKeyFile(storePath: string): string {
  return `${storePath}.audit-key`;
}

/**
 * The checkpoint key: `audit.key` (from the environment through the config), else the key file
 * (`audit.keyFile`, default next to the store), created with a random key when `create` and missing.
 * Null when there is none and none may be created (verifying without a key checks the chain only).
 */
export function loadAuditKey(
  o: { key?: string | undefined; keyFile?: string | undefined; storePath: string },
  create: boolean,
): { key: Buffer; source: string } | null {
  if (o.key) return { key: Buffer.from(o.key, 'utf8'), source: 'audit.key' };
  if (o.storePath === ':memory:' && !o.keyFile) return create ? { key: randomBytes(32), source: 'memory' } : null;
  const file = o.keyFile ?? defaultKeyFile(o.storePath);
  if (!existsSync(file)) {
    if (!create) return null;
    try {
      writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new StoreError(`audit key file ${file}: cannot create it: ${(e as Error).message}`);
    }
  }
  try {
    chmodSync(file, 0o600);
  } catch {
    /* a read-only key file is fine */
  }
  const text = readFileSync(file, 'utf8').trim();
  if (text.length < 32) throw new StoreError(`audit key file ${file}: too short (at least 32 characters)`);
  return { key: Buffer.from(text, 'utf8'), source: file };
}
