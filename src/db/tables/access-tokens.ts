import type { Sql } from '../sql.js';
import { statement } from './statement.js';
import { userEnabled } from './users.js';

/** The columns every access-token insert writes, in the order the insert fragments supply them. */
export const ACCESS_TOKEN_COLUMNS =
  'id, token_digest, application_id, user_id, grant_id, family_id, scopes, format, expires_at, audience, jkt';

/**
 * An access token is active while it is not revoked, not expired and, when it was issued to a
 * user, that user is enabled. The one definition: introspection, userinfo, Bearer checks, the
 * GraphQL token list and the per-application counts all select it. `user` is the alias of a
 * LEFT JOIN of users on the token's user_id.
 */
export function accessTokenActive(token: string, user: string): string {
  return `(${token}.revoked_at is null and ${token}.expires_at > now() and (${token}.user_id is null or ${userEnabled(user)}))`;
}

/** RFC 8693 §4.1 `act`: who acts (`sub`, and the client it acted through), nested for a chain. */
export interface ActClaim {
  sub: string;
  client_id?: string;
  act?: ActClaim;
}

/** What a minted access token contributes to its row. */
export interface AccessTokenToStore {
  id: string;
  digest: Buffer;
  format: 'opaque' | 'jwt';
  expiresIn: number;
  /** The resource (RFC 8707) the token is for; null: the default audience. */
  audience: string | null;
  /** RFC 9449: the thumbprint of the DPoP key the token is bound to; null: a Bearer token. */
  jkt: string | null;
}

/** Whom an access token is for. */
export interface AccessTokenOwner {
  client: { id: string };
  userId: string | null;
  grantId: string | null;
  familyId: string | null;
  scopes: string[];
}

/** The named parameters of accessTokenInsert. */
export const ACCESS_TOKEN_PARAMS = [
  'access_id',
  'access_digest',
  'access_format',
  'access_ttl',
  'access_audience',
  'access_jkt',
] as const;
type AccessTokenParam = (typeof ACCESS_TOKEN_PARAMS)[number];

export function accessTokenValues(token: AccessTokenToStore): Record<AccessTokenParam, unknown> {
  return {
    access_id: token.id,
    access_digest: token.digest,
    access_format: token.format,
    access_ttl: token.expiresIn,
    access_audience: token.audience,
    access_jkt: token.jkt,
  };
}

/**
 * An INSERT of one access token whose owner columns come from SQL expressions (typically a CTE
 * row consumed in the same statement: a code, a device code, a refresh token). The token's own
 * fields are the named parameters ACCESS_TOKEN_PARAMS.
 */
export function accessTokenInsert(
  owner: { application: string; user: string; grant: string; family: string; scopes: string },
  from: string | null,
  /** RFC 8693 §4.1: an SQL expression for the `act` column (token exchange only; others leave it null). */
  act?: string,
): string {
  return `insert into access_tokens (${ACCESS_TOKEN_COLUMNS}${act ? ', act' : ''})
       select :access_id, :access_digest, ${owner.application}, ${owner.user}, ${owner.grant}, ${owner.family},
              ${owner.scopes}, :access_format, now() + make_interval(secs => :access_ttl), :access_audience::text, :access_jkt::text${act ? `, ${act}` : ''}${from ? ` from ${from}` : ''}`;
}

const INSERT_MANY = `
  insert into access_tokens (${ACCESS_TOKEN_COLUMNS})
  select u.id, u.digest, u.app, u.usr, u.grant_id, u.family, string_to_array(u.scopes, ' '), u.format,
         now() + make_interval(secs => u.ttl), u.audience, u.jkt
    from unnest($1::uuid[], $2::bytea[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[])
      as u(id, digest, app, usr, grant_id, family, scopes, format, ttl, audience, jkt)`;

/** Writes many access tokens in one statement (the batched issue path). */
export async function insertAccessTokens(
  sql: Sql,
  rows: ReadonlyArray<{ token: AccessTokenToStore; subject: AccessTokenOwner }>,
): Promise<void> {
  await sql.execute(INSERT_MANY, [
    rows.map((r) => r.token.id),
    rows.map((r) => r.token.digest),
    rows.map((r) => r.subject.client.id),
    rows.map((r) => r.subject.userId),
    rows.map((r) => r.subject.grantId),
    rows.map((r) => r.subject.familyId),
    rows.map((r) => r.subject.scopes.join(' ')),
    rows.map((r) => r.token.format),
    rows.map((r) => r.token.expiresIn),
    rows.map((r) => r.token.audience),
    rows.map((r) => r.token.jkt),
  ]);
}

/** An access token with what introspection, userinfo and Bearer checks need to know. */
export interface AccessTokenRecord {
  id: string;
  /** accessTokenActive, as the database evaluated it. */
  active: boolean;
  scopes: string[];
  clientId: string;
  applicationId: string;
  userId: string | null;
  grantId: string | null;
  /** The resource (RFC 8707) the token is for; null: the default audience. */
  audience: string | null;
  /** RFC 9449: the DPoP key the token is bound to (RFC 7638 thumbprint), or null. */
  jkt: string | null;
  /** RFC 8693 §4.1: the actor of an exchanged (delegated) token, or null. */
  act: ActClaim | null;
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

export interface AccessTokenDbRow {
  token_digest: Uint8Array;
  id: string;
  scopes: string[];
  client_id: string;
  application_id: string;
  user_id: string | null;
  grant_id: string | null;
  audience: string | null;
  jkt: string | null;
  act: ActClaim | null;
  created_at: Date;
  expires_at: Date;
  active: boolean;
  username: string | null;
  email: string | null;
  email_verified: boolean | null;
  is_admin: boolean | null;
  user_updated_at: Date | null;
}

const SELECT_BY_DIGESTS = `
  select t.token_digest, t.id, t.scopes, a.client_id, t.application_id, t.user_id, t.grant_id, t.audience, t.jkt, t.act, t.created_at, t.expires_at,
         ${accessTokenActive('t', 'u')} as active,
         u.username, u.email, u.email_verified, u.is_admin, u.updated_at as user_updated_at
    from access_tokens t
    join applications a on a.id = t.application_id
    left join users u on u.id = t.user_id
   where t.token_digest = any($1::bytea[])`;

/** Many lookups by digest in one indexed query (the batched lookup path). */
export function selectAccessTokens(sql: Sql, digests: Buffer[]): Promise<AccessTokenDbRow[]> {
  return sql.query<AccessTokenDbRow>(SELECT_BY_DIGESTS, [digests]);
}

export function toAccessTokenRecord(r: AccessTokenDbRow | undefined): AccessTokenRecord | null {
  if (!r) return null;
  return {
    id: r.id,
    active: r.active,
    scopes: r.scopes,
    clientId: r.client_id,
    applicationId: r.application_id,
    userId: r.user_id,
    grantId: r.grant_id,
    audience: r.audience,
    jkt: r.jkt,
    act: r.act,
    issuedAt: r.created_at,
    expiresAt: r.expires_at,
    user:
      r.username && r.user_updated_at
        ? {
            username: r.username,
            email: r.email,
            emailVerified: Boolean(r.email_verified),
            isAdmin: Boolean(r.is_admin),
            updatedAt: r.user_updated_at,
          }
        : null,
  };
}

const REVOKE_ONE = statement(
  ['id'],
  'update access_tokens set revoked_at = now() where id = :id and revoked_at is null',
);

export async function revokeAccessToken(sql: Sql, id: string): Promise<void> {
  await sql.execute(REVOKE_ONE.text, REVOKE_ONE.values({ id }));
}

const REVOKE_FOR_USER = statement(
  ['user_id'],
  'update access_tokens set revoked_at = now() where user_id = :user_id and revoked_at is null',
);

export async function revokeAccessTokensOfUser(sql: Sql, userId: string): Promise<void> {
  await sql.execute(REVOKE_FOR_USER.text, REVOKE_FOR_USER.values({ user_id: userId }));
}

const COUNT_ACTIVE = statement(
  ['application_ids'],
  `select t.application_id, count(*)::int as n
     from access_tokens t left join users u on u.id = t.user_id
    where t.application_id = any(:application_ids::uuid[]) and ${accessTokenActive('t', 'u')}
    group by t.application_id`,
);

/** Active access tokens per application, for many applications in one grouped query. */
export async function countActiveAccessTokens(
  sql: Sql,
  applicationIds: readonly string[],
): Promise<Map<string, number>> {
  const rows = await sql.query<{ application_id: string; n: number }>(
    COUNT_ACTIVE.text,
    COUNT_ACTIVE.values({ application_ids: [...applicationIds] }),
  );
  return new Map(rows.map((r) => [r.application_id, r.n]));
}
