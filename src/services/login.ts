import { isUuid } from '../entities/base.js';
import { User } from '../entities/User.js';
import { recordLogin } from '../observability/metrics.js';
import type { Ctx, Viewer } from './context.js';
import { BusyError } from './errors.js';
import { limitedAttempt, loginLimits } from './limits.js';
import { verifyCredentials } from './users.js';

export type LoginResult =
  | { ok: true; user: Viewer }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'blocked' | 'busy'; retryAfter: number };

/**
 * Username + password authentication under the brute-force limits, for the login page and the
 * password grant alike: every attempt counts against the username/address and address limits
 * before argon2 runs, and runs only within them. A success clears the username's counter and
 * takes back its own count on the address. `busy`: the password hashing gate is full; nothing
 * was verified and nothing counted.
 */
export async function authenticate(ctx: Ctx, username: string, password: string): Promise<LoginResult> {
  const limits = loginLimits(username, ctx.ip, ctx.config.limits);
  let result: Awaited<ReturnType<typeof limitedAttempt<Viewer>>>;
  try {
    result = await limitedAttempt(ctx.sql, limits, ctx.config.limits.loginWindow, async () => {
      const user = await verifyCredentials(ctx, username, password);
      return user ? viewerOf(user) : null;
    });
  } catch (err) {
    if (err instanceof BusyError) {
      recordLogin('busy');
      return { ok: false, reason: 'busy', retryAfter: err.retryAfter };
    }
    throw err;
  }
  recordLogin(result.ok ? 'success' : result.blocked ? 'locked' : 'failure');
  if (result.ok) return { ok: true, user: result.value };
  return result.blocked
    ? { ok: false, reason: 'blocked', retryAfter: result.retryAfter }
    : { ok: false, reason: 'invalid' };
}

/**
 * The user a login step names (a passkey's owner, the user of a pending two-step login), if
 * they may still sign in (exists, active).
 */
export async function userForLogin(ctx: Ctx, userId: string): Promise<Viewer | null> {
  if (!isUuid(userId)) return null;
  const user = await ctx.em.findOne(User, { id: userId, isActive: true });
  return user ? viewerOf(user) : null;
}

/** What a session carries of its user. */
function viewerOf(user: Pick<User, 'id' | 'username' | 'email' | 'isAdmin' | 'isActive'>): Viewer {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    isAdmin: user.isAdmin,
    isActive: user.isActive,
  };
}
