import type { Sql } from '../db/sql.js';
import { consumePushedRequest, insertPushedRequest } from '../db/tables/pushed-requests.js';
import { digest, randomString } from './secrets.js';

/** RFC 9126 §2.2: the URN prefix of every request_uri this server hands out. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/** The random part: 256 bits, base64url (43 characters). */
const RANDOM_PART = /^[\w-]{43}$/;

/**
 * Stores a validated, pushed authorization request (RFC 9126 §2.2) for `applicationId`: only the
 * digest of the request_uri's random part is kept, so the table yields no usable request_uri.
 */
export async function pushAuthorizationRequest(
  sql: Sql,
  applicationId: string,
  params: string,
  ttlSeconds: number,
): Promise<{ requestUri: string; expiresIn: number }> {
  const random = randomString(32);
  await insertPushedRequest(sql, { digest: digest(random), applicationId, params, ttlSeconds });
  return { requestUri: `${REQUEST_URI_PREFIX}${random}`, expiresIn: ttlSeconds };
}

/**
 * The parameters pushed by `applicationId` under `requestUri`, taken out so that it works once
 * (RFC 9126 §4, §7.3); null when it is not one of ours, unknown, expired, used or another client's.
 */
export async function takePushedRequest(
  sql: Sql,
  requestUri: string,
  applicationId: string,
): Promise<string | null> {
  if (!requestUri.startsWith(REQUEST_URI_PREFIX)) return null;
  const random = requestUri.slice(REQUEST_URI_PREFIX.length);
  if (!RANDOM_PART.test(random)) return null;
  return consumePushedRequest(sql, digest(random), applicationId);
}
