import type { SigningAlg } from '../../entities/Application.js';
import type { Sql } from '../sql.js';
import { statement } from './statement.js';

/**
 * backchannel_logouts: the queue of logout tokens to deliver (OpenID Connect Back-Channel
 * Logout 1.0 §2.5). Rows are queued by the statement that ends sessions, claimed by the delivery
 * worker (src/services/backchannel-logout.ts) with a lease, and deleted when delivered, dropped
 * (over the bound) or given up.
 */

/** Wakes the delivery workers of every instance (PostgreSQL LISTEN/NOTIFY; src/db/listen.ts). */
export const BACKCHANNEL_CHANNEL = 'latchkey_backchannel_logout';

/** Which sessions end: one, or every one of a user (but `except`, the one that made the change). */
export type SessionSelector = { sessionId: string } | { userId: string; except?: string };

const WHERE = {
  one: 'id = :session_id',
  user: 'user_id = :user_id',
  others: 'user_id = :user_id and id <> :keep',
} as const;

/**
 * Ends sessions and, in the same statement, queues one logout for every application each of them
 * signed in to that registered a backchannel_logout_uri (§2.1). `sub` is the ID Token's (the user
 * id), `sid` the session's, the jti fresh per row. The notification is sent at COMMIT, only when
 * something was queued.
 */
function endSessionsStatement<N extends string>(names: readonly N[], where: string) {
  return statement(
    [...names, 'max_age'],
    `with ended as (
       delete from sessions where ${where} returning id, user_id),
     signed_in as (
       delete from session_applications sa using ended where sa.session_id = ended.id
       returning sa.session_id, sa.application_id),
     queued as (
       insert into backchannel_logouts (id, application_id, sub, sid, jti, expires_at)
       select gen_random_uuid(), a.id, e.user_id::text, e.id::text, replace(gen_random_uuid()::text, '-', ''),
              now() + make_interval(secs => :max_age)
         from signed_in si join ended e on e.id = si.session_id join applications a on a.id = si.application_id
        where a.backchannel_logout_uri is not null
       returning 1)
     select (select count(*) from ended)::int as ended, (select count(*) from queued)::int as queued,
            (select pg_notify('${BACKCHANNEL_CHANNEL}', '') where exists (select 1 from queued)) is not null as notified`,
  );
}

const END_ONE = endSessionsStatement(['session_id'], WHERE.one);
const END_USER = endSessionsStatement(['user_id'], WHERE.user);
const END_OTHERS = endSessionsStatement(['user_id', 'keep'], WHERE.others);

export interface EndedSessions {
  ended: number;
  queued: number;
}

/** Ends the selected sessions and queues their logout tokens; one statement. */
export async function endSessionsAndQueue(
  sql: Sql,
  which: SessionSelector,
  maxAgeSeconds: number,
): Promise<EndedSessions> {
  let rows: EndedSessions[];
  if ('sessionId' in which) {
    rows = await sql.query(
      END_ONE.text,
      END_ONE.values({ session_id: which.sessionId, max_age: maxAgeSeconds }),
    );
  } else if (which.except) {
    rows = await sql.query(
      END_OTHERS.text,
      END_OTHERS.values({ user_id: which.userId, keep: which.except, max_age: maxAgeSeconds }),
    );
  } else {
    rows = await sql.query(END_USER.text, END_USER.values({ user_id: which.userId, max_age: maxAgeSeconds }));
  }
  return { ended: rows[0].ended, queued: rows[0].queued };
}

const TRIM = statement(
  ['max_pending'],
  `with dropped as (
     delete from backchannel_logouts where id = any(array(
       select id from backchannel_logouts order by created_at desc, id desc offset :max_pending))
     returning 1)
   select count(*)::int as dropped from dropped`,
);

/** Keeps the newest `maxPending` rows: the oldest beyond them are deleted; returns how many. */
export async function trimQueue(sql: Sql, maxPending: number): Promise<number> {
  const rows = await sql.query<{ dropped: number }>(TRIM.text, TRIM.values({ max_pending: maxPending }));
  return rows[0].dropped;
}

/** A claimed delivery with what signing and sending it needs. */
export interface ClaimedLogout {
  id: string;
  sub: string;
  sid: string | null;
  jti: string;
  /** Including this one. */
  attempts: number;
  expiresAt: Date;
  clientId: string;
  /** Null when the application dropped its URI since the logout was queued. */
  uri: string | null;
  alg: SigningAlg;
}

const CLAIM = statement(
  ['batch', 'lease'],
  `with due as (
     select id from backchannel_logouts where next_attempt_at <= now()
      order by next_attempt_at limit :batch for update skip locked),
   claimed as (
     update backchannel_logouts b set attempts = b.attempts + 1,
            next_attempt_at = now() + make_interval(secs => :lease)
       from due where b.id = due.id
     returning b.id, b.application_id, b.sub, b.sid, b.jti, b.attempts, b.expires_at)
   select c.id, c.sub, c.sid, c.jti, c.attempts, c.expires_at, a.client_id,
          a.backchannel_logout_uri, a.id_token_signed_response_alg
     from claimed c join applications a on a.id = c.application_id`,
);

/**
 * Claims up to `batch` due rows: SKIP LOCKED lets instances claim side by side without waiting,
 * and the claim moves next_attempt_at a lease ahead, so no other worker claims a row while its
 * delivery is under way (and a worker that died mid-delivery leaves it to be retried).
 */
export async function claimDue(sql: Sql, batch: number, leaseSeconds: number): Promise<ClaimedLogout[]> {
  const rows = await sql.query<{
    id: string;
    sub: string;
    sid: string | null;
    jti: string;
    attempts: number;
    expires_at: Date;
    client_id: string;
    backchannel_logout_uri: string | null;
    id_token_signed_response_alg: SigningAlg;
  }>(CLAIM.text, CLAIM.values({ batch, lease: leaseSeconds }));
  return rows.map((r) => ({
    id: r.id,
    sub: r.sub,
    sid: r.sid,
    jti: r.jti,
    attempts: r.attempts,
    expiresAt: r.expires_at,
    clientId: r.client_id,
    uri: r.backchannel_logout_uri,
    alg: r.id_token_signed_response_alg,
  }));
}

const REMOVE = statement(['id'], 'delete from backchannel_logouts where id = :id');
const RETRY = statement(
  ['id', 'delay', 'error'],
  `update backchannel_logouts set next_attempt_at = now() + make_interval(secs => :delay), last_error = :error
    where id = :id`,
);

/** Delivered, given up or no longer wanted: the row goes. */
export async function removeLogout(sql: Sql, id: string): Promise<void> {
  await sql.execute(REMOVE.text, REMOVE.values({ id }));
}

/** A failed attempt: the next one after `delaySeconds`, with why this one failed. */
export async function scheduleRetry(
  sql: Sql,
  id: string,
  delaySeconds: number,
  error: string,
): Promise<void> {
  await sql.execute(RETRY.text, RETRY.values({ id, delay: delaySeconds, error: error.slice(0, 200) }));
}
