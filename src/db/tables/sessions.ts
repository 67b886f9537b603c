import { newId } from '../../entities/base.js';
import type { Sql } from '../sql.js';
import { statement } from './statement.js';
import { userEnabled } from './users.js';

/** A live browser session with its user. */
export interface SessionRecord {
  id: string;
  user: { id: string; username: string; email: string | null; isAdmin: boolean; isActive: boolean };
  authTime: Date;
  /** How the user authenticated (RFC 8176 values). */
  amr: string[];
  expiresAt: Date;
}

/**
 * Idle expiry is pushed forward at most once a minute: one write per minute, not per request.
 * Both readers of a session (the pages and the authorization fast path) use the CTEs below, so
 * there is one touch rule.
 */
export const TOUCH_AFTER_SECONDS = 60;

/** What every reader of a session selects; `live_session` is the CTE of LIVE_SESSION. */
const SESSION_COLUMNS = `s.id, s.auth_time, s.amr, s.expires_at, s.absolute_expires_at, s.last_seen_at,
            u.id as user_id, u.username, u.email, u.is_admin, u.is_active`;

/**
 * Two CTEs: `live_session`, the session named by the cookie digest if it is live (not idle past
 * its expiry, not past its absolute expiry, its user enabled), and `session_touch`, which moves
 * its idle expiry on (never past the absolute one) when it was last seen over a minute ago.
 * Parameters: `:session_digest`, `:idle_timeout` (seconds).
 */
export const LIVE_SESSION = `
     live_session as (
       select ${SESSION_COLUMNS}
         from sessions s join users u on u.id = s.user_id
        where s.token_digest = :session_digest
          and s.expires_at > now() and s.absolute_expires_at > now() and ${userEnabled('u')}),
     session_touch as (
       update sessions set last_seen_at = now(),
              expires_at = least(now() + make_interval(secs => :idle_timeout), absolute_expires_at)
        where id = (select id from live_session)
          and last_seen_at < now() - make_interval(secs => ${TOUCH_AFTER_SECONDS}))`;

export const LIVE_SESSION_PARAMS = ['session_digest', 'idle_timeout'] as const;

interface SessionDbRow {
  id: string;
  auth_time: Date;
  amr: string[];
  expires_at: Date;
  absolute_expires_at: Date;
  last_seen_at: Date;
  user_id: string;
  username: string;
  email: string | null;
  is_admin: boolean;
  is_active: boolean;
}

function toSession(row: SessionDbRow): SessionRecord {
  return {
    id: row.id,
    authTime: row.auth_time,
    amr: row.amr,
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

const FIND = statement(LIVE_SESSION_PARAMS, `with ${LIVE_SESSION} select * from live_session`);

/** The live session a cookie digest names (its idle expiry moved on); one statement. */
export async function findLiveSession(
  sql: Sql,
  sessionDigest: Buffer,
  idleTimeout: number,
): Promise<SessionRecord | null> {
  const rows = await sql.query<SessionDbRow>(
    FIND.text,
    FIND.values({ session_digest: sessionDigest, idle_timeout: idleTimeout }),
  );
  return rows[0] ? toSession(rows[0]) : null;
}

const INSERT = statement(
  ['id', 'token_digest', 'user_id', 'amr', 'idle_timeout', 'max_age', 'ip', 'user_agent'],
  `with s as (
     insert into sessions (id, token_digest, user_id, auth_time, amr, expires_at, absolute_expires_at, ip, user_agent)
     values (:id, :token_digest, :user_id, now(), :amr, now() + make_interval(secs => :idle_timeout),
             now() + make_interval(secs => :max_age), :ip, :user_agent)
     returning *)
   select ${SESSION_COLUMNS} from s join users u on u.id = s.user_id`,
);

/** Stores a new session for a user who just logged in. */
export async function insertSession(
  sql: Sql,
  s: {
    tokenDigest: Buffer;
    userId: string;
    amr: string[];
    idleTimeout: number;
    maxAge: number;
    ip: string | null;
    userAgent: string | null;
  },
): Promise<SessionRecord> {
  const rows = await sql.query<SessionDbRow>(
    INSERT.text,
    INSERT.values({
      id: newId(),
      token_digest: s.tokenDigest,
      user_id: s.userId,
      amr: s.amr,
      idle_timeout: s.idleTimeout,
      max_age: s.maxAge,
      ip: s.ip,
      user_agent: s.userAgent,
    }),
  );
  return toSession(rows[0]);
}

// Sessions end in src/db/tables/backchannel-logouts.ts (endSessionsAndQueue): with their logouts.

export interface SignIn {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  amr: string[];
  ip: string | null;
  userAgent: string | null;
}

const RECENT = statement(
  ['user_id'],
  `select id, created_at, last_seen_at, amr, ip, user_agent from sessions
    where user_id = :user_id and expires_at > now() and absolute_expires_at > now()
    order by created_at desc limit 20`,
);

/** A user's live sessions, newest first: the sign-ins the security page lists. */
export async function recentSignIns(sql: Sql, userId: string): Promise<SignIn[]> {
  const rows = await sql.query<{
    id: string;
    created_at: Date;
    last_seen_at: Date;
    amr: string[];
    ip: string | null;
    user_agent: string | null;
  }>(RECENT.text, RECENT.values({ user_id: userId }));
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    amr: r.amr,
    ip: r.ip,
    userAgent: r.user_agent,
  }));
}
