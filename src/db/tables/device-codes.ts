import { newId } from '../../entities/base.js';
import type { DeviceCodeStatus } from '../../entities/DeviceCode.js';
import type { Sql } from '../sql.js';
import type { AccessTokenToStore } from './access-tokens.js';
import { grantActive, MERGE_INTO_ACTIVE_GRANT } from './grants.js';
import {
  type RefreshTokenToStore,
  TOKEN_PAIR_PARAMS,
  tokenPairFrom,
  tokenPairValues,
} from './refresh-tokens.js';
import { statement } from './statement.js';
import { userEnabled } from './users.js';

const INSERT = statement(
  ['id', 'digest', 'user_code', 'application_id', 'scopes', 'resources', 'interval', 'ttl'],
  `insert into device_codes (id, device_code_digest, user_code, application_id, scopes, resources, poll_interval, expires_at)
   values (:id, :digest, :user_code, :application_id, :scopes, :resources, :interval, now() + make_interval(secs => :ttl))`,
);

/** Stores a new device authorization (a unique violation means the user code collided). */
export async function insertDeviceCode(
  sql: Sql,
  p: {
    digest: Buffer;
    userCode: string;
    applicationId: string;
    scopes: string[];
    /** The resources (RFC 8707) the device authorization request named. */
    resources: string[];
    interval: number;
    ttlSeconds: number;
  },
): Promise<void> {
  await sql.execute(
    INSERT.text,
    INSERT.values({
      id: newId(),
      digest: p.digest,
      user_code: p.userCode,
      application_id: p.applicationId,
      scopes: p.scopes,
      resources: p.resources,
      interval: p.interval,
      ttl: p.ttlSeconds,
    }),
  );
}

export interface PendingDevice {
  id: string;
  userCode: string;
  applicationId: string;
  clientId: string;
  scopes: string[];
  resources: string[];
}

const FIND_PENDING = statement(
  ['user_code'],
  `select d.id, d.user_code, d.application_id, a.client_id, d.scopes, d.resources
     from device_codes d join applications a on a.id = d.application_id
    where d.user_code = :user_code and d.status = 'pending' and d.expires_at > now()`,
);

/** A pending, unexpired authorization by its user code (what the verification page looks up). */
export async function findPendingByUserCode(sql: Sql, userCode: string): Promise<PendingDevice | null> {
  const rows = await sql.query<{
    id: string;
    user_code: string;
    application_id: string;
    client_id: string;
    scopes: string[];
    resources: string[];
  }>(FIND_PENDING.text, FIND_PENDING.values({ user_code: userCode }));
  const r = rows[0];
  return r
    ? {
        id: r.id,
        userCode: r.user_code,
        applicationId: r.application_id,
        clientId: r.client_id,
        scopes: r.scopes,
        resources: r.resources,
      }
    : null;
}

const DENY = statement(
  ['id'],
  "update device_codes set status = 'denied' where id = :id and status = 'pending'",
);

const APPROVE = statement(
  ['id', 'grant_id', 'user_id', 'auth_time'],
  `with d as (select id, application_id, scopes, resources from device_codes
               where id = :id and status = 'pending' and expires_at > now()),
   g as (
     insert into grants as g (id, user_id, application_id, scopes, resources, last_used_at)
     select :grant_id, :user_id, d.application_id, d.scopes, d.resources, now() from d
     ${MERGE_INTO_ACTIVE_GRANT}
     returning id)
   update device_codes set status = 'approved', user_id = :user_id, grant_id = (select id from g), auth_time = :auth_time
    where id = (select id from d) returning id`,
);

/**
 * The user's decision. Approval records the consent as a grant (as the consent page does) in
 * the same statement; only a still-pending code changes. Returns false if it was not pending.
 */
export async function decideDeviceCode(
  sql: Sql,
  id: string,
  decision: { approve: true; userId: string; authTime: Date } | { approve: false },
): Promise<boolean> {
  if (!decision.approve) return (await sql.execute(DENY.text, DENY.values({ id }))) === 1;
  const rows = await sql.query<{ id: string }>(
    APPROVE.text,
    APPROVE.values({ id, grant_id: newId(), user_id: decision.userId, auth_time: decision.authTime }),
  );
  return rows.length === 1;
}

export interface PolledDevice {
  id: string;
  status: DeviceCodeStatus;
  expired: boolean;
  /** The device asked again before its interval was up (RFC 8628 §3.5 slow_down). */
  tooFast: boolean;
  userId: string | null;
  grantId: string | null;
  scopes: string[];
  resources: string[];
  authTime: Date | null;
}

const POLL = statement(
  ['digest', 'application_id'],
  `with p as (
     select id, last_polled_at is not null and last_polled_at > now() - make_interval(secs => poll_interval) as too_fast
       from device_codes where device_code_digest = :digest and application_id = :application_id for update)
   update device_codes d
      set last_polled_at = now(),
          poll_interval = case when p.too_fast then d.poll_interval + 5 else d.poll_interval end
     from p where d.id = p.id
   returning d.id, d.status, d.expires_at <= now() as expired, p.too_fast, d.user_id, d.grant_id, d.scopes, d.resources,
             d.auth_time`,
);

/**
 * Records a poll and says what to answer. A poll inside the interval makes the interval 5
 * seconds longer for every later poll (RFC 8628 §3.5).
 */
export async function pollDeviceCode(
  sql: Sql,
  digest: Buffer,
  applicationId: string,
): Promise<PolledDevice | null> {
  const rows = await sql.query<{
    id: string;
    status: DeviceCodeStatus;
    expired: boolean;
    too_fast: boolean;
    user_id: string | null;
    grant_id: string | null;
    scopes: string[];
    resources: string[];
    auth_time: Date | null;
  }>(POLL.text, POLL.values({ digest, application_id: applicationId }));
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    status: r.status,
    expired: r.expired,
    tooFast: r.too_fast,
    userId: r.user_id,
    grantId: r.grant_id,
    scopes: r.scopes,
    resources: r.resources,
    authTime: r.auth_time,
  };
}

const CONSUME = statement(
  ['id', ...TOKEN_PAIR_PARAMS],
  `with c as (
     update device_codes dc set status = 'consumed'
      where dc.id = :id and dc.status = 'approved' and dc.expires_at > now()
        and exists (select 1 from grants g where g.id = dc.grant_id and ${grantActive('g')})
        and exists (select 1 from users u where u.id = dc.user_id and ${userEnabled('u')})
     returning dc.id, dc.application_id, dc.user_id, dc.grant_id, dc.scopes, dc.resources, dc.auth_time, null::uuid as sid),
   ${tokenPairFrom('c')}
   select count(*)::int as n from c`,
);

/** Marks an approved code consumed and writes its tokens in one statement; single use. */
export async function consumeDeviceCodeAndIssue(
  sql: Sql,
  id: string,
  access: AccessTokenToStore,
  refresh: RefreshTokenToStore | null,
  refreshTtl: number,
): Promise<boolean> {
  const rows = await sql.query<{ n: number }>(
    CONSUME.text,
    CONSUME.values({ id, ...tokenPairValues(access, refresh, refreshTtl) }),
  );
  return rows[0].n === 1;
}
