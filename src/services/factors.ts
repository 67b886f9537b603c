import type { Config } from '../config/index.js';
import type { Sql } from '../db/sql.js';
import {
  deleteAllFactors,
  deleteFactor,
  deleteRecoveryCodes,
  type FactorRow,
  factorsOf,
  hasFactor,
  recoveryCodesLeft,
  replaceRecoveryCodes,
  spendRecoveryCode,
} from '../db/tables/factors.js';
import { isUuid } from '../entities/base.js';
import { User } from '../entities/User.js';
import { isPrivileged, requireAdmin, requireUser } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx, Viewer } from './context.js';
import { NotFoundError, ValidationError } from './errors.js';
import { limitedAttempt, secondFactorLimits } from './limits.js';
import { digest, randomString } from './secrets.js';

export type { FactorRow };

/** MFA_REQUIRED: must this user have a second factor? */
export function mfaRequiredFor(config: Pick<Config, 'mfaRequired'>, user: Pick<Viewer, 'isAdmin'>): boolean {
  return config.mfaRequired === 'all' || (config.mfaRequired === 'admins' && user.isAdmin);
}

/** Does the user have a second factor (login, step-up, the admin warning)? No actor: a fact about a login. */
export function userHasFactor(ctx: Ctx, userId: string): Promise<boolean> {
  return hasFactor(ctx.sql, userId);
}

/** A user's factors (never a secret): the user themself and admins. */
export async function listFactors(ctx: Ctx, userId: string): Promise<FactorRow[]> {
  const viewer = ctx.actor.kind === 'cli' ? null : requireUser(ctx);
  if (viewer && viewer.id !== userId && !isPrivileged(ctx)) throw new NotFoundError('User not found.');
  if (!isUuid(userId)) throw new NotFoundError('User not found.');
  return factorsOf(ctx.sql, userId);
}

/**
 * The signed-in user removes one of their factors. The last one cannot go while MFA_REQUIRED
 * covers the user; with it go the recovery codes (they recover nothing any more).
 */
export async function removeFactor(ctx: Ctx, factorId: string): Promise<void> {
  const user = requireUser(ctx);
  if (!isUuid(factorId)) throw new NotFoundError('Factor not found.');
  const factors = await factorsOf(ctx.sql, user.id);
  if (!factors.some((f) => f.id === factorId)) throw new NotFoundError('Factor not found.');
  if (factors.length === 1 && mfaRequiredFor(ctx.config, user)) {
    throw new ValidationError(
      'factor',
      'Your account must have a second factor: add another one before removing this one.',
    );
  }
  await ctx.transaction(async (tx) => {
    const removed = await deleteFactor(tx.sql, user.id, factorId);
    if (!removed) throw new NotFoundError('Factor not found.');
    if (factors.length === 1) await deleteRecoveryCodes(tx.sql, user.id);
    await recordAudit(
      ctx,
      'user.factor.remove',
      { type: 'user', id: user.id },
      { kind: removed.kind },
      tx.em,
    );
  });
}

/** An admin removes every factor and recovery code of a user (lost device); audited. */
export async function resetFactors(ctx: Ctx, userId: string): Promise<number> {
  requireAdmin(ctx);
  const user = isUuid(userId) ? await ctx.em.findOne(User, { id: userId }) : null;
  if (!user) throw new NotFoundError('User not found.');
  return ctx.transaction(async (tx) => {
    const removed = await deleteAllFactors(tx.sql, userId);
    await recordAudit(ctx, 'user.factors.reset', { type: 'user', id: userId }, { removed }, tx.em);
    return removed;
  });
}

const RECOVERY_CODE_COUNT = 10;

/** `xxxxx-xxxxx`: 10 characters of an unambiguous alphabet, ~50 bits each. */
function newRecoveryCode(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const raw = randomString(16);
  let out = '';
  for (let i = 0; out.length < 10; i++) out += alphabet[raw.charCodeAt(i % raw.length) % alphabet.length];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

/** What is compared: case, spaces and dashes do not matter to a person typing a code. */
function normaliseRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/**
 * New recovery codes for a user, replacing any old ones, on the caller's connection (the first
 * factor's enrollment); returns the codes, which are shown once and stored as digests only.
 */
export async function issueRecoveryCodes(sql: Sql, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await replaceRecoveryCodes(
    sql,
    userId,
    codes.map((c) => digest(`recovery\0${normaliseRecoveryCode(c)}`)),
  );
  return codes;
}

/** The signed-in user replaces their recovery codes (they need a factor to recover). */
export async function regenerateRecoveryCodes(ctx: Ctx): Promise<string[]> {
  const user = requireUser(ctx);
  if (!(await hasFactor(ctx.sql, user.id))) {
    throw new ValidationError('recovery', 'Add a second factor first: recovery codes stand in for it.');
  }
  return ctx.transaction(async (tx) => {
    const codes = await issueRecoveryCodes(tx.sql, user.id);
    await recordAudit(ctx, 'user.recovery_codes.regenerate', { type: 'user', id: user.id }, {}, tx.em);
    return codes;
  });
}

/** How many unused recovery codes the signed-in user has. */
export async function recoveryCodesRemaining(ctx: Ctx): Promise<number> {
  const user = requireUser(ctx);
  return recoveryCodesLeft(ctx.sql, user.id);
}

export type SecondFactorResult =
  | { ok: true }
  | { ok: false; reason: 'invalid' | 'replayed' }
  | { ok: false; reason: 'blocked'; retryAfter: number };

/**
 * A second-factor check under the per-user limit (src/services/limits.ts): counted before it
 * runs, so parallel guesses cannot all be checked; a success clears the count. `check` answers
 * true, false (wrong) or 'replayed' (right, but already used: counted as a failure too).
 */
export async function limitedSecondFactor(
  ctx: Ctx,
  userId: string,
  check: () => Promise<boolean | 'replayed'>,
): Promise<SecondFactorResult> {
  let replayed = false;
  const result = await limitedAttempt(
    ctx.sql,
    secondFactorLimits(userId, ctx.config.limits),
    ctx.config.limits.loginWindow,
    async () => {
      const verdict = await check();
      if (verdict === 'replayed') replayed = true;
      return verdict === true ? true : null;
    },
  );
  if (result.ok) return { ok: true };
  if (result.blocked) return { ok: false, reason: 'blocked', retryAfter: result.retryAfter };
  return { ok: false, reason: replayed ? 'replayed' : 'invalid' };
}

/** Login with a recovery code instead of the second factor: the code is spent atomically. */
export function redeemRecoveryCode(ctx: Ctx, userId: string, code: string): Promise<SecondFactorResult> {
  return limitedSecondFactor(ctx, userId, async () => {
    const value = normaliseRecoveryCode(code);
    if (!/^[a-z0-9]{10}$/.test(value)) return false;
    return spendRecoveryCode(ctx.sql, userId, digest(`recovery\0${value}`));
  });
}
