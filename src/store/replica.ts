// A replica on a shared store (PostgreSQL, `store.url`): its id, its lease length, what /metrics shows
// of it. Embedded SQLite has one process and no replica.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { DeployService } from '../deploys/service.js';
import type { Store } from './types.js';

export interface Replica {
  /** unique per process: a restarted replica is a new one (its old leases lapse) */
  id: string;
  /** seconds a lease lasts unless renewed by the next tick */
  lease: number;
}

/**
 * Null unless the store is shared. Default lease: a tick and a half, renewed every half tick between ticks
 * (DeployService.heartbeat): a dead replica's heartbeat lapses within 1.5 ticks and the next tick of another
 * replica takes its watches, 2.5 ticks after the death at most (3 with the scheduling of a loaded machine).
 */
export function replicaOf(config: Config, store: Pick<Store, 'shared'>): Replica | null {
  if (!store.shared) return null;
  const step = parseDuration(config.evaluation.interval);
  const lease = config.store.lease ? parseDuration(config.store.lease) : 1.5 * step;
  const id = process.env.NAVIGATOR_REPLICA_ID || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return { id, lease };
}

/** navigator_watches_held, navigator_watch_takeovers_total, navigator_replicas, navigator_store_queries_total. */
export function replicaMetrics(
  registry: Registry,
  replica: Replica,
  service: DeployService,
  store: Store & { queries?: number },
): void {
  const labels = { replica: replica.id };
  new Gauge({
    name: 'navigator_watches_held',
    help: 'Open watches this replica holds the lease on and judges each tick',
    labelNames: ['replica'] as const,
    registers: [registry],
    collect() {
      this.set(labels, service.watcher.watches().length);
    },
  });
  const replicas = new Gauge({
    name: 'navigator_replicas',
    help: 'Live replicas on the shared store, as the last lease round saw them',
    registers: [registry],
  });
  const taken = new Counter({
    name: 'navigator_watch_takeovers_total',
    help: 'Watches this replica took over (new, released by another replica, or whose lease expired)',
    labelNames: ['replica'] as const,
    registers: [registry],
  });
  new Counter({
    name: 'navigator_store_queries_total',
    help: 'Statements this replica sent to the database',
    registers: [registry],
    collect() {
      const n = store.queries ?? 0;
      const seen = (this as unknown as { seen?: number }).seen ?? 0;
      if (n > seen) this.inc(n - seen);
      (this as unknown as { seen?: number }).seen = n;
    },
  });
  service.on({
    leases: (r) => {
      replicas.set(r.replicas);
      if (r.taken.length) taken.inc(labels, r.taken.length);
    },
  });
}
