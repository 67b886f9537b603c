import { randomInt } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import { newId } from '../entities/base.js';
import type { DeviceCodeStatus } from '../entities/DeviceCode.js';
import { isUniqueViolation } from './errors.js';
import { MERGE_INTO_ACTIVE_GRANT } from './grants.js';
import { digest, newCredential } from './secrets.js';
import {
  ISSUE_FROM_CONSUMED,
  issueParams,
  type MintedAccessToken,
  type MintedRefreshToken,
} from './tokens.js';

/** RFC 8628 §6.1: no vowels (no words), no look-alikes; 20^8 ≈ 2.6·10^10 codes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** What a person typed → the stored form: case, dashes and spaces do not matter. */
export function normaliseUserCode(input: string): string | null {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== 8) return null;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return null;
  return code;
}

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

export interface IssuedDeviceCode {
  deviceCode: string;
  userCode: string;
}

/** Stores a new device authorization; retries on the rare user-code collision. */
export async function createDeviceCode(
  sql: Sql,
  p: { applicationId: string; scopes: string[]; ttlSeconds: number; interval: number },
): Promise<IssuedDeviceCode> {
  for (let attempt = 0; ; attempt++) {
    const deviceCode = newCredential('deviceCode');
    const userCode = newUserCode();
    try {
      await sql.execute(
        `insert into device_codes (id, device_code_digest, user_code, application_id, scopes, poll_interval, expires_at)
         values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))`,
        [newId(), digest(deviceCode), userCode, p.applicationId, p.scopes, p.interval, p.ttlSeconds],
      );
      return { deviceCode, userCode };
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= 5) throw err;
    }
  }
}

export interface PendingDevice {
  id: string;
  userCode: string;
  applicationId: string;
  clientId: string;
  scopes: string[];
}

/** A pending, unexpired authorization by its user code (what the verification page looks up). */
export async function findPendingByUserCode(sql: Sql, userCode: string): Promise<PendingDevice | null> {
  const rows = await sql.query<{
    id: string;
    user_code: string;
    application_id: string;
    client_id: string;
    scopes: string[];
  }>(
    `select d.id, d.user_code, d.application_id, a.client_id, d.scopes
       from device_codes d join applications a on a.id = d.application_id
      where d.user_code = $1 and d.status = 'pending' and d.expires_at > now()`,
    [userCode],
  );
  const r = rows[0];
  return r
    ? {
        id: r.id,
        userCode: r.user_code,
        applicationId: r.application_id,
        clientId: r.client_id,
        scopes: r.scopes,
      }
    : null;
}

/**
 * The user's decision. Approval records the consent as a grant (as the consent page does) in
 * the same statement; only a still-pending code changes. Returns false if it was not pending.
 */
export async function decideDeviceCode(
  sql: Sql,
  id: string,
  decision: { approve: true; userId: string; authTime: Date } | { approve: false },
): Promise<boolean> {
  if (!decision.approve) {
    return (
      (await sql.execute("update device_codes set status = 'denied' where id = $1 and status = 'pending'", [
        id,
      ])) === 1
    );
  }
  const rows = await sql.query<{ id: string }>(
    `with d as (select id, application_id, scopes from device_codes where id = $1 and status = 'pending' and expires_at > now()),
     g as (
       insert into grants as g (id, user_id, application_id, scopes, last_used_at)
       select $2, $3, d.application_id, d.scopes, now() from d
       ${MERGE_INTO_ACTIVE_GRANT}
       returning id)
     update device_codes set status = 'approved', user_id = $3, grant_id = (select id from g), auth_time = $4
      where id = (select id from d) returning id`,
    [id, newId(), decision.userId, decision.authTime],
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
  authTime: Date | null;
}

/**
 * Records a poll and says what to answer. A poll inside the interval makes the interval 5
 * seconds longer for every later poll (RFC 8628 §3.5).
 */
export async function pollDeviceCode(
  sql: Sql,
  deviceCode: string,
  applicationId: string,
): Promise<PolledDevice | null> {
  if (deviceCode.length > 200) return null;
  const rows = await sql.query<{
    id: string;
    status: DeviceCodeStatus;
    expired: boolean;
    too_fast: boolean;
    user_id: string | null;
    grant_id: string | null;
    scopes: string[];
    auth_time: Date | null;
  }>(
    `with p as (
       select id, last_polled_at is not null and last_polled_at > now() - make_interval(secs => poll_interval) as too_fast
         from device_codes where device_code_digest = $1 and application_id = $2 for update)
     update device_codes d
        set last_polled_at = now(),
            poll_interval = case when p.too_fast then d.poll_interval + 5 else d.poll_interval end
       from p where d.id = p.id
     returning d.id, d.status, d.expires_at <= now() as expired, p.too_fast, d.user_id, d.grant_id, d.scopes, d.auth_time`,
    [digest(deviceCode), applicationId],
  );
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
    authTime: r.auth_time,
  };
}

/** Marks an approved code consumed and writes its tokens in one statement; single use. */
export async function consumeDeviceCodeAndIssue(
  sql: Sql,
  id: string,
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  refreshTtl: number,
): Promise<boolean> {
  const rows = await sql.query<{ n: number }>(
    `with c as (
       update device_codes set status = 'consumed'
        where id = $1 and status = 'approved' and expires_at > now()
          and exists (select 1 from grants g join users u on u.id = g.user_id
                       where g.id = device_codes.grant_id and g.revoked_at is null and u.is_active)
       returning id, application_id, user_id, grant_id, scopes, auth_time, null::uuid as sid),
     ${ISSUE_FROM_CONSUMED}
     select count(*)::int as n from c`,
    [id, ...issueParams(access, refresh, refreshTtl)],
  );
  return rows[0].n === 1;
}
