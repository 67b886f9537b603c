import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/sql.js';

/** Keys the server derives cookie, CSRF and consent-state signatures from. */
export interface ServerKeys {
  /** HMAC key for CSRF tokens and signed authorization requests. */
  signing: Buffer;
}

/**
 * Returns the named secret, generating it on first use. INSERT … ON CONFLICT DO NOTHING makes
 * instances starting together agree on one value; there is never a hard-coded default.
 */
export async function ensureSecret(sql: Sql, name: string): Promise<Buffer> {
  await sql.execute(
    'insert into server_secrets (name, value) values ($1, $2) on conflict (name) do nothing',
    [name, randomBytes(32).toString('base64url')],
  );
  const rows = await sql.query<{ value: string }>('select value from server_secrets where name = $1', [name]);
  return Buffer.from(rows[0].value, 'base64url');
}

export async function loadServerKeys(sql: Sql): Promise<ServerKeys> {
  return { signing: await ensureSecret(sql, 'signing-hmac-v1') };
}
