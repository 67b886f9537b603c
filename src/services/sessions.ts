import type { Sql } from '../db/sql.js';
import {
  type EndedSessions,
  endSessionsAndQueue,
  type SessionSelector,
  trimQueue,
} from '../db/tables/backchannel-logouts.js';
import {
  findLiveSession,
  insertSession,
  recentSignIns as recentSignInsOf,
  type SessionRecord,
  type SignIn,
} from '../db/tables/sessions.js';
import { moduleLog } from '../log.js';
import { recordBackchannelLogout } from '../observability/metrics.js';
import { requireUser } from './access.js';
import { type Ctx, isServerRuntime } from './context.js';
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

export type { EndedSessions, SessionSelector };

/**
 * The one way sessions end — logout page, RP-initiated logout, a new login replacing the old
 * session, a password change, an admin disabling or deleting a user — on `sql` (the caller's
 * transaction, if it has one): the sessions go, and in the same statement a logout token is queued for
 * every application they signed in to that has a back-channel logout URI (OpenID Connect
 * Back-Channel Logout 1.0 §2.5). The queue stays bounded: past BACKCHANNEL_LOGOUT_MAX_PENDING
 * the oldest waiting tokens are dropped (logged, counted). After COMMIT the caller hands the
 * result to `afterSessionsEnded`, which wakes the delivery worker; nobody waits for delivery.
 */
export async function endSessionsIn(ctx: Ctx, sql: Sql, which: SessionSelector): Promise<EndedSessions> {
  const { maxAge, maxPending } = ctx.config.backchannelLogout;
  const ended = await endSessionsAndQueue(sql, which, maxAge);
  if (ended.queued > 0) {
    const dropped = await trimQueue(sql, maxPending);
    if (dropped > 0) {
      recordBackchannelLogout('dropped', dropped);
      moduleLog(ctx.log, 'backchannel').warn(
        { dropped, max_pending: maxPending },
        'back-channel logout queue full: the oldest logout tokens were dropped',
      );
    }
  }
  return ended;
}

/** After the transaction that ended sessions committed: wake this process's delivery worker. */
export function afterSessionsEnded(ctx: Ctx, ended: EndedSessions): void {
  // Other instances (and this one, from a CLI process) hear the NOTIFY sent at COMMIT.
  if (ended.queued > 0 && isServerRuntime(ctx.runtime)) ctx.runtime.backchannelLogouts.kick();
}

/**
 * Ends one session (logout, or replaced by a new login) with its back-channel logouts. No
 * transaction of its own: ending and queueing are one statement, and the bound is kept by the
 * next one.
 */
export async function endSession(ctx: Ctx, sessionId: string): Promise<void> {
  const ended = await endSessionsIn(ctx, ctx.sql, { sessionId });
  afterSessionsEnded(ctx, ended);
}

/** The signed-in user's live sessions, newest first (the security page's recent sign-ins). */
export async function recentSignIns(ctx: Ctx): Promise<SignIn[]> {
  const user = requireUser(ctx);
  return recentSignInsOf(ctx.sql, user.id);
}
