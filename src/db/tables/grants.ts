import { newId } from '../../entities/base.js';
import type { Sql } from '../sql.js';
import { statement } from './statement.js';

/** A user's consent to an application, as the protocol paths see it. */
export interface GrantRow {
  id: string;
  scopes: string[];
}

/** The active grant, and whether it covers the scopes asked for. */
export interface CoveringGrant extends GrantRow {
  covers: boolean;
}

/** A grant counts until it is revoked (revoking it revokes all it issued). */
export function grantActive(grant: string): string {
  return `${grant}.revoked_at is null`;
}

/**
 * Consent is needed unless the grant holds every scope and every resource (RFC 8707) asked for.
 * The one definition: the page path reads it as a column, the fast path and code creation use
 * it as a condition.
 */
export function grantCovers(grant: string, scopes: string, resources: string): string {
  return `(${grant}.scopes @> ${scopes}::text[] and ${grant}.resources @> ${resources}::text[])`;
}

/**
 * RFC 8707 at the token endpoint: the token's audience `audience` (null: none asked for) must be
 * one of the resources `resources` the code or refresh token holds; with none held, no resource
 * may be asked for (a refresh narrows, never widens). The device grant applies the same rule in
 * resource-indicators.ts (resourceHeld), after its poll has read the code.
 */
export function resourceHeld(resources: string, audience: string): string {
  return `((${audience}::text is null and cardinality(${resources}) = 0) or coalesce(${audience}::text = any(${resources}), false))`;
}

/**
 * The ON CONFLICT clause that merges a new consent into the user's active grant for the
 * application (the partial unique index makes parallel consents one grant). The inserting
 * statement aliases grants as `g`.
 */
export const MERGE_INTO_ACTIVE_GRANT = `on conflict (user_id, application_id) where revoked_at is null do update
         set scopes = array(select distinct x from unnest(g.scopes || excluded.scopes) as x order by x),
             resources = array(select distinct x from unnest(g.resources || excluded.resources) as x order by x),
             updated_at = now()`;

/**
 * A CTE that records the use of the grant of CTE `source`, at most once a minute (a write per
 * use would be a write per token).
 */
export function touchGrant(source: string): string {
  return `g_used as (update grants set last_used_at = now()
            where id = (select grant_id from ${source}) and (last_used_at is null or last_used_at < now() - interval '1 minute'))`;
}

const FIND_ACTIVE = statement(
  ['user_id', 'application_id', 'scopes', 'resources'],
  `select g.id, g.scopes, ${grantCovers('g', ':scopes', ':resources')} as covers from grants g
    where g.user_id = :user_id and g.application_id = :application_id and ${grantActive('g')}`,
);

/**
 * The user's active consent to the application (if any), with whether it covers `scopes` and
 * `resources`.
 */
export async function findActiveGrant(
  sql: Sql,
  userId: string,
  applicationId: string,
  scopes: readonly string[],
  resources: readonly string[] = [],
): Promise<CoveringGrant | null> {
  const rows = await sql.query<CoveringGrant>(
    FIND_ACTIVE.text,
    FIND_ACTIVE.values({ user_id: userId, application_id: applicationId, scopes, resources }),
  );
  return rows[0] ?? null;
}

const UPSERT = statement(
  ['id', 'user_id', 'application_id', 'scopes', 'resources'],
  `insert into grants as g (id, user_id, application_id, scopes, resources, last_used_at)
   values (:id, :user_id, :application_id, :scopes, :resources, now())
   ${MERGE_INTO_ACTIVE_GRANT}, last_used_at = now()
   returning id, scopes`,
);

/**
 * Records consent: the active grant of user × application gains the scopes, or a new one is
 * created. One statement on the partial unique index, so parallel consents make one grant.
 */
export async function upsertGrant(
  sql: Sql,
  userId: string,
  applicationId: string,
  scopes: readonly string[],
  resources: readonly string[] = [],
): Promise<GrantRow> {
  const rows = await sql.query<GrantRow>(
    UPSERT.text,
    UPSERT.values({ id: newId(), user_id: userId, application_id: applicationId, scopes, resources }),
  );
  return rows[0];
}

const REVOKE = statement(
  ['grant_id', 'user_id', 'application_id'],
  `with g as (update grants set revoked_at = now()
               where ${grantActive('grants')}
                 and (id = :grant_id::uuid or (:grant_id::uuid is null and user_id = :user_id::uuid and application_id = :application_id::uuid))
               returning id),
        a as (update access_tokens set revoked_at = now() where grant_id in (select id from g) and revoked_at is null),
        r as (update refresh_tokens set revoked_at = now() where grant_id in (select id from g) and revoked_at is null),
        c as (update authorization_codes set consumed_at = now() where grant_id in (select id from g) and consumed_at is null)
   select count(*)::int as n from g`,
);

/**
 * Revokes a grant (by id, or the active one of user × application) and, in the same statement,
 * every token and unused code issued under it. Returns whether an active grant was revoked.
 */
export async function revokeGrant(
  sql: Sql,
  which: { grantId: string } | { userId: string; applicationId: string },
): Promise<boolean> {
  const rows = await sql.query<{ n: number }>(
    REVOKE.text,
    REVOKE.values(
      'grantId' in which
        ? { grant_id: which.grantId, user_id: null, application_id: null }
        : { grant_id: null, user_id: which.userId, application_id: which.applicationId },
    ),
  );
  return rows[0].n > 0;
}

const REVOKE_FOR_USER = statement(
  ['user_id'],
  `update grants set revoked_at = now() where user_id = :user_id and ${grantActive('grants')}`,
);

/** Revokes every grant of a user (a disabled user; their tokens are revoked alongside). */
export async function revokeGrantsOfUser(sql: Sql, userId: string): Promise<void> {
  await sql.execute(REVOKE_FOR_USER.text, REVOKE_FOR_USER.values({ user_id: userId }));
}

const LIST_FOR_USER = statement(
  ['user_id'],
  `select g.id, g.application_id, a.name, a.client_id, g.scopes, g.created_at, g.last_used_at
     from grants g join applications a on a.id = g.application_id
    where g.user_id = :user_id and ${grantActive('g')}
    order by g.created_at desc`,
);

/** A user's active grant with its application's names, as the "authorized applications" lists show it. */
export interface UserGrant {
  id: string;
  applicationId: string;
  applicationName: string;
  clientId: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface UserGrantDbRow {
  id: string;
  application_id: string;
  name: string;
  client_id: string;
  scopes: string[];
  created_at: Date;
  last_used_at: Date | null;
}

function toUserGrant(r: UserGrantDbRow): UserGrant {
  return {
    id: r.id,
    applicationId: r.application_id,
    applicationName: r.name,
    clientId: r.client_id,
    scopes: r.scopes,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  };
}

/** The user's active grants, newest first. */
export async function listGrantsOfUser(sql: Sql, userId: string): Promise<UserGrant[]> {
  const rows = await sql.query<UserGrantDbRow>(LIST_FOR_USER.text, LIST_FOR_USER.values({ user_id: userId }));
  return rows.map(toUserGrant);
}
