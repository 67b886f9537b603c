import type { Sql } from '../db/sql.js';
import { newId } from '../entities/base.js';
import type { ClientRecord } from './client-cache.js';
import type { Ctx } from './context.js';
import { signJwtAccessToken } from './jwt-access-token.js';
import { digest, newCredential } from './secrets.js';

/** Who and what a token is for. */
export interface TokenSubject {
  client: ClientRecord;
  /** Null for client_credentials. */
  userId: string | null;
  grantId: string | null;
  /** Tokens from one code and its refresh chain share a family (the code's id). */
  familyId: string | null;
  scopes: string[];
}

export interface MintedAccessToken {
  id: string;
  value: string;
  digest: Buffer;
  expiresIn: number;
  format: 'opaque' | 'jwt';
}

export interface MintedRefreshToken {
  id: string;
  value: string;
  digest: Buffer;
}

/** An opaque random value, or an RFC 9068 JWT for applications that chose that format. */
export async function mintAccessToken(ctx: Ctx, subject: TokenSubject): Promise<MintedAccessToken> {
  const id = newId();
  const expiresIn = ctx.config.ttl.accessToken;
  const format = subject.client.accessTokenFormat;
  const value =
    format === 'jwt' ? await signJwtAccessToken(ctx, subject, id, expiresIn) : newCredential('accessToken');
  return { id, value, digest: digest(value), expiresIn, format };
}

export function mintRefreshToken(): MintedRefreshToken {
  const value = newCredential('refreshToken');
  return { id: newId(), value, digest: digest(value) };
}

/** One INSERT: the client_credentials hot path. */
export async function insertAccessToken(
  sql: Sql,
  token: MintedAccessToken,
  subject: TokenSubject,
): Promise<void> {
  await sql.execute(
    `insert into access_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))`,
    [
      token.id,
      token.digest,
      subject.client.id,
      subject.userId,
      subject.grantId,
      subject.familyId,
      subject.scopes,
      token.format,
      token.expiresIn,
    ],
  );
}

/**
 * An access token and, when asked, a refresh token for a user, written in one statement
 * (password and device grants; codes and refreshes have their own atomic statements).
 */
export async function insertTokenPair(
  sql: Sql,
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  subject: TokenSubject & { familyId: string },
  refreshTtl: number,
  session: { authTime: Date | null; sid: string | null },
): Promise<void> {
  await sql.execute(
    `with a as (
       insert into access_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9)))
     insert into refresh_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, auth_time, sid, expires_at)
     select $10, $11, $3, $4, $5, $6, $7, $13, $14, now() + make_interval(secs => $12) where $10::uuid is not null`,
    [
      access.id,
      access.digest,
      subject.client.id,
      subject.userId,
      subject.grantId,
      subject.familyId,
      subject.scopes,
      access.format,
      access.expiresIn,
      refresh?.id ?? null,
      refresh?.digest ?? null,
      refreshTtl,
      session.authTime,
      session.sid,
    ],
  );
}

/** Revokes every access and refresh token of a family (code replay, refresh reuse, revocation). */
export async function revokeFamily(sql: Sql, familyId: string): Promise<void> {
  await sql.execute(
    `with a as (update access_tokens set revoked_at = now() where family_id = $1 and revoked_at is null)
     update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null`,
    [familyId],
  );
}

export interface AccessTokenInfo {
  id: string;
  active: boolean;
  scopes: string[];
  clientId: string;
  applicationId: string;
  userId: string | null;
  username: string | null;
  grantId: string | null;
  issuedAt: Date;
  expiresAt: Date;
}

/** One indexed lookup on the digest; `active` means not revoked, not expired, user still active. */
export async function findAccessToken(sql: Sql, value: string): Promise<AccessTokenInfo | null> {
  if (value.length > 4096) return null;
  const rows = await sql.query<{
    id: string;
    scopes: string[];
    client_id: string;
    application_id: string;
    user_id: string | null;
    username: string | null;
    grant_id: string | null;
    created_at: Date;
    expires_at: Date;
    active: boolean;
  }>(
    `select t.id, t.scopes, a.client_id, t.application_id, t.user_id, u.username, t.grant_id, t.created_at, t.expires_at,
            (t.revoked_at is null and t.expires_at > now() and (t.user_id is null or u.is_active)) as active
       from access_tokens t
       join applications a on a.id = t.application_id
       left join users u on u.id = t.user_id
      where t.token_digest = $1`,
    [digest(value)],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    active: r.active,
    scopes: r.scopes,
    clientId: r.client_id,
    applicationId: r.application_id,
    userId: r.user_id,
    username: r.username,
    grantId: r.grant_id,
    issuedAt: r.created_at,
    expiresAt: r.expires_at,
  };
}

export interface RefreshTokenInfo {
  id: string;
  active: boolean;
  scopes: string[];
  clientId: string;
  applicationId: string;
  userId: string;
  username: string;
  familyId: string;
  issuedAt: Date;
  expiresAt: Date;
}

export async function findRefreshToken(sql: Sql, value: string): Promise<RefreshTokenInfo | null> {
  if (value.length > 4096) return null;
  const rows = await sql.query<{
    id: string;
    scopes: string[];
    client_id: string;
    application_id: string;
    user_id: string;
    username: string;
    family_id: string;
    created_at: Date;
    expires_at: Date;
    active: boolean;
  }>(
    `select t.id, t.scopes, a.client_id, t.application_id, t.user_id, u.username, t.family_id, t.created_at, t.expires_at,
            (t.revoked_at is null and t.consumed_at is null and t.expires_at > now() and u.is_active) as active
       from refresh_tokens t
       join applications a on a.id = t.application_id
       join users u on u.id = t.user_id
      where t.token_digest = $1`,
    [digest(value)],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    active: r.active,
    scopes: r.scopes,
    clientId: r.client_id,
    applicationId: r.application_id,
    userId: r.user_id,
    username: r.username,
    familyId: r.family_id,
    issuedAt: r.created_at,
    expiresAt: r.expires_at,
  };
}
