import type { Sql } from '../db/sql.js';
import { newId } from '../entities/base.js';
import { MERGE_INTO_ACTIVE_GRANT, touchGrant } from './grants.js';
import { digest, newCredential } from './secrets.js';
import {
  ISSUE_FROM_CONSUMED,
  issueParams,
  type MintedAccessToken,
  type MintedRefreshToken,
} from './tokens.js';

export interface NewCode {
  applicationId: string;
  userId: string;
  redirectUri: string | null;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  nonce: string | null;
  authTime: Date;
  sid: string | null;
  ttlSeconds: number;
}

/**
 * Records the consent (the user's grant for the application gains the scopes, unless it already
 * covers them) and stores a new authorization code under it — one statement. Returns the code
 * value for the redirect.
 */
export async function createAuthorizationCode(sql: Sql, code: NewCode): Promise<string> {
  const value = newCredential('authorizationCode');
  await sql.execute(
    `with existing as (
       select id from grants
        where user_id = $4 and application_id = $3 and revoked_at is null and scopes @> $6::text[]),
     added as (
       insert into grants as g (id, user_id, application_id, scopes, last_used_at)
       select $13, $4, $3, $6, now() where not exists (select 1 from existing)
       ${MERGE_INTO_ACTIVE_GRANT}
       returning id),
     grant_row as (select id from existing union all select id from added)
     insert into authorization_codes (id, code_digest, application_id, user_id, grant_id, redirect_uri, scopes,
       code_challenge, code_challenge_method, nonce, auth_time, sid, expires_at)
     select $1, $2, $3, $4, grant_row.id, $5, $6, $7, $8, $9, $10, $11, now() + make_interval(secs => $12)
       from grant_row limit 1`,
    [
      newId(),
      digest(value),
      code.applicationId,
      code.userId,
      code.redirectUri,
      code.scopes,
      code.codeChallenge,
      code.codeChallengeMethod,
      code.nonce,
      code.authTime,
      code.sid,
      code.ttlSeconds,
      newId(),
    ],
  );
  return value;
}

export interface StoredCode {
  id: string;
  applicationId: string;
  userId: string;
  grantId: string;
  redirectUri: string | null;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  nonce: string | null;
  authTime: Date;
  sid: string | null;
  consumed: boolean;
  expired: boolean;
}

export async function findAuthorizationCode(sql: Sql, value: string): Promise<StoredCode | null> {
  if (value.length > 512) return null;
  const rows = await sql.query<{
    id: string;
    application_id: string;
    user_id: string;
    grant_id: string;
    redirect_uri: string | null;
    scopes: string[];
    code_challenge: string | null;
    code_challenge_method: 'S256' | 'plain' | null;
    nonce: string | null;
    auth_time: Date;
    sid: string | null;
    consumed: boolean;
    expired: boolean;
  }>(
    `select id, application_id, user_id, grant_id, redirect_uri, scopes, code_challenge, code_challenge_method, nonce,
            auth_time, sid, consumed_at is not null as consumed, expires_at <= now() as expired
       from authorization_codes where code_digest = $1`,
    [digest(value)],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    applicationId: r.application_id,
    userId: r.user_id,
    grantId: r.grant_id,
    redirectUri: r.redirect_uri,
    scopes: r.scopes,
    codeChallenge: r.code_challenge,
    codeChallengeMethod: r.code_challenge_method,
    nonce: r.nonce,
    authTime: r.auth_time,
    sid: r.sid,
    consumed: r.consumed,
    expired: r.expired,
  };
}

/**
 * Marks the code used and writes its tokens in one statement: the conditional UPDATE makes it
 * single-use under any concurrency, and the inserts happen only if it won. The grant must
 * still be active and the user enabled. Returns false when the code was not (or no longer)
 * redeemable.
 */
export async function consumeCodeAndIssue(
  sql: Sql,
  codeId: string,
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  refreshTtl: number,
): Promise<boolean> {
  const rows = await sql.query<{ n: number }>(
    `with c as (
       update authorization_codes ac set consumed_at = now()
        where ac.id = $1 and ac.consumed_at is null and ac.expires_at > now()
          and exists (select 1 from grants g join users u on u.id = g.user_id
                       where g.id = ac.grant_id and g.revoked_at is null and u.is_active)
       returning ac.id, ac.application_id, ac.user_id, ac.grant_id, ac.scopes, ac.auth_time, ac.sid),
     ${ISSUE_FROM_CONSUMED},
     ${touchGrant('c')}
     select count(*)::int as n from c`,
    [codeId, ...issueParams(access, refresh, refreshTtl)],
  );
  return rows[0].n === 1;
}

export interface Redemption {
  codeDigest: Buffer;
  applicationId: string;
  /** The redirect_uri of the token request (null when absent). */
  redirectUri: string | null;
  /** What the stored challenge must equal: S256(verifier) for S256 codes, the verifier for plain. */
  s256: string | null;
  plain: string | null;
}

export interface RedeemedCode {
  id: string;
  userId: string;
  scopes: string[];
  nonce: string | null;
  authTime: Date;
  sid: string | null;
}

/**
 * The whole redemption in one statement: the code is consumed only if it is live, belongs to
 * the client, matches the redirect URI it was issued for and the PKCE challenge, and its grant
 * and user are still active; the tokens are written in the same statement. Null when any
 * condition fails (the caller then reads the code to say which).
 */
export async function redeemCode(
  sql: Sql,
  r: Redemption,
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  refreshTtl: number,
): Promise<RedeemedCode | null> {
  const rows = await sql.query<{
    id: string;
    user_id: string;
    scopes: string[];
    nonce: string | null;
    auth_time: Date;
    sid: string | null;
  }>(
    `with c as (
       update authorization_codes ac set consumed_at = now()
        where ac.code_digest = $1 and ac.application_id = $9 and ac.consumed_at is null and ac.expires_at > now()
          and (ac.redirect_uri is null or ac.redirect_uri = $10::text)
          and ((ac.code_challenge is null and $11::text is null)
               or ac.code_challenge = case ac.code_challenge_method when 'S256' then $11::text else $12::text end)
          and exists (select 1 from grants g join users u on u.id = g.user_id
                       where g.id = ac.grant_id and g.revoked_at is null and u.is_active)
       returning ac.id, ac.application_id, ac.user_id, ac.grant_id, ac.scopes, ac.auth_time, ac.sid, ac.nonce),
     ${ISSUE_FROM_CONSUMED},
     ${touchGrant('c')}
     select c.id, c.user_id, c.scopes, c.nonce, c.auth_time, c.sid from c`,
    [
      r.codeDigest,
      ...issueParams(access, refresh, refreshTtl),
      r.applicationId,
      r.redirectUri,
      r.s256,
      r.plain,
    ],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    id: row.id,
    userId: row.user_id,
    scopes: row.scopes,
    nonce: row.nonce,
    authTime: row.auth_time,
    sid: row.sid,
  };
}

export interface SessionCodeRequest {
  /** SHA-256 of the browser's session cookie value. */
  sessionDigest: Buffer;
  applicationId: string;
  redirectUri: string | null;
  scopes: string[];
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | 'plain' | null;
  nonce: string | null;
  ttlSeconds: number;
  /** The application skips consent: record the grant if none covers the scopes. */
  skipConsent: boolean;
  idleTimeout: number;
}

/**
 * The authorization endpoint's common case in one statement: the session named by the cookie is
 * live (its idle expiry moves on), its user is enabled, consent is not needed (the application
 * skips it, or an active grant covers the scopes), and a code is stored. Returns the code value,
 * or null when any of that does not hold and the request needs the full path (login, consent).
 */
export async function createCodeForSession(sql: Sql, r: SessionCodeRequest): Promise<string | null> {
  const value = newCredential('authorizationCode');
  const rows = await sql.query<{ id: string }>(
    `with s as (
       select s.id, s.user_id, s.auth_time from sessions s join users u on u.id = s.user_id
        where s.token_digest = $4 and s.expires_at > now() and s.absolute_expires_at > now() and u.is_active),
     touch as (
       update sessions set last_seen_at = now(), expires_at = least(now() + make_interval(secs => $10), absolute_expires_at)
        where id = (select id from s) and last_seen_at < now() - interval '1 minute'),
     existing as (
       select g.id from grants g join s on s.user_id = g.user_id
        where g.application_id = $3 and g.revoked_at is null and g.scopes @> $6::text[]),
     added as (
       insert into grants as g (id, user_id, application_id, scopes, last_used_at)
       select $13, s.user_id, $3, $6, now() from s where $11::boolean and not exists (select 1 from existing)
       ${MERGE_INTO_ACTIVE_GRANT}
       returning id),
     grant_row as (select id from existing union all select id from added)
     insert into authorization_codes (id, code_digest, application_id, user_id, grant_id, redirect_uri, scopes,
       code_challenge, code_challenge_method, nonce, auth_time, sid, expires_at)
     select $1, $2, $3, s.user_id, grant_row.id, $5, $6, $7, $8, $9, s.auth_time, s.id, now() + make_interval(secs => $12)
       from s, grant_row limit 1
     returning id`,
    [
      newId(),
      digest(value),
      r.applicationId,
      r.sessionDigest,
      r.redirectUri,
      r.scopes,
      r.codeChallenge,
      r.codeChallengeMethod,
      r.nonce,
      r.idleTimeout,
      r.skipConsent,
      r.ttlSeconds,
      newId(),
    ],
  );
  return rows.length === 1 ? value : null;
}
