import {
  deleteSession,
  findLiveSession,
  insertSession,
  recentSignIns as recentSignInsOf,
  type SessionRecord,
  type SignIn,
} from '../db/tables/sessions.js';
import { requireUser } from './access.js';
import type { Ctx } from './context.js';
import { digest, newCredential } from './secrets.js';

/** A live browser session with its user. */
export type BrowserSession = SessionRecord;

/**
 * Starts a session after a successful login. Always a new id and a new cookie value: whatever
 * session the browser had before is dead (no session fixation).
 */
export async function startSession(
  ctx: Ctx,
  userId: string,
  meta: { ip?: string; userAgent?: string } = {},
  amr: readonly string[] = ['pwd'],
): Promise<{ cookieValue: string; session: BrowserSession }> {
  const { idleTimeout, maxAge } = ctx.config.session;
  const cookieValue = newCredential('session');
  const session = await insertSession(ctx.sql, {
    tokenDigest: digest(cookieValue),
    userId,
    amr: [...amr],
    idleTimeout,
    maxAge,
    ip: meta.ip?.slice(0, 64) ?? null,
    userAgent: meta.userAgent?.slice(0, 256) ?? null,
  });
  return { cookieValue, session };
}

/**
 * The session a cookie value names, if it is live and its user active; one statement, which also
 * moves the idle expiry on (the same rule the authorization fast path applies).
 */
export function findSession(ctx: Ctx, cookieValue: string | undefined): Promise<BrowserSession | null> {
  if (!cookieValue || cookieValue.length > 100) return Promise.resolve(null);
  return findLiveSession(ctx.sql, digest(cookieValue), ctx.config.session.idleTimeout);
}

export async function endSession(ctx: Ctx, sessionId: string): Promise<void> {
  await deleteSession(ctx.sql, sessionId);
}

/** The signed-in user's live sessions, newest first (the security page's recent sign-ins). */
export async function recentSignIns(ctx: Ctx): Promise<SignIn[]> {
  const user = requireUser(ctx);
  return recentSignInsOf(ctx.sql, user.id);
}
