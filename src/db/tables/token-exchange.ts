import type { Sql } from '../sql.js';
import { type AccessTokenToStore, accessTokenInsert } from './access-tokens.js';
import { grantActive } from './grants.js';
import {
  type RefreshTokenToStore,
  refreshTokenInsert,
  TOKEN_PAIR_PARAMS,
  tokenPairValues,
} from './refresh-tokens.js';
import { statement } from './statement.js';
import { userEnabled } from './users.js';

/**
 * RFC 8693 token exchange writes into access_tokens (and refresh_tokens) under the subject
 * token's grant. One statement: the grant is still active and locked against a concurrent
 * revocation until COMMIT (FOR SHARE), its user is enabled and — for an access-token subject —
 * that token is still unrevoked and unexpired; only then are the rows written. The `act` column is
 * named here alone, so the ordinary inserts stay as they are.
 */
const ISSUE = statement(
  [...TOKEN_PAIR_PARAMS, 'application_id', 'grant_id', 'subject_id', 'scopes', 'resources', 'act'],
  `with s as (
     select g.id as grant_id, g.user_id, t.family_id
       from grants g
       join users u on u.id = g.user_id
       left join access_tokens t on t.id = :subject_id::uuid
      where g.id = :grant_id::uuid and ${grantActive('g')} and ${userEnabled('u')}
        and (:subject_id::uuid is null
             or (t.grant_id = g.id and t.revoked_at is null and t.expires_at > now()))
        for share of g),
   a as (${accessTokenInsert(
     {
       application: ':application_id::uuid',
       user: 's.user_id',
       grant: 's.grant_id',
       family: 's.family_id',
       scopes: ':scopes::text[]',
     },
     's',
     ':act::jsonb',
   )} returning id),
   r as (${refreshTokenInsert(
     {
       application: ':application_id::uuid',
       user: 's.user_id',
       grant: 's.grant_id',
       family: 'coalesce(s.family_id, :access_id::uuid)',
       parent: 'null::uuid',
       scopes: ':scopes::text[]',
       authTime: 'null::timestamptz',
       sid: 'null::uuid',
       resources: ':resources::text[]',
     },
     's',
   )})
   select count(*)::int as n from a`,
);

export interface ExchangedTokenOwner {
  /** The requesting application (the token is issued to it). */
  applicationId: string;
  /** The subject token's grant: the new tokens belong to it. */
  grantId: string;
  /** The subject access token's row id, or null for an ID-token subject. */
  subjectId: string | null;
  scopes: readonly string[];
  /** The resource (RFC 8707) the token is for: a later refresh may ask for it alone. */
  resources: readonly string[];
  /** RFC 8693 §4.1 `act` as JSON text, or null (impersonation). */
  act: string | null;
}

/** Writes the exchanged tokens; false when the subject, its grant or its user is no longer active. */
export async function insertExchangedTokens(
  sql: Sql,
  access: AccessTokenToStore,
  refresh: RefreshTokenToStore | null,
  refreshTtl: number,
  owner: ExchangedTokenOwner,
): Promise<boolean> {
  const rows = await sql.query<{ n: number }>(
    ISSUE.text,
    ISSUE.values({
      ...tokenPairValues(access, refresh, refreshTtl),
      application_id: owner.applicationId,
      grant_id: owner.grantId,
      subject_id: owner.subjectId,
      scopes: [...owner.scopes],
      resources: [...owner.resources],
      act: owner.act,
    }),
  );
  return rows[0].n > 0;
}
