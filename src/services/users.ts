import type { EntityData, FilterQuery } from '@mikro-orm/core';
import type { Sql } from '../db/sql.js';
import { revokeAccessTokensOfUser } from '../db/tables/access-tokens.js';
import { revokeGrantsOfUser } from '../db/tables/grants.js';
import { revokeRefreshTokensOfUser } from '../db/tables/refresh-tokens.js';
import { isUuid } from '../entities/base.js';
import { User } from '../entities/User.js';
import { requireAdmin, requireUserOrCli } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { ConflictError, isUniqueViolation, NotFoundError, ValidationError } from './errors.js';
import { findPage, ilikeContains, type Page, type PageArgs } from './pagination.js';
import { burnVerification, hashPassword, verifyPassword } from './passwords.js';
import { afterSessionsEnded, type EndedSessions, endSessionsIn } from './sessions.js';

export interface CreateUserInput {
  username: string;
  password: string;
  email?: string | null;
  isAdmin?: boolean;
}

export interface UpdateUserInput {
  username?: string;
  password?: string;
  email?: string | null;
  isAdmin?: boolean;
  isActive?: boolean;
}

const USERNAME = /^[\p{L}\p{N}@.+_-]{1,150}$/u;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}\.[^\s@]{1,63}$/;
export const PASSWORD_MIN = 8;
const PASSWORD_MAX = 1024;

function checkUsername(username: string): string {
  const value = username.trim();
  if (!USERNAME.test(value)) {
    throw new ValidationError(
      'username',
      'Username must be 1–150 characters: letters, digits and @ . + - _ only.',
    );
  }
  return value;
}

/** The password rule, for every way a password is set (admins, the CLI, the user's own change). */
export function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN) {
    throw new ValidationError('password', `Password must be at least ${PASSWORD_MIN} characters.`);
  }
  if (password.length > PASSWORD_MAX) {
    throw new ValidationError('password', `Password must be at most ${PASSWORD_MAX} characters.`);
  }
}

function checkEmail(email: string | null | undefined): string | null {
  if (email === undefined || email === null || email.trim() === '') return null;
  const value = email.trim();
  if (value.length > 254 || !EMAIL.test(value))
    throw new ValidationError('email', 'Email address is not valid.');
  return value;
}

/** Admins and the CLI create users. */
export async function createUser(ctx: Ctx, input: CreateUserInput): Promise<User> {
  requireAdmin(ctx);
  const username = checkUsername(input.username);
  checkPassword(input.password);
  const email = checkEmail(input.email);
  if (await ctx.em.count(User, { username })) throw new ConflictError(`User "${username}" already exists.`);
  const passwordHash = await hashPassword(ctx, input.password); // slow: outside any transaction
  try {
    return await ctx.transaction(async (tx) => {
      const user = tx.em.create(User, { username, email, passwordHash, isAdmin: input.isAdmin ?? false });
      await tx.em.persistAndFlush(user);
      const details = { username, isAdmin: user.isAdmin };
      await recordAudit(ctx, 'user.create', { type: 'user', id: user.id }, details, tx.em);
      return user;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`User "${username}" already exists.`);
    throw err;
  }
}

/** Admins and the CLI look users up by name (the CLI names an application's owner so). */
export async function findUserByUsername(ctx: Ctx, username: string): Promise<User | null> {
  requireAdmin(ctx);
  return ctx.em.findOne(User, { username: username.trim() });
}

/** One user by id (admins and the CLI). */
export async function getUser(ctx: Ctx, id: string): Promise<User> {
  requireAdmin(ctx);
  const user = isUuid(id) ? await ctx.em.findOne(User, { id }) : null;
  if (!user) throw new NotFoundError('User not found.');
  return user;
}

/**
 * Checks a username and password. Unknown users, wrong passwords and disabled users all answer
 * null after the same argon2 work, so the answer tells nothing about which one it was.
 */
export async function verifyCredentials(ctx: Ctx, username: string, password: string): Promise<User | null> {
  if (!username || !password || password.length > PASSWORD_MAX || username.length > 150) {
    await burnVerification(ctx, password.slice(0, PASSWORD_MAX));
    return null;
  }
  const user = await ctx.em.findOne(User, { username: username.trim() }, { populate: ['passwordHash'] });
  if (!user) {
    await burnVerification(ctx, password);
    return null;
  }
  const ok = await verifyPassword(ctx, user.passwordHash, password);
  return ok && user.isActive ? user : null;
}

/**
 * Changes a user (admins and the CLI). Everything the change implies happens in one
 * transaction with it: a changed password ends the user's browser sessions, disabling the
 * user also revokes every token and grant — a user is never disabled with tokens still live.
 */
export async function updateUser(ctx: Ctx, id: string, input: UpdateUserInput): Promise<User> {
  const user = await getUser(ctx, id);
  // Applied inside the transaction only: a refused change leaves the loaded entity untouched.
  const patch: EntityData<User> = {};
  const changes: Record<string, unknown> = {};
  if (input.username !== undefined && input.username.trim() !== user.username) {
    const username = checkUsername(input.username);
    if (await ctx.em.count(User, { username, id: { $ne: id } })) {
      throw new ConflictError(`User "${username}" already exists.`);
    }
    patch.username = username;
    changes.username = username;
  }
  if (input.email !== undefined) {
    patch.email = checkEmail(input.email);
    patch.emailVerified = false;
    changes.email = true;
  }
  if (input.isAdmin !== undefined && input.isAdmin !== user.isAdmin) {
    patch.isAdmin = input.isAdmin;
    changes.isAdmin = input.isAdmin;
  }
  let endSessions = false;
  if (input.password !== undefined) {
    checkPassword(input.password);
    patch.passwordHash = await hashPassword(ctx, input.password); // slow: outside the transaction
    patch.passwordChangedAt = new Date();
    changes.password = true;
    endSessions = true;
  }
  if (input.isActive !== undefined && input.isActive !== user.isActive) {
    patch.isActive = input.isActive;
    changes.isActive = input.isActive;
    if (!input.isActive) endSessions = true;
  }
  try {
    const ended = await ctx.transaction(async (tx) => {
      tx.em.assign(user, patch);
      await tx.em.flush();
      const ended = endSessions
        ? await endUserSessionsAndTokens(ctx, tx.sql, user.id, input.isActive === false)
        : null;
      await recordAudit(ctx, 'user.update', { type: 'user', id: user.id }, changes, tx.em);
      return ended;
    });
    if (ended) afterSessionsEnded(ctx, ended);
  } catch (err) {
    if (isUniqueViolation(err))
      throw new ConflictError(`User "${String(patch.username ?? user.username)}" already exists.`);
    throw err;
  }
  return user;
}

/**
 * Ends every browser session of the user (each application they signed in to is told through
 * back-channel logout); with `revokeTokens`, also revokes every token and grant issued to them.
 * Set-based statements on the caller's transaction.
 */
async function endUserSessionsAndTokens(
  ctx: Ctx,
  sql: Sql,
  userId: string,
  revokeTokens: boolean,
): Promise<EndedSessions> {
  const ended = await endSessionsIn(ctx, sql, { userId });
  if (!revokeTokens) return ended;
  await revokeAccessTokensOfUser(sql, userId);
  await revokeRefreshTokensOfUser(sql, userId);
  await revokeGrantsOfUser(sql, userId);
  return ended;
}

/** Deletes a user (admins and the CLI) with their audit event, in one transaction. */
export async function deleteUser(ctx: Ctx, id: string): Promise<void> {
  const user = await getUser(ctx, id);
  const ended = await ctx.transaction(async (tx) => {
    // The sessions end first, so the applications they signed in to hear of it (back-channel logout).
    const ended = await endSessionsIn(ctx, tx.sql, { userId: id });
    tx.em.remove(user); // cascades: applications, grants, codes, tokens
    await tx.em.flush();
    await recordAudit(ctx, 'user.delete', { type: 'user', id }, { username: user.username }, tx.em);
    return ended;
  });
  afterSessionsEnded(ctx, ended);
}

export interface UserFilter {
  username?: string | null;
  isActive?: boolean | null;
}

/** Every user, newest first (admins only). */
export async function listUsers(ctx: Ctx, args: PageArgs, filter: UserFilter = {}): Promise<Page<User>> {
  requireAdmin(ctx);
  const where: FilterQuery<User> & Record<string, unknown> = {};
  if (filter.username) where.username = ilikeContains(filter.username);
  if (filter.isActive !== undefined && filter.isActive !== null) where.isActive = filter.isActive;
  return findPage(ctx.em, User, where, args);
}

/** Users by id, for resolving owners and token users in one query. */
export async function usersByIds(ctx: Ctx, ids: readonly string[]): Promise<Map<string, User>> {
  // Ids come from objects a checked listing returned; the mappers hide fields (email) per actor.
  requireUserOrCli(ctx);
  const users = await ctx.em.find(User, { id: { $in: [...ids] } });
  return new Map(users.map((u) => [u.id, u]));
}
