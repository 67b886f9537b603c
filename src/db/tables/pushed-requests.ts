import type { Sql } from '../sql.js';
import { statement } from './statement.js';

/** RFC 9126 §2.2: a pushed request lives `ttl` seconds (PAR_TTL) from the push. */
const INSERT = statement(
  ['digest', 'application_id', 'params', 'ttl'],
  `insert into pushed_authorization_requests (digest, application_id, params, expires_at)
   values (:digest, :application_id::uuid, :params, now() + make_interval(secs => :ttl))`,
);

/**
 * Takes a pushed request out, once (RFC 9126 §7.3): one conditional DELETE, so of N parallel uses
 * of one request_uri exactly one gets the parameters. Only the client that pushed it can use it,
 * and only before it expires: another client's attempt neither uses it up nor learns it exists.
 */
const CONSUME = statement(
  ['digest', 'application_id'],
  `delete from pushed_authorization_requests
    where digest = :digest and application_id = :application_id::uuid and expires_at > now()
   returning params`,
);

export async function insertPushedRequest(
  sql: Sql,
  row: { digest: Buffer; applicationId: string; params: string; ttlSeconds: number },
): Promise<void> {
  await sql.execute(
    INSERT.text,
    INSERT.values({
      digest: row.digest,
      application_id: row.applicationId,
      params: row.params,
      ttl: row.ttlSeconds,
    }),
  );
}

/** The pushed parameters (form-encoded), or null: unknown, expired, used, or another client's. */
export async function consumePushedRequest(
  sql: Sql,
  digest: Buffer,
  applicationId: string,
): Promise<string | null> {
  const rows = await sql.query<{ params: string }>(
    CONSUME.text,
    CONSUME.values({ digest, application_id: applicationId }),
  );
  return rows[0]?.params ?? null;
}
