import type { FilterQuery } from '@mikro-orm/core';
import { revokeAccessTokensOfUser } from '../db/tables/access-tokens.js';
import { revokeGrantsOfUser } from '../db/tables/grants.js';
import { revokeRefreshTokensOfUser } from '../db/tables/refresh-tokens.js';
import { deleteSessionsOfUser } from '../db/tables/sessions.js';
import { isUuid } from '../entities/base.js';
import { User } from '../entities/User.js';
import { requireAdmin } from './access.js';
import { recordAudit } from './audit.js';
import type { Ctx } from './context.js';
import { ConflictError, isUniqueViolation, NotFoundError, ValidationError } from './errors.js';
import { findPage, ilikeContains, type Page, type PageArgs } from './pagination.js';
import { burnVerification, hashPassword, verifyPassword } from './passwords.js';

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

function checkPassword(password: string): void {
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

export async function createUser(ctx: Ctx, input: CreateUserInput): Promise<User> {
  const username = checkUsername(input.username);
  checkPassword(input.password);
  const email = checkEmail(input.email);
  const em = ctx.em;
  if (await em.count(User, { username })) throw new ConflictError(`User "${username}" already exists.`);
  const passwordHash = await hashPassword(ctx, input.password); // slow: outside any transaction
  const user = em.create(User, { username, email, passwordHash, isAdmin: input.isAdmin ?? false });
  try {
    await em.persistAndFlush(user);
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`User "${username}" already exists.`);
    throw err;
  }
  await recordAudit(ctx, 'user.create', { type: 'user', id: user.id }, { username, isAdmin: user.isAdmin });
  return user;
}

export async function findUserByUsername(ctx: Ctx, username: string): Promise<User | null> {
  return ctx.em.findOne(User, { username: username.trim() });
}

export async function getUser(ctx: Ctx, id: string): Promise<User> {
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

export async function updateUser(ctx: Ctx, id: string, input: UpdateUserInput): Promise<User> {
  const user = await getUser(ctx, id);
  const changes: Record<string, unknown> = {};
  if (input.username !== undefined && input.username.trim() !== user.username) {
    const username = checkUsername(input.username);
    if (await ctx.em.count(User, { username, id: { $ne: id } })) {
      throw new ConflictError(`User "${username}" already exists.`);
    }
    user.username = username;
    changes.username = username;
  }
  if (input.email !== undefined) {
    user.email = checkEmail(input.email);
    user.emailVerified = false;
    changes.email = true;
  }
  if (input.isAdmin !== undefined && input.isAdmin !== user.isAdmin) {
    user.isAdmin = input.isAdmin;
    changes.isAdmin = input.isAdmin;
  }
  let endSessions = false;
  if (input.password !== undefined) {
    checkPassword(input.password);
    user.passwordHash = await hashPassword(ctx, input.password);
    user.passwordChangedAt = new Date();
    changes.password = true;
    endSessions = true;
  }
  if (input.isActive !== undefined && input.isActive !== user.isActive) {
    user.isActive = input.isActive;
    changes.isActive = input.isActive;
    if (!input.isActive) endSessions = true;
  }
  try {
    await ctx.em.flush();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`User "${user.username}" already exists.`);
    throw err;
  }
  if (endSessions) await endUserSessionsAndTokens(ctx, user.id, input.isActive === false);
  await recordAudit(ctx, 'user.update', { type: 'user', id: user.id }, changes);
  return user;
}

/**
 * A changed password ends every browser session of the user; disabling the user also revokes
 * every token issued to them. Both are single set-based statements.
 */
async function endUserSessionsAndTokens(ctx: Ctx, userId: string, revokeTokens: boolean): Promise<void> {
  await ctx.sql.transaction(async (tx) => {
    await deleteSessionsOfUser(tx, userId);
    if (revokeTokens) {
      await revokeAccessTokensOfUser(tx, userId);
      await revokeRefreshTokensOfUser(tx, userId);
      await revokeGrantsOfUser(tx, userId);
    }
  });
}

export async function deleteUser(ctx: Ctx, id: string): Promise<void> {
  const user = await getUser(ctx, id);
  await ctx.em.removeAndFlush(user); // cascades: applications, grants, codes, tokens, sessions
  await recordAudit(ctx, 'user.delete', { type: 'user', id }, { username: user.username });
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
  const users = await ctx.em.find(User, { id: { $in: [...ids] } });
  return new Map(users.map((u) => [u.id, u]));
}
