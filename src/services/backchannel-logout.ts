import { randomInt } from 'node:crypto';
import {
  type ClaimedLogout,
  claimDue,
  removeLogout,
  scheduleRetry,
} from '../db/tables/backchannel-logouts.js';
import { OutboundError } from '../http/outbound.js';
import { type Logger, moduleLog } from '../log.js';
import { recordBackchannelLogout } from '../observability/metrics.js';
import type { Runtime } from './context.js';
import { signJwsOffThread } from './jws.js';

/**
 * OpenID Connect Back-Channel Logout 1.0 delivery: the worker that turns queued rows
 * (backchannel_logouts, written by the statement that ends sessions: src/services/sessions.ts)
 * into signed logout tokens POSTed to each application's backchannel_logout_uri.
 *
 * - At least once: a row is deleted only after the RP answered 200 or 204 (§2.8), after the last
 *   attempt, or when it is too old (BACKCHANNEL_LOGOUT_MAX_ATTEMPTS, _MAX_AGE: logged, counted).
 *   A worker that dies mid-delivery leaves its rows to be claimed again when their lease ends;
 *   the jti stays the same across attempts, so an RP can recognise a repeat.
 * - Never twice at once: rows are claimed with FOR UPDATE SKIP LOCKED and a lease.
 * - Never with the user waiting: logouts only queue and wake the worker (`kick`).
 * - Through the one SSRF-safe outbound client, which also caps concurrent exchanges.
 */

/** §2.4 `events` member for a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** §2.4 recommends a short lifetime; the token is re-signed at each attempt. */
export const LOGOUT_TOKEN_TTL_SECONDS = 120;
/** Rows claimed per round trip. */
const CLAIM_BATCH = 16;
/** A claim holds a row this long: more than one exchange's deadline, so no claim outlives it. */
const LEASE_SECONDS = 60;
/** The longest wait between two attempts. */
const MAX_RETRY_SECONDS = 3600;

/** The claims of a logout token (§2.4): no nonce, an events member, sub and sid. */
export function logoutTokenClaims(
  issuer: string,
  row: Pick<ClaimedLogout, 'clientId' | 'sub' | 'sid' | 'jti'>,
  now = Math.floor(Date.now() / 1000),
): Record<string, unknown> {
  return {
    iss: issuer,
    aud: row.clientId,
    iat: now,
    exp: now + LOGOUT_TOKEN_TTL_SECONDS,
    jti: row.jti,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    sub: row.sub,
    ...(row.sid ? { sid: row.sid } : {}),
  };
}

/**
 * Seconds before attempt `attempts + 1`: base × 2^(attempts − 1), at most an hour, with "equal
 * jitter" (half fixed, half random) so RPs coming back from an outage are not hit in step.
 */
export function retryDelay(base: number, attempts: number): number {
  const ceiling = Math.min(MAX_RETRY_SECONDS, base * 2 ** Math.min(attempts - 1, 20));
  return Math.max(1, Math.round(ceiling / 2 + randomInt(0, Math.floor(ceiling / 2) + 1)));
}

/** What one attempt came to. */
type Outcome = 'delivered' | 'failed' | 'given_up';

export class BackchannelLogoutWorker {
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly runtime: Pick<Runtime, 'config' | 'db' | 'log' | 'keyStore' | 'outbound'>) {
    this.log = moduleLog(runtime.log, 'backchannel');
  }

  /** First round at once (rows left by an earlier process), then every poll interval. */
  start(): void {
    const interval = this.runtime.config.backchannelLogout.pollInterval;
    this.timer = setInterval(() => this.kick(), interval * 1000);
    this.timer.unref();
    this.kick();
  }

  /** Runs a round soon; a kick during a round makes another one follow it. Never throws. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.rounds().finally(() => {
      this.running = undefined;
    });
  }

  /** No new claims; the round in progress finishes (its exchanges have a deadline) first. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async rounds(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.stopped) {
          const claimed = await claimDue(this.runtime.db.sql, CLAIM_BATCH, LEASE_SECONDS);
          if (claimed.length === 0) break;
          await Promise.all(claimed.map((row) => this.attempt(row)));
          if (claimed.length < CLAIM_BATCH) break;
        }
      } catch (err) {
        // The database is away (an outage, the shutdown): the next poll tries again.
        this.log.warn({ err: (err as Error).message }, 'back-channel logout round failed; will retry');
      }
    } while (this.again && !this.stopped);
  }

  /** Signs and sends one logout token, then records the outcome on its row. */
  private async attempt(row: ClaimedLogout): Promise<void> {
    const { config, db, keyStore, outbound } = this.runtime;
    const limits = config.backchannelLogout;
    const about = { logout: row.id, client_id: row.clientId, attempt: row.attempts };
    let outcome: Outcome;
    let error = '';
    let attempted = false;
    if (!row.uri) {
      // The application no longer wants to be told: nothing to deliver.
      await removeLogout(db.sql, row.id);
      return;
    }
    if (row.expiresAt.getTime() <= Date.now()) {
      outcome = 'given_up';
      error = 'too old';
    } else {
      attempted = true;
      try {
        const token = await signJwsOffThread(
          keyStore.signer(row.alg),
          'logout+jwt',
          logoutTokenClaims(config.issuer, row),
        );
        const status = await outbound.postForm(row.uri, { logout_token: token });
        // §2.8: 200 OK (204 also accepted); anything else, a redirect included, is a failure.
        if (status === 200 || status === 204) outcome = 'delivered';
        else {
          outcome = 'failed';
          error = `HTTP ${status}`;
        }
      } catch (err) {
        outcome = 'failed';
        error = err instanceof OutboundError ? err.reason : 'error';
        if (!(err instanceof OutboundError)) {
          this.log.error({ ...about, err: (err as Error).message }, 'back-channel logout attempt failed');
        }
      }
      if (outcome === 'failed' && row.attempts >= limits.maxAttempts) outcome = 'given_up';
    }
    if (attempted) recordBackchannelLogout(outcome === 'delivered' ? 'delivered' : 'failed');
    if (outcome === 'given_up') recordBackchannelLogout('given_up');
    if (outcome === 'delivered') {
      this.log.info(about, 'back-channel logout delivered');
      await removeLogout(db.sql, row.id);
    } else if (outcome === 'given_up') {
      this.log.warn({ ...about, error }, 'back-channel logout given up');
      await removeLogout(db.sql, row.id);
    } else {
      const delay = retryDelay(limits.retryBase, row.attempts);
      this.log.info({ ...about, error, retry_in: delay }, 'back-channel logout failed; will retry');
      await scheduleRetry(db.sql, row.id, delay, error);
    }
  }
}
