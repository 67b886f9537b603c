import type { Sql } from '../db/sql.js';
import { newId } from '../entities/base.js';
import type { Ctx, Viewer } from './context.js';
import { digest, newCredential } from './secrets.js';

/** A live browser session with its user. */
export interface BrowserSession {
  id: string;
  user: Viewer;
  authTime: Date;
  expiresAt: Date;
}

interface SessionRow extends Record<string, unknown> {
  id: string;
  auth_time: Date;
  expires_at: Date;
  absolute_expires_at: Date;
  last_seen_at: Date;
  user_id: string;
  username: string;
  email: string | null;
  is_admin: boolean;
  is_active: boolean;
}

/** Idle expiry is pushed forward at most once a minute: one write per minute, not per request. */
const TOUCH_AFTER_MS = 60_000;

/**
 * Starts a session after a successful login. Always a new id and a new cookie value: whatever
 * session the browser had before is dead (no session fixation).
 */
export async function startSession(
  ctx: Ctx,
  userId: string,
  meta: { ip?: string; userAgent?: string } = {},
): Promise<{ cookieValue: string; session: BrowserSession }> {
  const { idleTimeout, maxAge } = ctx.config.session;
  const cookieValue = newCredential('session');
  const id = newId();
  const rows = await ctx.sql.query<SessionRow>(
    `with s as (
       insert into sessions (id, token_digest, user_id, auth_time, expires_at, absolute_expires_at, ip, user_agent)
       values ($1, $2, $3, now(), now() + make_interval(secs => $4), now() + make_interval(secs => $5), $6, $7)
       returning *)
     select s.id, s.auth_time, s.expires_at, s.absolute_expires_at, s.last_seen_at,
            u.id as user_id, u.username, u.email, u.is_admin, u.is_active
       from s join users u on u.id = s.user_id`,
    [
      id,
      digest(cookieValue),
      userId,
      idleTimeout,
      maxAge,
      meta.ip?.slice(0, 64) ?? null,
      meta.userAgent?.slice(0, 256) ?? null,
    ],
  );
  return { cookieValue, session: toSession(rows[0]) };
}

/**
 * The session a cookie value names, if it is live and its user active; one indexed lookup.
 * Idle expiry moves forward (never past the absolute expiry).
 */
export async function findSession(ctx: Ctx, cookieValue: string | undefined): Promise<BrowserSession | null> {
  if (!cookieValue || cookieValue.length > 100) return null;
  const rows = await ctx.sql.query<SessionRow>(
    `select s.id, s.auth_time, s.expires_at, s.absolute_expires_at, s.last_seen_at,
            u.id as user_id, u.username, u.email, u.is_admin, u.is_active
       from sessions s join users u on u.id = s.user_id
      where s.token_digest = $1 and s.expires_at > now() and s.absolute_expires_at > now() and u.is_active`,
    [digest(cookieValue)],
  );
  const row = rows[0];
  if (!row) return null;
  if (Date.now() - row.last_seen_at.getTime() > TOUCH_AFTER_MS) {
    await touch(ctx.sql, row.id, ctx.config.session.idleTimeout);
  }
  return toSession(row);
}

async function touch(sql: Sql, id: string, idleTimeout: number): Promise<void> {
  await sql.execute(
    `update sessions set last_seen_at = now(),
            expires_at = least(now() + make_interval(secs => $2), absolute_expires_at)
      where id = $1`,
    [id, idleTimeout],
  );
}

export async function endSession(ctx: Ctx, sessionId: string): Promise<void> {
  await ctx.sql.execute('delete from sessions where id = $1', [sessionId]);
}

function toSession(row: SessionRow): BrowserSession {
  return {
    id: row.id,
    authTime: row.auth_time,
    expiresAt: row.expires_at,
    user: {
      id: row.user_id,
      username: row.username,
      email: row.email,
      isAdmin: row.is_admin,
      isActive: row.is_active,
    },
  };
}
