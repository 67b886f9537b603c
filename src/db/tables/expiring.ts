import type { Sql } from '../sql.js';

/** Tables whose rows expire, each with its indexed `expires_at`. */
export const EXPIRING_TABLES = [
  'access_tokens',
  'refresh_tokens',
  'authorization_codes',
  'device_codes',
  'sessions',
  'rate_limit_counters',
  'signing_keys',
] as const;

export type ExpiringTable = (typeof EXPIRING_TABLES)[number];

/**
 * Per table, a delete of at most `$1` expired rows picked through the expires_at index, by
 * physical row address: no primary-key lookups and no row locks (a second instance deleting the
 * same rows just finds them gone). Built once.
 */
const DELETE_EXPIRED = new Map<ExpiringTable, string>(
  EXPIRING_TABLES.map((table) => [
    table,
    `delete from ${table} where ctid = any(array(
        select ctid from ${table} where expires_at < now() order by expires_at limit $1))`,
  ]),
);

/** Deletes up to `batchSize` expired rows of one table; returns how many. */
export function deleteExpiredBatch(sql: Sql, table: ExpiringTable, batchSize: number): Promise<number> {
  return sql.execute(DELETE_EXPIRED.get(table)!, [batchSize]);
}
