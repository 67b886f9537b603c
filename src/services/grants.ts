import type { Sql } from '../db/sql.js';
import { newId } from '../entities/base.js';

export interface ActiveGrant {
  id: string;
  scopes: string[];
}

/** The user's active consent to the application, if any. */
export async function findActiveGrant(
  sql: Sql,
  userId: string,
  applicationId: string,
): Promise<ActiveGrant | null> {
  const rows = await sql.query<ActiveGrant>(
    'select id, scopes from grants where user_id = $1 and application_id = $2 and revoked_at is null',
    [userId, applicationId],
  );
  return rows[0] ?? null;
}

/**
 * The ON CONFLICT clause that merges a new consent into the user's active grant for the
 * application (the partial unique index makes parallel consents one grant). The inserting
 * statement aliases grants as `g`.
 */
export const MERGE_INTO_ACTIVE_GRANT = `on conflict (user_id, application_id) where revoked_at is null do update
         set scopes = array(select distinct x from unnest(g.scopes || excluded.scopes) as x order by x), updated_at = now()`;

/** A CTE that records the use of the grant of CTE `source`, at most once a minute (a write per use would be a write per token). */
export function touchGrant(source: string): string {
  return `g_used as (update grants set last_used_at = now()
            where id = (select grant_id from ${source}) and (last_used_at is null or last_used_at < now() - interval '1 minute'))`;
}

export function covers(grant: ActiveGrant | null, scopes: readonly string[]): boolean {
  return grant !== null && scopes.every((s) => grant.scopes.includes(s));
}

/**
 * Records consent: the active grant of user × application gains the scopes, or a new one is
 * created. One statement on the partial unique index, so parallel consents make one grant.
 */
export async function upsertGrant(
  sql: Sql,
  userId: string,
  applicationId: string,
  scopes: readonly string[],
): Promise<ActiveGrant> {
  const rows = await sql.query<ActiveGrant>(
    `insert into grants as g (id, user_id, application_id, scopes, last_used_at)
     values ($1, $2, $3, $4, now())
     ${MERGE_INTO_ACTIVE_GRANT}, last_used_at = now()
     returning id, scopes`,
    [newId(), userId, applicationId, scopes],
  );
  return rows[0];
}

/**
 * Revokes a grant and, in the same statement, every token and unused code issued under it.
 * Returns whether an active grant was revoked.
 */
export async function revokeGrantById(sql: Sql, grantId: string): Promise<boolean> {
  const rows = await sql.query<{ n: number }>(
    `with g as (update grants set revoked_at = now() where id = $1 and revoked_at is null returning id),
          a as (update access_tokens set revoked_at = now() where grant_id in (select id from g) and revoked_at is null),
          r as (update refresh_tokens set revoked_at = now() where grant_id in (select id from g) and revoked_at is null),
          c as (update authorization_codes set consumed_at = now() where grant_id in (select id from g) and consumed_at is null)
     select count(*)::int as n from g`,
    [grantId],
  );
  return rows[0].n > 0;
}

/** Revokes the user's active grant for an application (and everything issued under it). */
export async function revokeGrantFor(sql: Sql, userId: string, applicationId: string): Promise<boolean> {
  const grant = await findActiveGrant(sql, userId, applicationId);
  return grant ? revokeGrantById(sql, grant.id) : false;
}
