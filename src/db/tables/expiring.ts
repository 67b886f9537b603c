import type { Sql } from '../sql.js';

/** Tables whose rows expire, each with its indexed `expires_at`. */
export const EXPIRING_TABLES = [
  'access_tokens',
  'refresh_tokens',
  'authorization_codes',
  'device_codes',
  'sessions',
  // Which applications a session signed in to: kept until the session's absolute expiry.
  'session_applications',
  'rate_limit_counters',
  'signing_keys',
  'initial_access_tokens',
  'used_jtis',
  'pushed_authorization_requests',
  'webauthn_challenges',
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

/**
 * Applications nobody vouched for: dynamically registered (RFC 7591) or mirrored from a client ID
 * metadata document. Abandoned when unused for the configured time after registration — for a
 * document's row, after its last resolution (each authorization request refreshes updated_at, so
 * a row a cached record still points at is never the one deleted).
 */
const UNVOUCHED = 'a.dynamically_registered or a.metadata_document';
const SINCE = 'case when a.metadata_document then a.updated_at else a.created_at end';

/**
 * Unvouched applications first seen in use (a grant, a code, a token): marked once, so that their
 * tokens expiring later does not make them look abandoned.
 */
const MARK_USED = `update applications a set first_used_at = now()
  where (${UNVOUCHED}) and a.first_used_at is null and (
    exists (select 1 from grants g where g.application_id = a.id)
    or exists (select 1 from authorization_codes c where c.application_id = a.id)
    or exists (select 1 from access_tokens t where t.application_id = a.id)
    or exists (select 1 from refresh_tokens r where r.application_id = a.id)
    or exists (select 1 from device_codes d where d.application_id = a.id))`;

/** Up to `$2` unvouched applications never used within `$1` seconds. */
const DELETE_ABANDONED = `delete from applications where id = any(array(
    select a.id from applications a
     where (${UNVOUCHED}) and a.first_used_at is null
       and ${SINCE} < now() - make_interval(secs => $1)
     order by a.created_at limit $2))`;

/** Deletes abandoned dynamic registrations (after marking the used ones); returns how many. */
export async function deleteAbandonedRegistrations(
  sql: Sql,
  abandonedAfterSeconds: number,
  batchSize: number,
): Promise<number> {
  await sql.execute(MARK_USED);
  return sql.execute(DELETE_ABANDONED, [abandonedAfterSeconds, batchSize]);
}
