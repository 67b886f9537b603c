import type { Sql } from '../db/sql.js';
import { touchGrant } from './grants.js';
import type { MintedAccessToken, MintedRefreshToken } from './tokens.js';

export interface RotatedFrom {
  id: string;
  userId: string;
  grantId: string | null;
  familyId: string;
  /** The scopes of the presented refresh token (the new one keeps them, RFC 6749 §6). */
  scopes: string[];
  authTime: Date | null;
  sid: string | null;
}

/**
 * Refresh-token rotation in one conditional statement: the presented token is consumed only if
 * it is live, belongs to the client and covers the requested scopes; the new pair is written in
 * the same statement. Of N parallel rotations exactly one matches; the rest get null.
 */
export async function rotateRefreshToken(
  sql: Sql,
  p: {
    digest: Buffer;
    applicationId: string;
    requestedScopes: string[] | null;
    access: MintedAccessToken;
    refresh: MintedRefreshToken;
    refreshTtl: number;
  },
): Promise<RotatedFrom | null> {
  const rows = await sql.query<{
    id: string;
    user_id: string;
    grant_id: string | null;
    family_id: string;
    scopes: string[];
    auth_time: Date | null;
    sid: string | null;
  }>(
    `with r as (
       update refresh_tokens t set consumed_at = now()
        where t.token_digest = $1 and t.application_id = $2 and t.consumed_at is null and t.revoked_at is null
          and t.expires_at > now() and ($3::text[] is null or t.scopes @> $3::text[])
          and exists (select 1 from users u where u.id = t.user_id and u.is_active)
       returning t.id, t.user_id, t.grant_id, t.family_id, t.scopes, t.auth_time, t.sid),
     a as (
       insert into access_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at)
       select $4, $5, $2, r.user_id, r.grant_id, r.family_id, coalesce($3::text[], r.scopes), $6,
              now() + make_interval(secs => $7) from r),
     n as (
       insert into refresh_tokens (id, token_digest, application_id, user_id, grant_id, family_id, parent_id, scopes,
                                   auth_time, sid, expires_at)
       select $8, $9, $2, r.user_id, r.grant_id, r.family_id, r.id, r.scopes, r.auth_time, r.sid,
              now() + make_interval(secs => $10) from r),
     ${touchGrant('r')}
     select * from r`,
    [
      p.digest,
      p.applicationId,
      p.requestedScopes,
      p.access.id,
      p.access.digest,
      p.access.format,
      p.access.expiresIn,
      p.refresh.id,
      p.refresh.digest,
      p.refreshTtl,
    ],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    userId: r.user_id,
    grantId: r.grant_id,
    familyId: r.family_id,
    scopes: r.scopes,
    authTime: r.auth_time,
    sid: r.sid,
  };
}

export interface RefreshDiagnosis {
  id: string;
  applicationId: string;
  userId: string;
  grantId: string | null;
  familyId: string;
  scopes: string[];
  authTime: Date | null;
  sid: string | null;
  revoked: boolean;
  expired: boolean;
  /** Seconds since it was consumed (rotated), or null if it was not. */
  consumedAgo: number | null;
  userActive: boolean;
}

/** Why a rotation did not happen: read only on the failure path. */
export async function diagnoseRefreshToken(sql: Sql, digest: Buffer): Promise<RefreshDiagnosis | null> {
  const rows = await sql.query<{
    id: string;
    application_id: string;
    user_id: string;
    grant_id: string | null;
    family_id: string;
    scopes: string[];
    auth_time: Date | null;
    sid: string | null;
    revoked: boolean;
    expired: boolean;
    consumed_ago: number | null;
    user_active: boolean;
  }>(
    `select t.id, t.application_id, t.user_id, t.grant_id, t.family_id, t.scopes, t.auth_time, t.sid,
            t.revoked_at is not null as revoked, t.expires_at <= now() as expired,
            extract(epoch from now() - t.consumed_at)::float8 as consumed_ago, u.is_active as user_active
       from refresh_tokens t join users u on u.id = t.user_id
      where t.token_digest = $1`,
    [digest],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    applicationId: r.application_id,
    userId: r.user_id,
    grantId: r.grant_id,
    familyId: r.family_id,
    scopes: r.scopes,
    authTime: r.auth_time,
    sid: r.sid,
    revoked: r.revoked,
    expired: r.expired,
    consumedAgo: r.consumed_ago,
    userActive: r.user_active,
  };
}

/**
 * Answers a retry within the grace window: the successors issued for the presented token that
 * were never used are revoked, and a fresh pair is written in the same statement.
 */
export async function reissueWithinGrace(
  sql: Sql,
  from: RefreshDiagnosis,
  scopes: string[],
  access: MintedAccessToken,
  refresh: MintedRefreshToken,
  refreshTtl: number,
): Promise<void> {
  await sql.execute(
    `with old as (
       update refresh_tokens set revoked_at = now()
        where parent_id = $1 and consumed_at is null and revoked_at is null returning id),
     a as (
       insert into access_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at)
       values ($2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10)))
     insert into refresh_tokens (id, token_digest, application_id, user_id, grant_id, family_id, parent_id, scopes,
                                 auth_time, sid, expires_at)
     values ($11, $12, $4, $5, $6, $7, $1, $13, $14, $15, now() + make_interval(secs => $16))`,
    [
      from.id,
      access.id,
      access.digest,
      from.applicationId,
      from.userId,
      from.grantId,
      from.familyId,
      scopes,
      access.format,
      access.expiresIn,
      refresh.id,
      refresh.digest,
      from.scopes,
      from.authTime,
      from.sid,
      refreshTtl,
    ],
  );
}
