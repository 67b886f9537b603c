import { Batcher, HOT_PATH_BATCHING } from '../db/batcher.js';
import type { Sql } from '../db/sql.js';
import {
  type AccessTokenRecord,
  type ActClaim,
  insertAccessTokens,
  selectAccessTokens,
  toAccessTokenRecord,
} from '../db/tables/access-tokens.js';
import {
  findRefreshToken as findRefreshTokenByDigest,
  type RefreshTokenRecord,
  insertTokenPair as writeTokenPair,
} from '../db/tables/refresh-tokens.js';
import { newId } from '../entities/base.js';
import type { ClientRecord } from './client-cache.js';
import type { ServerCtx } from './context.js';
import { signJwtAccessToken } from './jwt-access-token.js';
import type { ResourceRecord } from './resources.js';
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
  /** The resource (RFC 8707) the token is for; absent or null: the default audience. */
  resource?: ResourceRecord | null;
  /** RFC 9449: the thumbprint of the DPoP key the access token is bound to; absent or null: Bearer. */
  jkt?: string | null;
  /** RFC 8693 §4.1: the actor a token exchange delegated to (absent for every other grant). */
  act?: ActClaim | null;
  /** RFC 8693: at most this many seconds (what the exchanged subject token has left); absent: no cap. */
  maxExpiresIn?: number;
}

export interface MintedAccessToken {
  id: string;
  value: string;
  digest: Buffer;
  expiresIn: number;
  format: 'opaque' | 'jwt';
  /** The resource identifier (RFC 8707), or null for the default audience. */
  audience: string | null;
  /** RFC 9449: the DPoP key (thumbprint) it is bound to; null: a Bearer token. */
  jkt: string | null;
}

export { revokeFamily, revokePresentedToken } from '../db/tables/refresh-tokens.js';
export type { AccessTokenRecord, ActClaim, RefreshTokenRecord };

export interface MintedRefreshToken {
  id: string;
  value: string;
  digest: Buffer;
  /** RFC 9449 §5: the DPoP key a public client's refresh token is bound to, or null. */
  jkt: string | null;
}

/**
 * An opaque random value, or an RFC 9068 JWT. A token for a resource (RFC 8707) takes the
 * resource's format and lifetime (the resource server is who reads it); otherwise the
 * application's format and ACCESS_TOKEN_TTL.
 */
export async function mintAccessToken(ctx: ServerCtx, subject: TokenSubject): Promise<MintedAccessToken> {
  const id = newId();
  const resource = subject.resource ?? null;
  const ttl = resource?.accessTokenTtl ?? ctx.config.ttl.accessToken;
  const expiresIn = subject.maxExpiresIn === undefined ? ttl : Math.min(ttl, subject.maxExpiresIn);
  const format = resource ? resource.accessTokenFormat : subject.client.accessTokenFormat;
  const value =
    format === 'jwt' ? await signJwtAccessToken(ctx, subject, id, expiresIn) : newCredential('accessToken');
  return {
    id,
    value,
    digest: digest(value),
    expiresIn,
    format,
    audience: resource?.identifier ?? null,
    jkt: subject.jkt ?? null,
  };
}

/** Will a token for this client and resource be a JWT (which needs its subject before signing)? */
export function issuesJwt(client: ClientRecord, resource: ResourceRecord | null): boolean {
  return (resource ? resource.accessTokenFormat : client.accessTokenFormat) === 'jwt';
}

export function mintRefreshToken(jkt: string | null = null): MintedRefreshToken {
  const value = newCredential('refreshToken');
  return { id: newId(), value, digest: digest(value), jkt };
}

/**
 * The access-token hot paths, batched across concurrent requests: issuing (one multi-row
 * INSERT per batch; each caller answers only after its batch committed) and looking up by
 * digest (one `= any(...)` query per batch; every lookup still reads after its request
 * arrived, so a revocation is visible at once).
 */
export class AccessTokenStore {
  private readonly inserts: Batcher<{ token: MintedAccessToken; subject: TokenSubject }, undefined>;
  private readonly lookups: Batcher<Buffer, AccessTokenRecord | null>;

  constructor(sql: Sql) {
    this.inserts = new Batcher(
      async (rows) => {
        try {
          await insertAccessTokens(sql, rows);
          return rows.map(() => undefined);
        } catch (err) {
          if (rows.length === 1) return [err as Error];
          // One bad row must not fail its neighbours: write them one by one.
          return Promise.all(
            rows.map((r) =>
              insertAccessTokens(sql, [r]).then(
                () => undefined,
                (e: unknown) => e as Error,
              ),
            ),
          );
        }
      },
      { ...HOT_PATH_BATCHING, name: 'access_token_insert' },
    );
    this.lookups = new Batcher(
      async (digests) => {
        const rows = await selectAccessTokens(sql, digests);
        const byDigest = new Map(rows.map((r) => [Buffer.from(r.token_digest).toString('hex'), r]));
        return digests.map((d) => toAccessTokenRecord(byDigest.get(d.toString('hex'))));
      },
      { ...HOT_PATH_BATCHING, name: 'access_token_lookup' },
    );
  }

  insert(token: MintedAccessToken, subject: TokenSubject): Promise<undefined> {
    return this.inserts.submit({ token, subject });
  }

  find(value: string): Promise<AccessTokenRecord | null> {
    if (value.length > 4096) return Promise.resolve(null);
    return this.lookups.submit(digest(value));
  }
}

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
 * (password grant; codes and refreshes have their own atomic statements).
 */
export async function insertTokenPair(
  sql: Sql,
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  subject: TokenSubject & { familyId: string; userId: string },
  refreshTtl: number,
  session: { authTime: Date | null; sid: string | null },
): Promise<void> {
  await writeTokenPair(sql, access, refresh, refreshTtl, {
    applicationId: subject.client.id,
    userId: subject.userId,
    grantId: subject.grantId,
    familyId: subject.familyId,
    scopes: subject.scopes,
    resources: subject.resource ? [subject.resource.identifier] : [],
    authTime: session.authTime,
    sid: session.sid,
  });
}

/** One indexed lookup on the digest (batched with concurrent lookups). */
export function findAccessToken(ctx: ServerCtx, value: string): Promise<AccessTokenRecord | null> {
  return store(ctx).find(value);
}

export async function findRefreshToken(sql: Sql, value: string): Promise<RefreshTokenRecord | null> {
  if (value.length > 4096) return null;
  return findRefreshTokenByDigest(sql, digest(value));
}
