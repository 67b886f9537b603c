import type { Sql } from '../sql.js';
import {
  ACCESS_TOKEN_PARAMS,
  type AccessTokenToStore,
  accessTokenInsert,
  accessTokenValues,
} from './access-tokens.js';
import { resourceHeld, touchGrant } from './grants.js';
import { statement } from './statement.js';
import { userEnabled } from './users.js';

/** The columns every refresh-token insert writes, in the order refreshTokenInsert supplies them. */
const REFRESH_TOKEN_COLUMNS =
  'id, token_digest, application_id, user_id, grant_id, family_id, parent_id, scopes, auth_time, sid, expires_at, resources, jkt';

/**
 * A refresh token is active while it is not revoked, not consumed (rotated), not expired, and its
 * user is enabled. `user` is the alias of a join of users on the token's user_id.
 */
export function refreshTokenActive(token: string, user: string): string {
  return `(${token}.revoked_at is null and ${token}.consumed_at is null and ${token}.expires_at > now() and ${userEnabled(user)})`;
}

export interface RefreshTokenToStore {
  id: string;
  digest: Buffer;
  /** RFC 9449 §5: the DPoP key a public client's refresh token is bound to, or null. */
  jkt: string | null;
}

/** The named parameters of refreshTokenInsert. */
export const REFRESH_TOKEN_PARAMS = ['refresh_id', 'refresh_digest', 'refresh_ttl', 'refresh_jkt'] as const;
type RefreshTokenParam = (typeof REFRESH_TOKEN_PARAMS)[number];

/** A null refresh token makes refreshTokenInsert write nothing (its id is null). */
export function refreshTokenValues(
  token: RefreshTokenToStore | null,
  ttl: number,
): Record<RefreshTokenParam, unknown> {
  return {
    refresh_id: token?.id ?? null,
    refresh_digest: token?.digest ?? null,
    refresh_ttl: ttl,
    refresh_jkt: token?.jkt ?? null,
  };
}

/**
 * An INSERT of one refresh token whose owner columns come from SQL expressions; nothing is written
 * when `:refresh_id` is null (the client may not refresh).
 */
export function refreshTokenInsert(
  owner: {
    application: string;
    user: string;
    grant: string;
    family: string;
    parent: string;
    scopes: string;
    authTime: string;
    sid: string;
    /** The resources (RFC 8707) later refreshes may ask for. */
    resources: string;
  },
  from: string | null,
): string {
  return `insert into refresh_tokens (${REFRESH_TOKEN_COLUMNS})
       select :refresh_id, :refresh_digest, ${owner.application}, ${owner.user}, ${owner.grant}, ${owner.family},
              ${owner.parent}, ${owner.scopes}, ${owner.authTime}, ${owner.sid}, now() + make_interval(secs => :refresh_ttl),
              ${owner.resources}, :refresh_jkt::text
         ${from ? `from ${from}` : ''} where :refresh_id::uuid is not null`;
}

/** The named parameters of tokenPairFrom. */
export const TOKEN_PAIR_PARAMS = [...ACCESS_TOKEN_PARAMS, ...REFRESH_TOKEN_PARAMS] as const;
export type TokenPairParam = (typeof TOKEN_PAIR_PARAMS)[number];

export function tokenPairValues(
  access: AccessTokenToStore,
  refresh: RefreshTokenToStore | null,
  refreshTtl: number,
): Record<TokenPairParam, unknown> {
  return { ...accessTokenValues(access), ...refreshTokenValues(refresh, refreshTtl) };
}

/**
 * Two CTEs (`a`, `r`) writing the tokens for a row just consumed by CTE `source` (an
 * authorization or device code with id, application_id, user_id, grant_id, scopes, resources,
 * auth_time, sid): an access token, and a refresh token unless `:refresh_id` is null. The code's id becomes
 * the family.
 */
export function tokenPairFrom(source: string): string {
  const owner = {
    application: `${source}.application_id`,
    user: `${source}.user_id`,
    grant: `${source}.grant_id`,
    family: `${source}.id`,
    scopes: `${source}.scopes`,
  };
  return `
     a as (${accessTokenInsert(owner, source)}),
     r as (${refreshTokenInsert(
       {
         ...owner,
         parent: 'null::uuid',
         authTime: `${source}.auth_time`,
         sid: `${source}.sid`,
         resources: `${source}.resources`,
       },
       source,
     )})`;
}

/** Whom a token pair written outside a code is for (password grant, provisioning). */
export interface TokenPairOwner {
  applicationId: string;
  userId: string;
  grantId: string | null;
  familyId: string;
  scopes: string[];
  authTime: Date | null;
  sid: string | null;
  /** The resources (RFC 8707) of the grant; absent: none. */
  resources?: string[];
}

const OWNER_PARAMS = [
  'application_id',
  'user_id',
  'grant_id',
  'family_id',
  'scopes',
  'auth_time',
  'sid',
  'resources',
] as const;
const LITERAL_OWNER = {
  application: ':application_id::uuid',
  user: ':user_id::uuid',
  grant: ':grant_id::uuid',
  family: ':family_id::uuid',
  scopes: ':scopes::text[]',
  authTime: ':auth_time::timestamptz',
  sid: ':sid::uuid',
  resources: ':resources::text[]',
};

function ownerValues(o: TokenPairOwner) {
  return {
    application_id: o.applicationId,
    user_id: o.userId,
    grant_id: o.grantId,
    family_id: o.familyId,
    scopes: o.scopes,
    auth_time: o.authTime,
    sid: o.sid,
    resources: o.resources ?? [],
  };
}

const INSERT_PAIR = statement(
  [...TOKEN_PAIR_PARAMS, ...OWNER_PARAMS],
  `with a as (${accessTokenInsert(LITERAL_OWNER, null)})
   ${refreshTokenInsert({ ...LITERAL_OWNER, parent: 'null::uuid' }, null)}`,
);

/** An access token and, when given, a refresh token for a user, in one statement. */
export async function insertTokenPair(
  sql: Sql,
  access: AccessTokenToStore,
  refresh: RefreshTokenToStore | null,
  refreshTtl: number,
  owner: TokenPairOwner,
): Promise<void> {
  await sql.execute(
    INSERT_PAIR.text,
    INSERT_PAIR.values({ ...tokenPairValues(access, refresh, refreshTtl), ...ownerValues(owner) }),
  );
}

export interface RotatedFrom {
  id: string;
  userId: string;
  grantId: string | null;
  familyId: string;
  /** The scopes of the presented refresh token (the new one keeps them, RFC 6749 §6). */
  scopes: string[];
  authTime: Date | null;
  sid: string | null;
  /** The resources (RFC 8707) the successor keeps: each later refresh may name any of them. */
  resources: string[];
}

interface RotatedDbRow {
  id: string;
  user_id: string;
  grant_id: string | null;
  family_id: string;
  scopes: string[];
  resources: string[];
  auth_time: Date | null;
  sid: string | null;
}

/** RFC 9449 §5: a bound refresh token is used only with a proof of its key (`t`: the token). */
const REFRESH_KEY_MATCHES = '(t.jkt is null or t.jkt = :proof_jkt::text)';

const ROTATE = statement(
  [
    ...TOKEN_PAIR_PARAMS,
    'token_digest',
    'application_id',
    'requested_scopes',
    'audience',
    'proof_jkt',
    'rotate',
  ],
  `with c as (
     update refresh_tokens t set consumed_at = case when :rotate::boolean then now() end
       from users u
      where t.token_digest = :token_digest and t.application_id = :application_id
        and u.id = t.user_id and ${refreshTokenActive('t', 'u')}
        and (:requested_scopes::text[] is null or t.scopes @> :requested_scopes::text[])
        and ${resourceHeld('t.resources', ':audience')}
        and ${REFRESH_KEY_MATCHES}
     returning t.id, t.user_id, t.grant_id, t.family_id, t.scopes, t.resources, t.auth_time, t.sid),
   a as (${accessTokenInsert(
     {
       application: ':application_id',
       user: 'c.user_id',
       grant: 'c.grant_id',
       family: 'c.family_id',
       scopes: 'coalesce(:requested_scopes::text[], c.scopes)',
     },
     'c',
   )}),
   n as (${refreshTokenInsert(
     {
       application: ':application_id',
       user: 'c.user_id',
       grant: 'c.grant_id',
       family: 'c.family_id',
       parent: 'c.id',
       scopes: 'c.scopes',
       authTime: 'c.auth_time',
       sid: 'c.sid',
       resources: 'c.resources',
     },
     'c',
   )}),
   ${touchGrant('c')}
   select * from c`,
);

/**
 * Refresh-token rotation in one conditional statement: the presented token is consumed only if
 * it is active, belongs to the client and covers the requested scopes; the new pair is written in
 * the same statement. Of N parallel rotations exactly one matches; the rest get null.
 * Without rotation (`refresh` null: an application with rotateRefreshTokens off) the same
 * statement leaves the token active (consumed_at stays null), writes only the access token, and
 * parallel refreshes each get one.
 */
export async function rotateRefreshToken(
  sql: Sql,
  p: {
    digest: Buffer;
    applicationId: string;
    requestedScopes: string[] | null;
    /** The resource (RFC 8707) asked for; it must be one the token holds. */
    audience: string | null;
    access: AccessTokenToStore;
    /** The successor; null: no rotation, the presented token stays the client's. */
    refresh: RefreshTokenToStore | null;
    refreshTtl: number;
    /** The thumbprint of the request's DPoP proof key, or null without a proof. */
    proofJkt: string | null;
  },
): Promise<RotatedFrom | null> {
  const rows = await sql.query<RotatedDbRow>(
    ROTATE.text,
    ROTATE.values({
      ...tokenPairValues(p.access, p.refresh, p.refreshTtl),
      token_digest: p.digest,
      application_id: p.applicationId,
      requested_scopes: p.requestedScopes,
      audience: p.audience,
      proof_jkt: p.proofJkt,
      rotate: p.refresh !== null,
    }),
  );
  const r = rows[0];
  return r ? toRotatedFrom(r) : null;
}

function toRotatedFrom(r: RotatedDbRow): RotatedFrom {
  return {
    id: r.id,
    userId: r.user_id,
    grantId: r.grant_id,
    familyId: r.family_id,
    scopes: r.scopes,
    authTime: r.auth_time,
    sid: r.sid,
    resources: r.resources,
  };
}

export interface RefreshDiagnosis extends RotatedFrom {
  applicationId: string;
  revoked: boolean;
  expired: boolean;
  /** Seconds since it was consumed (rotated), or null if it was not. */
  consumedAgo: number | null;
  userActive: boolean;
  /** RFC 9449 §5: the DPoP key the token is bound to, or null. */
  jkt: string | null;
}

const DIAGNOSE = statement(
  ['token_digest'],
  `select t.id, t.application_id, t.user_id, t.grant_id, t.family_id, t.scopes, t.resources, t.auth_time, t.sid,
          t.revoked_at is not null as revoked, t.expires_at <= now() as expired,
          extract(epoch from now() - t.consumed_at)::float8 as consumed_ago, ${userEnabled('u')} as user_active, t.jkt
     from refresh_tokens t join users u on u.id = t.user_id
    where t.token_digest = :token_digest`,
);

/** Why a rotation did not happen: read only on the failure path. */
export async function diagnoseRefreshToken(sql: Sql, digest: Buffer): Promise<RefreshDiagnosis | null> {
  const rows = await sql.query<
    RotatedDbRow & {
      application_id: string;
      revoked: boolean;
      expired: boolean;
      consumed_ago: number | null;
      user_active: boolean;
      jkt: string | null;
    }
  >(DIAGNOSE.text, DIAGNOSE.values({ token_digest: digest }));
  const r = rows[0];
  if (!r) return null;
  return {
    ...toRotatedFrom(r),
    applicationId: r.application_id,
    revoked: r.revoked,
    expired: r.expired,
    consumedAgo: r.consumed_ago,
    userActive: r.user_active,
    jkt: r.jkt,
  };
}

const REISSUE = statement(
  [...TOKEN_PAIR_PARAMS, ...OWNER_PARAMS, 'parent_id', 'access_scopes'],
  `with old as (
     update refresh_tokens set revoked_at = now()
      where parent_id = :parent_id and consumed_at is null and revoked_at is null returning id),
   a as (${accessTokenInsert({ ...LITERAL_OWNER, scopes: ':access_scopes::text[]' }, null)})
   ${refreshTokenInsert({ ...LITERAL_OWNER, parent: ':parent_id::uuid' }, null)}`,
);

/**
 * Answers a retry within the grace window: the successors issued for the presented token that
 * were never used are revoked, and a fresh pair is written in the same statement.
 */
export async function reissueWithinGrace(
  sql: Sql,
  from: RefreshDiagnosis,
  scopes: string[],
  access: AccessTokenToStore,
  refresh: RefreshTokenToStore,
  refreshTtl: number,
): Promise<void> {
  await sql.execute(
    REISSUE.text,
    REISSUE.values({
      ...tokenPairValues(access, refresh, refreshTtl),
      ...ownerValues(from),
      parent_id: from.id,
      access_scopes: scopes,
    }),
  );
}

/** What introspection says about a refresh token. */
export interface RefreshTokenRecord {
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

const FIND = statement(
  ['token_digest'],
  `select t.id, t.scopes, a.client_id, t.application_id, t.user_id, u.username, t.family_id, t.created_at, t.expires_at,
          ${refreshTokenActive('t', 'u')} as active
     from refresh_tokens t
     join applications a on a.id = t.application_id
     join users u on u.id = t.user_id
    where t.token_digest = :token_digest`,
);

export async function findRefreshToken(sql: Sql, digest: Buffer): Promise<RefreshTokenRecord | null> {
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
  }>(FIND.text, FIND.values({ token_digest: digest }));
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

/**
 * Two CTEs revoking every access and refresh token of the families `families` (an SQL
 * expression yielding family ids). The one definition of "revoke a family": code replay, refresh
 * reuse, RFC 7009 revocation and the token list all use it.
 */
function revokeFamilies(families: string): string {
  return `
     family_refresh as (update refresh_tokens set revoked_at = now()
                         where family_id in (${families}) and revoked_at is null),
     family_access as (update access_tokens set revoked_at = now()
                        where family_id in (${families}) and revoked_at is null)`;
}

const REVOKE_FAMILY = statement(['family_id'], `with ${revokeFamilies(':family_id::uuid')} select 1`);

/** Revokes every access and refresh token of a family (code replay, refresh reuse, revocation). */
export async function revokeFamily(sql: Sql, familyId: string): Promise<void> {
  await sql.execute(REVOKE_FAMILY.text, REVOKE_FAMILY.values({ family_id: familyId }));
}

const REVOKE_PRESENTED = statement(
  ['token_digest', 'application_id'],
  `with presented as (
     select family_id from refresh_tokens where token_digest = :token_digest and application_id = :application_id),
   ${revokeFamilies('select family_id from presented')}
   update access_tokens set revoked_at = now()
    where token_digest = :token_digest and application_id = :application_id and revoked_at is null`,
);

/**
 * RFC 7009 in one statement: the presented value, if it is a refresh token of the client, takes
 * its family with it; if it is an access token of the client, that token is revoked.
 * A value of another client, or unknown, changes nothing.
 */
export async function revokePresentedToken(sql: Sql, digest: Buffer, applicationId: string): Promise<void> {
  await sql.execute(
    REVOKE_PRESENTED.text,
    REVOKE_PRESENTED.values({ token_digest: digest, application_id: applicationId }),
  );
}

const REVOKE_FOR_USER = statement(
  ['user_id'],
  'update refresh_tokens set revoked_at = now() where user_id = :user_id and revoked_at is null',
);

export async function revokeRefreshTokensOfUser(sql: Sql, userId: string): Promise<void> {
  await sql.execute(REVOKE_FOR_USER.text, REVOKE_FOR_USER.values({ user_id: userId }));
}
