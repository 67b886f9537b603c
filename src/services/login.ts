import type { Ctx, Viewer } from './context.js';
import { checkLimits, loginLimits, recordFailure, resetLimits } from './limits.js';
import { verifyCredentials } from './users.js';

export type LoginResult =
  | { ok: true; user: Viewer }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'blocked'; retryAfter: number };

/**
 * Username + password authentication under the brute-force limits, for the login page and the
 * password grant alike: a blocked username/address is refused before any verification; a
 * failure counts against both limits; a success clears the username's counter.
 */
export async function authenticate(ctx: Ctx, username: string, password: string): Promise<LoginResult> {
  const limits = loginLimits(username, ctx.ip, ctx.config.limits);
  const before = await checkLimits(ctx.sql, limits);
  if (before.blocked) return { ok: false, reason: 'blocked', retryAfter: before.retryAfter };
  const user = await verifyCredentials(ctx, username, password);
  if (!user) {
    await recordFailure(ctx.sql, limits, ctx.config.limits.loginWindow);
    return { ok: false, reason: 'invalid' };
  }
  await resetLimits(ctx.sql, [limits[0].key]);
  return {
    ok: true,
    user: {
      id: user.id,
      username: user.username,
      email: user.email,
      isAdmin: user.isAdmin,
      isActive: user.isActive,
    },
  };
}
