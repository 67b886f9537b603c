import type { Sql } from '../db/sql.js';
import {
  type CodeBinding,
  type CodeDiagnosis,
  diagnoseCode,
  insertCode,
  insertCodeForSession,
  type RedeemedCode,
  type Redemption,
  redeemCode,
} from '../db/tables/authorization-codes.js';
import { digest, newCredential } from './secrets.js';

export { type CodeDiagnosis, diagnoseCode, type RedeemedCode, type Redemption, redeemCode };

export interface NewCode extends CodeBinding {
  userId: string;
  authTime: Date;
  amr: readonly string[];
  sid: string | null;
}

/**
 * Records the consent (the user's grant for the application gains the scopes, unless it already
 * covers them) and stores a new authorization code under it — one statement. Returns the code
 * value for the redirect.
 */
export async function createAuthorizationCode(sql: Sql, code: NewCode): Promise<string> {
  const value = newCredential('authorizationCode');
  await insertCode(sql, digest(value), code, code);
  return value;
}

export interface SessionCodeRequest extends CodeBinding {
  /** SHA-256 of the browser's session cookie value. */
  sessionDigest: Buffer;
  /** The application skips consent: record the grant if none covers the scopes. */
  skipConsent: boolean;
  idleTimeout: number;
}

/**
 * The authorization endpoint's common case in one statement: the session named by the cookie is
 * live (its idle expiry moves on), consent is not needed (the application skips it, or an active
 * grant covers the scopes), and a code is stored. Returns the code value, or null when any of
 * that does not hold and the request needs the full path (login, consent).
 */
export async function createCodeForSession(sql: Sql, r: SessionCodeRequest): Promise<string | null> {
  const value = newCredential('authorizationCode');
  const stored = await insertCodeForSession(sql, digest(value), r, {
    digest: r.sessionDigest,
    idleTimeout: r.idleTimeout,
    skipConsent: r.skipConsent,
  });
  return stored ? value : null;
}
