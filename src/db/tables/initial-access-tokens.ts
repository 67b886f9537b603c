import type { Sql } from '../sql.js';
import { statement } from './statement.js';

/**
 * Takes one use of an RFC 7591 §3 initial access token in one conditional UPDATE: live (not
 * revoked, not expired) and with a use left. Of N parallel registrations with a one-use token
 * the row lock lets exactly one through; the others re-check `uses_left > 0` and match nothing.
 */
const CONSUME = statement(
  ['digest'],
  `update initial_access_tokens
      set uses_left = case when uses_left is null then null else uses_left - 1 end
    where token_digest = :digest and revoked_at is null
      and (expires_at is null or expires_at > now())
      and (uses_left is null or uses_left > 0)
    returning id`,
);

/** The token's id when a use was taken; null when it is unknown, expired, revoked or used up. */
export async function consumeInitialAccessToken(sql: Sql, digest: Buffer): Promise<string | null> {
  const rows = await sql.query<{ id: string }>(CONSUME.text, CONSUME.values({ digest }));
  return rows[0]?.id ?? null;
}

const REFUND = statement(
  ['id'],
  'update initial_access_tokens set uses_left = uses_left + 1 where id = :id::uuid and uses_left is not null',
);

/** Gives the use back when the registration it was taken for was refused (its metadata invalid). */
export async function refundInitialAccessToken(sql: Sql, id: string): Promise<void> {
  await sql.execute(REFUND.text, REFUND.values({ id }));
}
