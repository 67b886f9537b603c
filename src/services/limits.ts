import ipaddr from 'ipaddr.js';
import type { Sql } from '../db/sql.js';

/**
 * One brute-force counter: its key, how many attempts it admits per window, and what a
 * successful attempt does to it: `reset` clears the counter (the per-username key: a user's own
 * typos must not lock them out once they get it right), `refund` takes back only that attempt
 * (per-address keys: a success must neither count against the address nor wipe the failures
 * that bound spraying many usernames from it).
 */
export interface Limit {
  key: string;
  max: number;
  onSuccess?: 'reset' | 'refund';
}

export interface LimitState {
  blocked: boolean;
  /** Seconds until the blocking window ends (0 when not blocked). */
  retryAfter: number;
}

const OPEN: LimitState = { blocked: false, retryAfter: 0 };

export type Limited<T> =
  | { ok: true; value: T }
  | { ok: false; blocked: false }
  | { ok: false; blocked: true; retryAfter: number };

/**
 * The one rule for guessable secrets (passwords, device user codes): an attempt is counted
 * before it is verified, in one atomic statement over every key, and runs only if that count is
 * within every limit. Checking first and counting after the failure let N parallel guesses all
 * pass the check before any of them was counted.
 *
 * `attempt` answers the value on success, null on a failure (which stays counted). A refused
 * attempt, or one that throws (e.g. the password hashing gate is full), is taken back on every
 * key: nothing was verified, and a client retrying against a blocked username must not use up
 * its address's budget. Counters are fixed windows in the database, shared by every instance.
 */
export async function limitedAttempt<T>(
  sql: Sql,
  limits: readonly Limit[],
  windowSeconds: number,
  attempt: () => Promise<T | null>,
): Promise<Limited<T>> {
  const claimed = await claim(sql, limits, windowSeconds);
  if (claimed.blocked) {
    await settle(sql, limits, () => 'refund');
    return { ok: false, blocked: true, retryAfter: claimed.retryAfter };
  }
  let value: T | null;
  try {
    value = await attempt();
  } catch (err) {
    await settle(sql, limits, () => 'refund');
    throw err;
  }
  if (value === null) return { ok: false, blocked: false };
  await settle(sql, limits, (l) => l.onSuccess ?? 'refund');
  return { ok: true, value };
}

/**
 * Counts an attempt that spends something (a dynamic registration) on every key, in one atomic
 * statement, and says whether it is within every limit: over it, the attempt must not run.
 * Unlike `limitedAttempt`, success is not taken back: every admitted attempt counts.
 */
export function countAttempt(sql: Sql, limits: readonly Limit[], windowSeconds: number): Promise<LimitState> {
  return claim(sql, limits, windowSeconds);
}

type Row = { key: string; count: number; retry_after: number };

/** Keys in one order for every statement, so concurrent statements lock rows in the same order. */
const sorted = (limits: readonly Limit[]) => [...limits].sort((a, b) => (a.key < b.key ? -1 : 1));

/** +1 on every key (a new window if the old one ended); blocked if any count is now over its max. */
async function claim(sql: Sql, limits: readonly Limit[], windowSeconds: number): Promise<LimitState> {
  if (limits.length === 0) return OPEN;
  const rows = await sql.query<Row>(
    `insert into rate_limit_counters as c (key, count, expires_at)
       select k, 1, now() + make_interval(secs => $2) from unnest($1::text[]) with ordinality as u(k, n) order by n
     on conflict (key) do update set
       count = case when c.expires_at <= now() then 1 else c.count + 1 end,
       expires_at = case when c.expires_at <= now() then excluded.expires_at else c.expires_at end
     returning key, count, ceil(extract(epoch from expires_at - now()))::int as retry_after`,
    [sorted(limits).map((l) => l.key), windowSeconds],
  );
  return stateOf(limits, rows, (count, max) => count > max);
}

/**
 * Takes back one attempt (`refund`) or clears the key (`reset`). Written as the same upsert as
 * `claim`, in the same key order, so it can never deadlock with it; a key that is missing or
 * whose window has ended is left as it is (the inserted row is born expired).
 */
async function settle(
  sql: Sql,
  limits: readonly Limit[],
  action: (l: Limit) => 'reset' | 'refund',
): Promise<void> {
  if (limits.length === 0) return;
  const ordered = sorted(limits);
  await sql.execute(
    `insert into rate_limit_counters as c (key, count, expires_at)
       select k, 0, now() from unnest($1::text[], $2::boolean[]) with ordinality as u(k, reset, n) order by n
     on conflict (key) do update set
       count = case
         when c.expires_at <= now() then c.count
         when (select reset from unnest($1::text[], $2::boolean[]) as r(k, reset) where r.k = c.key) then 0
         else greatest(c.count - 1, 0) end`,
    [ordered.map((l) => l.key), ordered.map((l) => action(l) === 'reset')],
  );
}

/** +1 on a failure already seen (the hot path's way: see HotPathLimiter). */
export async function recordFailure(
  sql: Sql,
  limits: readonly Limit[],
  windowSeconds: number,
): Promise<LimitState> {
  if (limits.length === 0) return OPEN;
  const rows = await sql.query<Row>(
    `insert into rate_limit_counters as c (key, count, expires_at)
       select k, 1, now() + make_interval(secs => $2) from unnest($1::text[]) as k
     on conflict (key) do update set
       count = case when c.expires_at <= now() then 1 else c.count + 1 end,
       expires_at = case when c.expires_at <= now() then excluded.expires_at else c.expires_at end
     returning key, count, ceil(extract(epoch from expires_at - now()))::int as retry_after`,
    [limits.map((l) => l.key), windowSeconds],
  );
  return stateOf(limits, rows, (count, max) => count >= max);
}

function stateOf(
  limits: readonly Limit[],
  rows: Row[],
  over: (count: number, max: number) => boolean,
): LimitState {
  let retryAfter = 0;
  for (const row of rows) {
    const limit = limits.find((l) => l.key === row.key);
    if (limit && over(row.count, limit.max)) retryAfter = Math.max(retryAfter, Math.max(1, row.retry_after));
  }
  return retryAfter > 0 ? { blocked: true, retryAfter } : OPEN;
}

/**
 * The address a brute-force counter is kept for: an IPv4 address as it is, an IPv6 address by its
 * /64. One subscriber usually holds a whole /64, so counting single IPv6 addresses would give an
 * attacker 2^64 budgets. IPv4-mapped IPv6 addresses count as their IPv4 address. Plain IPv4 (the
 * common case on the token endpoint) is returned without parsing.
 */
export function limitAddress(ip: string | undefined): string {
  if (!ip) return 'unknown';
  if (!ip.includes(':')) return ip;
  if (!ipaddr.IPv6.isValid(ip)) return 'unknown';
  const v6 = ipaddr.IPv6.parse(ip);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts
    .slice(0, 4)
    .map((p) => p.toString(16))
    .join(':')}::/64`;
}

/**
 * The login limits for a username from an address: per username+address (cleared by a success)
 * and per address (a success refunds only itself, so the failures that bound spraying stay).
 */
export function loginLimits(
  username: string,
  ip: string | undefined,
  config: { loginMaxFailures: number; loginMaxFailuresPerIp: number },
): Limit[] {
  const addr = limitAddress(ip);
  return [
    {
      key: `login:user:${username.trim().toLowerCase().slice(0, 150)}|${addr}`,
      max: config.loginMaxFailures,
      onSuccess: 'reset',
    },
    { key: `login:ip:${addr}`, max: config.loginMaxFailuresPerIp },
  ];
}

/**
 * Failure limits for a hot path (client authentication at the token endpoint), where a database
 * round trip before every verification would cost every token request. Instead the count before
 * the verify happens in this process: `blocked` is asked right before the (synchronous, cheap)
 * secret check, and `fail` counts locally before its first await, so N parallel wrong secrets
 * cannot all be checked before the first is counted — at most `max` per window per process.
 * Each failure is also counted in the database (shared by every instance), and a block found
 * there is honoured locally until the window ends; another instance learns of it at the key's
 * next failure there, so across K instances up to K × max guesses can be checked. Against
 * 256-bit client secrets that bound hardly matters; it keeps the limit meaning what it says.
 */
export class HotPathLimiter {
  private readonly entries = new Map<
    string,
    { failures: number; windowEnds: number; blockedUntil: number }
  >();

  constructor(
    private readonly sql: Sql,
    private readonly windowSeconds: number,
  ) {}

  /** Seconds until `key` is allowed again, or 0. */
  blocked(key: string, max: number): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    const now = Date.now();
    const until = Math.max(entry.blockedUntil, entry.failures >= max ? entry.windowEnds : 0);
    if (until > now) return Math.ceil((until - now) / 1000);
    if (entry.windowEnds <= now) this.entries.delete(key);
    return 0;
  }

  async fail(limit: Limit): Promise<LimitState> {
    const now = Date.now();
    let entry = this.entries.get(limit.key);
    if (!entry || entry.windowEnds <= now) {
      if (this.entries.size > 50_000) this.entries.clear();
      entry = { failures: 0, windowEnds: now + this.windowSeconds * 1000, blockedUntil: 0 };
      this.entries.set(limit.key, entry);
    }
    entry.failures++;
    const state = await recordFailure(this.sql, [limit], this.windowSeconds);
    if (state.blocked) entry.blockedUntil = Date.now() + state.retryAfter * 1000;
    return state;
  }
}

/**
 * The second-factor limit: per user (the password is already known to whoever is guessing, so
 * the address adds nothing), cleared by a success. TOTP codes and recovery codes share it.
 */
export function secondFactorLimits(userId: string, config: { loginMaxFailures: number }): Limit[] {
  return [{ key: `mfa:user:${userId}`, max: config.loginMaxFailures, onSuccess: 'reset' }];
}
