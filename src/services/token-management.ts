import { countActiveAccessTokens, revokeAccessToken } from '../db/tables/access-tokens.js';
import {
  findIssuedToken,
  type IssuedToken,
  type IssuedTokenFilter,
  pageIssuedTokens,
  revokeIssuedTokens,
} from '../db/tables/issued-tokens.js';
import { isUuid } from '../entities/base.js';
import type { TokenKind } from '../vocabulary.js';
import { isPrivileged, requireUser, requireUserOrCli } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { NotFoundError, ValidationError } from './errors.js';
import { decodeCursor, type Page, type PageArgs, pageSize, toPage } from './pagination.js';
import { revokeFamily } from './tokens.js';

/** What an owner, the token's user or an admin may see about an issued token: never its value. */
export type TokenRecord = IssuedToken;

export interface TokenFilter {
  applicationId?: string | null;
  userId?: string | null;
  active?: boolean | null;
  kind?: TokenKind | null;
}

function visibility(ctx: Ctx, filter: TokenFilter): IssuedTokenFilter {
  const privileged = isPrivileged(ctx);
  const viewerId = privileged ? null : requireUser(ctx).id;
  for (const [field, value] of [
    ['applicationId', filter.applicationId],
    ['userId', filter.userId],
  ] as const) {
    if (value !== undefined && value !== null && !isUuid(value)) {
      throw new ValidationError(field, `${field} is not a valid id.`);
    }
  }
  return {
    applicationId: filter.applicationId ?? null,
    userId: filter.userId ?? null,
    active: filter.active ?? null,
    kind: filter.kind ?? null,
    privileged,
    viewerId,
  };
}

export async function listTokens(
  ctx: Ctx,
  args: PageArgs,
  filter: TokenFilter = {},
): Promise<Page<TokenRecord>> {
  const first = pageSize(args);
  const { rows, total } = await pageIssuedTokens(ctx.sql, visibility(ctx, filter), {
    after: decodeCursor(args.after),
    limit: first + 1,
  });
  return toPage(rows, first, total);
}

/** One token the actor may see, by id; NotFound otherwise (existence is not revealed). */
export async function getToken(ctx: Ctx, id: string): Promise<TokenRecord> {
  if (!isUuid(id)) throw new NotFoundError('Token not found.');
  const token = await findIssuedToken(ctx.sql, visibility(ctx, {}), id);
  if (!token) throw new NotFoundError('Token not found.');
  return token;
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
    await revokeAccessToken(ctx.sql, id);
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
  const count = await revokeIssuedTokens(ctx.sql, visibility(ctx, { ...filter, active: true }));
  await recordAudit(ctx, 'token.revoke_many', null, { filter: { ...filter }, count });
  return count;
}

/** Active access tokens per application, for many applications in one grouped query. */
export async function activeTokenCounts(
  ctx: Ctx,
  applicationIds: readonly string[],
): Promise<Map<string, number>> {
  requireUserOrCli(ctx); // ids come from a checked listing of applications
  return countActiveAccessTokens(ctx.sql, applicationIds);
}
