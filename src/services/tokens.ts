import { Batcher } from '../db/batcher.js';
import type { Sql } from '../db/sql.js';
import { newId } from '../entities/base.js';
import type { ClientRecord } from './client-cache.js';
import type { ServerCtx } from './context.js';
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
export async function mintAccessToken(ctx: ServerCtx, subject: TokenSubject): Promise<MintedAccessToken> {
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

/** One access token row to write. */
interface AccessTokenRow {
  token: MintedAccessToken;
  subject: TokenSubject;
}

const INSERT_ACCESS_TOKENS = `
  insert into access_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at)
  select u.id, u.digest, u.app, u.usr, u.grant_id, u.family, string_to_array(u.scopes, ' '), u.format,
         now() + make_interval(secs => u.ttl)
    from unnest($1::uuid[], $2::bytea[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::int[])
      as u(id, digest, app, usr, grant_id, family, scopes, format, ttl)`;

async function writeAccessTokens(sql: Sql, rows: AccessTokenRow[]): Promise<void> {
  await sql.execute(INSERT_ACCESS_TOKENS, [
    rows.map((r) => r.token.id),
    rows.map((r) => r.token.digest),
    rows.map((r) => r.subject.client.id),
    rows.map((r) => r.subject.userId),
    rows.map((r) => r.subject.grantId),
    rows.map((r) => r.subject.familyId),
    rows.map((r) => r.subject.scopes.join(' ')),
    rows.map((r) => r.token.format),
    rows.map((r) => r.token.expiresIn),
  ]);
}

/**
 * The access-token hot paths, batched across concurrent requests: issuing (one multi-row
 * INSERT per batch; each caller answers only after its batch committed) and looking up by
 * digest (one `= any(...)` query per batch; every lookup still reads after its request
 * arrived, so a revocation is visible at once).
 */
export class AccessTokenStore {
  private readonly inserts: Batcher<AccessTokenRow, undefined>;
  private readonly lookups: Batcher<Buffer, AccessTokenRecord | null>;

  constructor(sql: Sql) {
    this.inserts = new Batcher(async (rows) => {
      try {
        await writeAccessTokens(sql, rows);
        return rows.map(() => undefined);
      } catch (err) {
        if (rows.length === 1) return [err as Error];
        // One bad row must not fail its neighbours: write them one by one.
        return Promise.all(
          rows.map((r) =>
            writeAccessTokens(sql, [r]).then(
              () => undefined,
              (e: unknown) => e as Error,
            ),
          ),
        );
      }
    }, BATCHING);
    this.lookups = new Batcher(async (digests) => {
      const rows = await selectAccessTokens(sql, digests);
      const byDigest = new Map(rows.map((r) => [Buffer.from(r.token_digest).toString('hex'), r]));
      return digests.map((d) => toAccessTokenRecord(byDigest.get(d.toString('hex'))));
    }, BATCHING);
  }

  insert(token: MintedAccessToken, subject: TokenSubject): Promise<undefined> {
    return this.inserts.submit({ token, subject });
  }

  find(value: string): Promise<AccessTokenRecord | null> {
    if (value.length > 4096) return Promise.resolve(null);
    return this.lookups.submit(digest(value));
  }
}

/** At most 4 statements of a kind in flight, up to 200 rows each. */
const BATCHING = { maxBatch: 200, maxInFlight: 4 };

function store(ctx: ServerCtx): AccessTokenStore {
  return ctx.runtime.accessTokens;
}

/** Writes an access token (the client_credentials and implicit paths). */
export async function insertAccessToken(
  ctx: ServerCtx,
  token: MintedAccessToken,
  subject: TokenSubject,
): Promise<void> {
  await store(ctx).insert(token, subject);
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

/**
 * The two CTEs that write the tokens for a row just consumed by the CTE `c` (an authorization
 * or device code: it has id, application_id, user_id, grant_id, scopes, auth_time, sid): an access
 * token, and a refresh token unless its id ($6) is null. The code's id becomes the family.
 * Parameters $2–$8 are `issueParams(...)`.
 */
export const ISSUE_FROM_CONSUMED = `
     a as (
       insert into access_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at)
       select $2, $3, c.application_id, c.user_id, c.grant_id, c.id, c.scopes, $4, now() + make_interval(secs => $5) from c),
     r as (
       insert into refresh_tokens (id, token_digest, application_id, user_id, grant_id, family_id, scopes, auth_time, sid, expires_at)
       select $6, $7, c.application_id, c.user_id, c.grant_id, c.id, c.scopes, c.auth_time, c.sid,
              now() + make_interval(secs => $8)
         from c where $6::uuid is not null)`;

export function issueParams(
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  refreshTtl: number,
): unknown[] {
  return [
    access.id,
    access.digest,
    access.format,
    access.expiresIn,
    refresh?.id ?? null,
    refresh?.digest ?? null,
    refreshTtl,
  ];
}

/** Revokes every access and refresh token of a family (code replay, refresh reuse, revocation). */
export async function revokeFamily(sql: Sql, familyId: string): Promise<void> {
  await sql.execute(
    `with a as (update access_tokens set revoked_at = now() where family_id = $1 and revoked_at is null)
     update refresh_tokens set revoked_at = now() where family_id = $1 and revoked_at is null`,
    [familyId],
  );
}

/** An access token with what introspection, userinfo and Bearer checks need to know. */
export interface AccessTokenRecord {
  id: string;
  /** Not revoked, not expired, and (for user tokens) the user is enabled. */
  active: boolean;
  scopes: string[];
  clientId: string;
  applicationId: string;
  userId: string | null;
  grantId: string | null;
  issuedAt: Date;
  expiresAt: Date;
  user: {
    username: string;
    email: string | null;
    emailVerified: boolean;
    isAdmin: boolean;
    updatedAt: Date;
  } | null;
}

interface AccessTokenDbRow {
  token_digest: Uint8Array;
  id: string;
  scopes: string[];
  client_id: string;
  application_id: string;
  user_id: string | null;
  grant_id: string | null;
  created_at: Date;
  expires_at: Date;
  active: boolean;
  username: string | null;
  email: string | null;
  email_verified: boolean | null;
  is_admin: boolean | null;
  user_updated_at: Date | null;
}

function selectAccessTokens(sql: Sql, digests: Buffer[]): Promise<AccessTokenDbRow[]> {
  return sql.query<AccessTokenDbRow>(
    `select t.token_digest, t.id, t.scopes, a.client_id, t.application_id, t.user_id, t.grant_id, t.created_at, t.expires_at,
            (t.revoked_at is null and t.expires_at > now() and (t.user_id is null or u.is_active)) as active,
            u.username, u.email, u.email_verified, u.is_admin, u.updated_at as user_updated_at
       from access_tokens t
       join applications a on a.id = t.application_id
       left join users u on u.id = t.user_id
      where t.token_digest = any($1::bytea[])`,
    [digests],
  );
}

function toAccessTokenRecord(r: AccessTokenDbRow | undefined): AccessTokenRecord | null {
  if (!r) return null;
  return {
    id: r.id,
    active: r.active,
    scopes: r.scopes,
    clientId: r.client_id,
    applicationId: r.application_id,
    userId: r.user_id,
    grantId: r.grant_id,
    issuedAt: r.created_at,
    expiresAt: r.expires_at,
    user: r.username
      ? {
          username: r.username,
          email: r.email,
          emailVerified: Boolean(r.email_verified),
          isAdmin: Boolean(r.is_admin),
          updatedAt: r.user_updated_at!,
        }
      : null,
  };
}

/** One indexed lookup on the digest (batched with concurrent lookups). */
export function findAccessToken(ctx: ServerCtx, value: string): Promise<AccessTokenRecord | null> {
  return store(ctx).find(value);
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
