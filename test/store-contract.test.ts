// One contract suite (src/store/contract.ts), two engines: a real SQLite file and a real PostgreSQL
// server (a throwaway cluster, test/support/postgres.ts). Nothing skips: a missing PostgreSQL fails
// naming the package to install.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { storeContract } from '../src/store/contract.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { startPostgres, type Postgres } from './support/postgres.js';

storeContract('SQLite', () => ({
  open: async () => new SqliteStore(join(mkdtempSync(join(tmpdir(), 'navigator-contract-')), 'n.db')),
  // One process owns a SQLite file (its transactions span awaits, and a second connection's lock wait
  // would block the event loop): the second "replica" is the same connection, serialised by its mutex.
  reopen: async (s) => s,
}));

let server: Postgres;
const urls = new Map<string, string>();
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

storeContract('PostgreSQL', () => ({
  open: async () => {
    const url = await server.database();
    const s = await PostgresStore.open(url);
    urls.set(s.path, url);
    return s;
  },
  reopen: async (s) => PostgresStore.open(urls.get(s.path) ?? ''),
}));
