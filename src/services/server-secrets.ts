import { randomBytes } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import { openAtRest, sealAtRest } from './key-crypto.js';

/** Keys the server derives cookie, CSRF and consent-state signatures from. */
export interface ServerKeys {
  /** HMAC key for CSRF tokens and signed authorization requests. */
  signing: Buffer;
}

/**
 * Returns the named secret, generating it on first use (encrypted at rest when
 * KEY_ENCRYPTION_KEY is set). INSERT … ON CONFLICT DO NOTHING makes instances starting together
 * agree on one value; there is never a hard-coded default, and a secret that cannot be opened
 * stops the start instead of being replaced.
 */
export async function ensureSecret(sql: Sql, name: string, kek: string | undefined): Promise<Buffer> {
  const fresh = randomBytes(32).toString('base64url');
  await sql.execute(
    'insert into server_secrets (name, value, encrypted) values ($1, $2, $3) on conflict (name) do nothing',
    [name, kek ? sealAtRest(fresh, kek, 'server secret') : fresh, Boolean(kek)],
  );
  const rows = await sql.query<{ value: string; encrypted: boolean }>(
    'select value, encrypted from server_secrets where name = $1',
    [name],
  );
  const { value, encrypted } = rows[0];
  return Buffer.from(encrypted ? openAtRest(value, kek, 'server secret') : value, 'base64url');
}

export async function loadServerKeys(sql: Sql, kek: string | undefined): Promise<ServerKeys> {
  return { signing: await ensureSecret(sql, 'signing-hmac-v1', kek) };
}
