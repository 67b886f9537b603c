import { isUuid } from '../entities/base.js';
import { isPrivileged, requireUser, requireUserOrCli } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { NotFoundError, ValidationError } from './errors.js';
import { decodeCursor, type Page, type PageArgs, pageSize, toPage } from './pagination.js';
import { revokeFamily } from './tokens.js';

export type TokenKind = 'access' | 'refresh';

/** What an owner, the token's user or an admin may see about an issued token: never its value. */
export interface TokenRecord {
  id: string;
  kind: TokenKind;
  applicationId: string;
  userId: string | null;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  active: boolean;
  familyId: string | null;
}

export interface TokenFilter {
  applicationId?: string | null;
  userId?: string | null;
  active?: boolean | null;
  kind?: TokenKind | null;
}

interface TokenRow {
  id: string;
  kind: TokenKind;
  application_id: string;
  user_id: string | null;
  scopes: string[];
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  active: boolean;
  family_id: string | null;
}

/**
 * Both token tables as one relation, limited to what the actor may see: admins everything;
 * others the tokens of applications they own and the tokens issued to them.
 * Parameters: $1 application, $2 user, $3 active, $4 kind, $5 privileged, $6 viewer.
 */
const VISIBLE_TOKENS = `
  select * from (
    select 'access' as kind, t.id, t.application_id, t.user_id, t.scopes, t.created_at, t.expires_at, t.revoked_at,
           t.family_id, (t.revoked_at is null and t.expires_at > now()) as active
      from access_tokens t
    union all
    select 'refresh', r.id, r.application_id, r.user_id, r.scopes, r.created_at, r.expires_at, r.revoked_at,
           r.family_id, (r.revoked_at is null and r.consumed_at is null and r.expires_at > now())
      from refresh_tokens r
  ) tk
  where ($1::uuid is null or tk.application_id = $1)
    and ($2::uuid is null or tk.user_id = $2)
    and ($3::boolean is null or tk.active = $3)
    and ($4::text is null or tk.kind = $4)
    and ($5::boolean or tk.user_id = $6::uuid
         or tk.application_id in (select a.id from applications a where a.owner_id = $6::uuid))`;

function filterParams(ctx: Ctx, filter: TokenFilter): unknown[] {
  const privileged = isPrivileged(ctx);
  const viewer = privileged ? null : requireUser(ctx).id;
  for (const [field, value] of [
    ['applicationId', filter.applicationId],
    ['userId', filter.userId],
  ] as const) {
    if (value !== undefined && value !== null && !isUuid(value)) {
      throw new ValidationError(field, `${field} is not a valid id.`);
    }
  }
  return [
    filter.applicationId ?? null,
    filter.userId ?? null,
    filter.active ?? null,
    filter.kind ?? null,
    privileged,
    viewer,
  ];
}

export async function listTokens(
  ctx: Ctx,
  args: PageArgs,
  filter: TokenFilter = {},
): Promise<Page<TokenRecord>> {
  const first = pageSize(args);
  const after = decodeCursor(args.after);
  const params = filterParams(ctx, filter);
  const [rows, count] = await Promise.all([
    ctx.sql.query<TokenRow>(
      `${VISIBLE_TOKENS}
         and ($7::timestamptz is null or (tk.created_at, tk.id) < ($7::timestamptz, $8::uuid))
       order by tk.created_at desc, tk.id desc limit $9`,
      [...params, after?.createdAt ?? null, after?.id ?? null, first + 1],
    ),
    ctx.sql.query<{ n: number }>(`select count(*)::int as n from (${VISIBLE_TOKENS}) v`, params),
  ]);
  return toPage(rows.map(toRecord), first, count[0].n);
}

/** One token the actor may see, by id; NotFound otherwise (existence is not revealed). */
export async function getToken(ctx: Ctx, id: string): Promise<TokenRecord> {
  if (!isUuid(id)) throw new NotFoundError('Token not found.');
  const params = filterParams(ctx, {});
  const rows = await ctx.sql.query<TokenRow>(`${VISIBLE_TOKENS} and tk.id = $7::uuid`, [...params, id]);
  if (!rows[0]) throw new NotFoundError('Token not found.');
  return toRecord(rows[0]);
}

/**
 * Revokes one token. A refresh token takes its family with it (the access tokens issued from
 * it), as revocation does at RFC 7009's endpoint.
 */
export async function revokeTokenById(ctx: Ctx, id: string): Promise<TokenRecord> {
  const token = await getToken(ctx, id);
  if (token.kind === 'refresh' && token.familyId) {
    await revokeFamily(ctx.sql, token.familyId);
  } else {
    await ctx.sql.execute(
      'update access_tokens set revoked_at = now() where id = $1 and revoked_at is null',
      [id],
    );
  }
  await recordAudit(
    ctx,
    'token.revoke',
    { type: 'token', id },
    { kind: token.kind, applicationId: token.applicationId },
  );
  return getToken(ctx, id);
}

/** Revokes every visible, active token matching the filter in set-based statements; returns how many. */
export async function revokeTokensMatching(ctx: Ctx, filter: TokenFilter): Promise<number> {
  const params = filterParams(ctx, { ...filter, active: true });
  const count = await ctx.sql.transaction(async (tx) => {
    const access = await tx.execute(
      `update access_tokens set revoked_at = now() where id in (select id from (${VISIBLE_TOKENS}) v where v.kind = 'access')`,
      params,
    );
    const refresh = await tx.execute(
      `update refresh_tokens set revoked_at = now() where id in (select id from (${VISIBLE_TOKENS}) v where v.kind = 'refresh')`,
      params,
    );
    return access + refresh;
  });
  await recordAudit(ctx, 'token.revoke_many', null, { filter: { ...filter }, count });
  return count;
}

function toRecord(r: TokenRow): TokenRecord {
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

/** Active access tokens per application, for many applications in one grouped query. */
export async function activeTokenCounts(
  ctx: Ctx,
  applicationIds: readonly string[],
): Promise<Map<string, number>> {
  requireUserOrCli(ctx); // ids come from a checked listing of applications
  const rows = await ctx.sql.query<{ application_id: string; n: number }>(
    `select application_id, count(*)::int as n from access_tokens
      where application_id = any($1::uuid[]) and revoked_at is null and expires_at > now()
      group by application_id`,
    [[...applicationIds]],
  );
  return new Map(rows.map((r) => [r.application_id, r.n]));
}
