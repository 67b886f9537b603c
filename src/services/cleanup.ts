import type { Sql } from '../db/sql.js';
import {
  deleteAbandonedRegistrations,
  deleteExpiredBatch,
  EXPIRING_TABLES,
  type ExpiringTable,
} from '../db/tables/expiring.js';
import { moduleLog } from '../log.js';
import { recordCleanup } from '../observability/metrics.js';
import type { Runtime } from './context.js';

export { EXPIRING_TABLES, type ExpiringTable };
export type CleanupCounts = Record<ExpiringTable | 'abandoned_registrations', number>;

/**
 * Deletes expired rows in bounded batches: each statement picks at most `batchSize` ids through
 * the expires_at index (skipping rows another instance is deleting) and deletes them. Nothing
 * is loaded into memory, and issuance never waits behind one huge delete.
 */
export async function deleteExpired(
  sql: Sql,
  batchSize: number,
  opts: { pauseMs?: number; signal?: AbortSignal; abandonedAfter?: number } = {},
): Promise<CleanupCounts> {
  const counts = Object.fromEntries(EXPIRING_TABLES.map((t) => [t, 0])) as CleanupCounts;
  counts.abandoned_registrations = 0;
  // Before the expired tokens go: a registration used only by tokens now expired is still used.
  if (opts.abandonedAfter !== undefined) {
    counts.abandoned_registrations = await deleteAbandonedRegistrations(sql, opts.abandonedAfter, batchSize);
  }
  for (const table of EXPIRING_TABLES) {
    for (;;) {
      if (opts.signal?.aborted) return counts;
      const deleted = await deleteExpiredBatch(sql, table, batchSize);
      counts[table] += deleted;
      if (deleted < batchSize) break;
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  }
  return counts;
}

/** Runs deleteExpired every CLEANUP_INTERVAL seconds in the background; returns its stop. */
export function startCleanup(runtime: Runtime): () => void {
  const { interval, batchSize } = runtime.config.cleanup;
  if (interval === 0) return () => {};
  const controller = new AbortController();
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const counts = await deleteExpired(runtime.db.sql, batchSize, {
        pauseMs: 20,
        signal: controller.signal,
        abandonedAfter: runtime.config.dynamicRegistration.abandonedAfter,
      });
      recordCleanup(counts);
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      if (total > 0) moduleLog(runtime.log, 'cleanup').info({ deleted: counts }, 'expired rows deleted');
    } catch (err) {
      moduleLog(runtime.log, 'cleanup').warn({ err: (err as Error).message }, 'cleanup failed; will retry');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(tick, interval * 1000);
  timer.unref();
  return () => {
    controller.abort();
    clearInterval(timer);
  };
}
