// Which engine the config asks for: PostgreSQL with `store.url` (several replicas), else the embedded
// SQLite file at `store.path`.
import type { Config } from '../config/schema.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export async function openStore(config: Pick<Config, 'store'>): Promise<Store> {
  if (config.store.url) return PostgresStore.open(config.store.url, { pool: config.store.pool });
  return new SqliteStore(config.store.path);
}
