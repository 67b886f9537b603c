import type { TokenKind } from '../../vocabulary.js';
import type { Sql } from '../sql.js';
import { accessTokenActive } from './access-tokens.js';
import { refreshTokenActive } from './refresh-tokens.js';
import { statement } from './statement.js';

/**
 * Both token tables as one relation, for the administration views (GraphQL, pages): listing,
 * counting and bulk revocation. `active` is each table's own definition, so the list says what
 * introspection says.
 */
/** The token tables this view joins, by the vocabulary's name. */
export type IssuedTokenKind = TokenKind;

export interface IssuedToken {
  id: string;
  kind: IssuedTokenKind;
  applicationId: string;
  userId: string | null;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  active: boolean;
  familyId: string | null;
}

/** Which tokens, and whose view: admins see everything, others their applications' and their own. */
export interface IssuedTokenFilter {
  applicationId: string | null;
  userId: string | null;
  active: boolean | null;
  kind: IssuedTokenKind | null;
  privileged: boolean;
  viewerId: string | null;
}

interface IssuedTokenDbRow {
  id: string;
  kind: IssuedTokenKind;
  application_id: string;
  user_id: string | null;
  scopes: string[];
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  active: boolean;
  family_id: string | null;
}

const FILTER_PARAMS = ['application_id', 'user_id', 'active', 'kind', 'privileged', 'viewer_id'] as const;

const VISIBLE = `
  select * from (
    select 'access' as kind, t.id, t.application_id, t.user_id, t.scopes, t.created_at, t.expires_at, t.revoked_at,
           t.family_id, ${accessTokenActive('t', 'u')} as active
      from access_tokens t left join users u on u.id = t.user_id
    union all
    select 'refresh', r.id, r.application_id, r.user_id, r.scopes, r.created_at, r.expires_at, r.revoked_at,
           r.family_id, ${refreshTokenActive('r', 'u')}
      from refresh_tokens r join users u on u.id = r.user_id
  ) tk
  where (:application_id::uuid is null or tk.application_id = :application_id::uuid)
    and (:user_id::uuid is null or tk.user_id = :user_id::uuid)
    and (:active::boolean is null or tk.active = :active::boolean)
    and (:kind::text is null or tk.kind = :kind::text)
    and (:privileged::boolean or tk.user_id = :viewer_id::uuid
         or tk.application_id in (select a.id from applications a where a.owner_id = :viewer_id::uuid))`;

function filterValues(f: IssuedTokenFilter) {
  return {
    application_id: f.applicationId,
    user_id: f.userId,
    active: f.active,
    kind: f.kind,
    privileged: f.privileged,
    viewer_id: f.viewerId,
  };
}

const PAGE = statement(
  [...FILTER_PARAMS, 'after_created_at', 'after_id', 'limit'],
  `${VISIBLE}
     and (:after_created_at::timestamptz is null
          or (tk.created_at, tk.id) < (:after_created_at::timestamptz, :after_id::uuid))
   order by tk.created_at desc, tk.id desc limit :limit`,
);
const COUNT = statement(FILTER_PARAMS, `select count(*)::int as n from (${VISIBLE}) v`);
const ONE = statement([...FILTER_PARAMS, 'id'], `${VISIBLE} and tk.id = :id::uuid`);
const REVOKE_ACCESS = statement(
  FILTER_PARAMS,
  `update access_tokens set revoked_at = now() where id in (select id from (${VISIBLE}) v where v.kind = 'access')`,
);
const REVOKE_REFRESH = statement(
  FILTER_PARAMS,
  `update refresh_tokens set revoked_at = now() where id in (select id from (${VISIBLE}) v where v.kind = 'refresh')`,
);

function toIssuedToken(r: IssuedTokenDbRow): IssuedToken {
  return {
    id: r.id,
    kind: r.kind,
    applicationId: r.application_id,
    userId: r.user_id,
    scopes: r.scopes,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    active: r.active,
    familyId: r.family_id,
  };
}

/** One page (newest first, keyset after `after`) and the total count. */
export async function pageIssuedTokens(
  sql: Sql,
  filter: IssuedTokenFilter,
  page: { after: { createdAt: Date; id: string } | null; limit: number },
): Promise<{ rows: IssuedToken[]; total: number }> {
  const named = filterValues(filter);
  const [rows, count] = await Promise.all([
    sql.query<IssuedTokenDbRow>(
      PAGE.text,
      PAGE.values({
        ...named,
        after_created_at: page.after?.createdAt ?? null,
        after_id: page.after?.id ?? null,
        limit: page.limit,
      }),
    ),
    sql.query<{ n: number }>(COUNT.text, COUNT.values(named)),
  ]);
  return { rows: rows.map(toIssuedToken), total: count[0].n };
}

export async function findIssuedToken(
  sql: Sql,
  filter: IssuedTokenFilter,
  id: string,
): Promise<IssuedToken | null> {
  const rows = await sql.query<IssuedTokenDbRow>(ONE.text, ONE.values({ ...filterValues(filter), id }));
  return rows[0] ? toIssuedToken(rows[0]) : null;
}

/** Revokes every token the filter selects, in one transaction; returns how many. */
export function revokeIssuedTokens(sql: Sql, filter: IssuedTokenFilter): Promise<number> {
  const named = filterValues(filter);
  return sql.transaction(async (tx) => {
    const access = await tx.execute(REVOKE_ACCESS.text, REVOKE_ACCESS.values(named));
    const refresh = await tx.execute(REVOKE_REFRESH.text, REVOKE_REFRESH.values(named));
    return access + refresh;
  });
}
