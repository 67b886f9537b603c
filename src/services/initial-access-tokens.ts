import { isUuid } from '../entities/base.js';
import { InitialAccessToken } from '../entities/InitialAccessToken.js';
import { requireAdmin } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { NotFoundError, ValidationError } from './errors.js';
import { digest, newCredential } from './secrets.js';

export interface InitialAccessTokenInput {
  /** Seconds until it expires; absent: never (until revoked or used up). */
  expiresIn?: number | null;
  /** Registrations it allows; absent: unlimited. */
  uses?: number | null;
}

const MAX_EXPIRES_IN = 10 * 365 * 86_400;
const MAX_USES = 1_000_000;

/**
 * Creates an RFC 7591 §3 initial access token (administrators and the CLI). The token is
 * returned once; only its digest is stored.
 */
export async function createInitialAccessToken(
  ctx: Ctx,
  input: InitialAccessTokenInput,
): Promise<{ token: string; record: InitialAccessToken }> {
  requireAdmin(ctx);
  const { expiresIn, uses } = input;
  if (expiresIn != null && (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_EXPIRES_IN)) {
    throw new ValidationError(
      'expiresIn',
      `expiresIn must be a whole number of seconds from 1 to ${MAX_EXPIRES_IN}.`,
    );
  }
  if (uses != null && (!Number.isInteger(uses) || uses < 1 || uses > MAX_USES)) {
    throw new ValidationError('uses', `uses must be a whole number from 1 to ${MAX_USES}.`);
  }
  const token = newCredential('initialAccessToken');
  const record = await ctx.transaction(async (tx) => {
    const created = tx.em.create(InitialAccessToken, {
      tokenDigest: digest(token),
      uses: uses ?? null,
      usesLeft: uses ?? null,
      expiresAt: expiresIn == null ? null : new Date(Date.now() + expiresIn * 1000),
      createdBy: ctx.actor.kind === 'user' ? ctx.actor.user.username : 'cli',
    });
    await tx.em.persistAndFlush(created);
    await recordAudit(
      ctx,
      'initial_access_token.create',
      { type: 'initial_access_token', id: created.id },
      { uses: uses ?? null, expiresIn: expiresIn ?? null },
      tx.em,
    );
    return created;
  });
  return { token, record };
}

/** Every initial access token's metadata (never the token), newest first (administrators). */
export async function listInitialAccessTokens(ctx: Ctx): Promise<InitialAccessToken[]> {
  requireAdmin(ctx);
  return ctx.em.find(InitialAccessToken, {}, { orderBy: { createdAt: 'desc' }, limit: 500 });
}

/** Revokes it at once: the next registration presenting it is refused (administrators). */
export async function revokeInitialAccessToken(ctx: Ctx, id: string): Promise<InitialAccessToken> {
  requireAdmin(ctx);
  const record = isUuid(id) ? await ctx.em.findOne(InitialAccessToken, { id }) : null;
  if (!record) throw new NotFoundError('Initial access token not found.');
  if (record.revokedAt) return record;
  await ctx.transaction(async (tx) => {
    record.revokedAt = new Date();
    tx.em.persist(record);
    await tx.em.flush();
    await recordAudit(ctx, 'initial_access_token.revoke', { type: 'initial_access_token', id }, {}, tx.em);
  });
  return record;
}
