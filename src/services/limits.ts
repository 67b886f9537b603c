import type { Sql } from '../db/sql.js';

/** One brute-force counter: its key and how many failures it allows per window. */
export interface Limit {
  key: string;
  max: number;
}

export interface LimitState {
  blocked: boolean;
  /** Seconds until the blocking window ends (0 when not blocked). */
  retryAfter: number;
}

const OPEN: LimitState = { blocked: false, retryAfter: 0 };

/**
 * Fixed-window failure counters in the database, so every instance enforces one limit.
 * `check` before doing the expensive or sensitive work; `fail` after a failure; `reset` after a
 * success. A key is blocked once it has `max` failures in its window.
 */
export async function checkLimits(sql: Sql, limits: readonly Limit[]): Promise<LimitState> {
  if (limits.length === 0) return OPEN;
  const rows = await sql.query<{ key: string; count: number; retry_after: number }>(
    `select key, count, ceil(extract(epoch from expires_at - now()))::int as retry_after
       from rate_limit_counters where key = any($1) and expires_at > now()`,
    [limits.map((l) => l.key)],
  );
  return stateOf(limits, rows);
}

export async function recordFailure(
  sql: Sql,
  limits: readonly Limit[],
  windowSeconds: number,
): Promise<LimitState> {
  if (limits.length === 0) return OPEN;
  const rows = await sql.query<{ key: string; count: number; retry_after: number }>(
    `insert into rate_limit_counters as c (key, count, expires_at)
       select k, 1, now() + make_interval(secs => $2) from unnest($1::text[]) as k
     on conflict (key) do update set
       count = case when c.expires_at <= now() then 1 else c.count + 1 end,
       expires_at = case when c.expires_at <= now() then excluded.expires_at else c.expires_at end
     returning key, count, ceil(extract(epoch from expires_at - now()))::int as retry_after`,
    [limits.map((l) => l.key), windowSeconds],
  );
  return stateOf(limits, rows);
}

export async function resetLimits(sql: Sql, keys: readonly string[]): Promise<void> {
  if (keys.length) await sql.execute('delete from rate_limit_counters where key = any($1)', [keys]);
}

function stateOf(
  limits: readonly Limit[],
  rows: Array<{ key: string; count: number; retry_after: number }>,
): LimitState {
  let retryAfter = 0;
  for (const row of rows) {
    const limit = limits.find((l) => l.key === row.key);
    if (limit && row.count >= limit.max) retryAfter = Math.max(retryAfter, Math.max(1, row.retry_after));
  }
  return retryAfter > 0 ? { blocked: true, retryAfter } : OPEN;
}

/** The login limits for a username from an address: per username+address and per address. */
export function loginLimits(
  username: string,
  ip: string | undefined,
  config: { loginMaxFailures: number; loginMaxFailuresPerIp: number },
): Limit[] {
  const addr = ip ?? 'unknown';
  return [
    {
      key: `login:user:${username.trim().toLowerCase().slice(0, 150)}|${addr}`,
      max: config.loginMaxFailures,
    },
    { key: `login:ip:${addr}`, max: config.loginMaxFailuresPerIp },
  ];
}

/**
 * Failure limits for a hot path (client authentication at the token endpoint): nothing is read
 * from the database while a key is not blocked; a failure is counted in the database (shared by
 * every instance), and once its key is over the limit this process refuses it locally until the
 * window ends. Another instance learns of the block at the key's next failure there.
 */
export class HotPathLimiter {
  private readonly blockedUntil = new Map<string, number>();

  constructor(
    private readonly sql: Sql,
    private readonly windowSeconds: number,
  ) {}

  /** Seconds until `key` is allowed again, or 0. */
  blocked(key: string): number {
    const until = this.blockedUntil.get(key);
    if (until === undefined) return 0;
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left > 0) return left;
    this.blockedUntil.delete(key);
    return 0;
  }

  async fail(limit: Limit): Promise<LimitState> {
    const state = await recordFailure(this.sql, [limit], this.windowSeconds);
    if (state.blocked) {
      if (this.blockedUntil.size > 50_000) this.blockedUntil.clear();
      this.blockedUntil.set(limit.key, Date.now() + state.retryAfter * 1000);
    }
    return state;
  }
}
