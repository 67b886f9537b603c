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

const CLAIM_MANY = `insert into used_jtis (digest, expires_at)
   select * from unnest($1::bytea[], $2::timestamptz[])
   on conflict (digest) do update set expires_at = excluded.expires_at
     where used_jtis.expires_at < now()
   returning digest`;

/**
 * claimJti for many JWT ids in one statement (the batched DPoP path), same rule: a result per
 * item, true for a first use. A digest twice in one batch is claimed by its first occurrence
 * (one statement cannot take over a row twice).
 */
export async function claimJtis(
  sql: Sql,
  items: ReadonlyArray<{ purpose: JtiPurpose; issuer: string; jti: string; expiresAt: Date }>,
): Promise<boolean[]> {
  const digests = items.map((i) => jtiDigest(i.purpose, i.issuer, i.jti));
  const first = new Map<string, number>();
  digests.forEach((d, i) => {
    const hex = d.toString('hex');
    if (!first.has(hex)) first.set(hex, i);
  });
  const unique = [...first.values()];
  const rows = await sql.query<{ digest: Uint8Array }>(CLAIM_MANY, [
    unique.map((i) => digests[i]),
    unique.map((i) => items[i].expiresAt),
  ]);
  const claimed = new Set(rows.map((r) => Buffer.from(r.digest).toString('hex')));
  return digests.map((d, i) => first.get(d.toString('hex')) === i && claimed.has(d.toString('hex')));
}
