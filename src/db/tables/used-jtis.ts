import { createHash } from 'node:crypto';
import type { Sql } from '../sql.js';
import { statement } from './statement.js';

/** What a JWT id is unique within: proofs per DPoP key, assertions per client. */
export type JtiPurpose = 'dpop' | 'client_assertion';

/**
 * Records a JWT id once, atomically: of N parallel requests with the same jti exactly one
 * inserts (the primary key decides), on this instance or any other. A row already expired but not
 * yet cleaned up is taken over, so a jti is refused only while its JWT could still be accepted.
 */
const CLAIM = statement(
  ['digest', 'expires'],
  `insert into used_jtis (digest, expires_at) values (:digest, :expires)
   on conflict (digest) do update set expires_at = excluded.expires_at
     where used_jtis.expires_at < now()
   returning 1`,
);

export function jtiDigest(purpose: JtiPurpose, issuer: string, jti: string): Buffer {
  // The issuer's length makes the input unambiguous whatever characters issuer and jti hold.
  return createHash('sha256').update(`${purpose}\0${issuer.length}:${issuer}\0${jti}`).digest();
}

/**
 * True when this is the first use of `jti` from `issuer` (a key thumbprint or a client id) for
 * `purpose`; false for a replay. `expiresAt`: when the JWT stops being acceptable anyway.
 */
export async function claimJti(
  sql: Sql,
  purpose: JtiPurpose,
  issuer: string,
  jti: string,
  expiresAt: Date,
): Promise<boolean> {
  const rows = await sql.query(
    CLAIM.text,
    CLAIM.values({ digest: jtiDigest(purpose, issuer, jti), expires: expiresAt }),
  );
  return rows.length === 1;
}
