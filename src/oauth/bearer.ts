import type { ServerCtx } from '../services/context.js';
import { type AccessTokenRecord, findAccessToken } from '../services/tokens.js';
import { insufficientScope, invalidToken } from './errors.js';

/** The Bearer token of a request (RFC 6750 §2.1 header; §2.2 form body when allowed). */
export function bearerToken(authorization: string | undefined, formToken?: string): string | undefined {
  if (authorization && /^bearer /i.test(authorization)) return authorization.slice(7).trim() || undefined;
  return formToken;
}

/**
 * An access token Latchkey's own APIs (GraphQL, userinfo, Bearer-authenticated introspection)
 * accept: active, and issued for the default audience. A token for a resource (RFC 8707) is
 * for that resource alone, so a resource server cannot replay a user's token here.
 */
export function usableHere(info: AccessTokenRecord | null): info is AccessTokenRecord {
  return info?.active === true && info.audience === null;
}

/**
 * Validates a Bearer access token issued by this server: active (not expired, not revoked,
 * user enabled) and, when `scope` is given, carrying it. RFC 6750 §3.1 errors otherwise.
 */
export async function requireBearer(
  ctx: ServerCtx,
  token: string | undefined,
  scope?: string,
): Promise<AccessTokenRecord> {
  if (!token) throw invalidToken('An access token is required.');
  const info = await findAccessToken(ctx, token);
  if (!usableHere(info)) throw invalidToken('The access token is invalid, expired or revoked.');
  if (scope && !info.scopes.includes(scope)) {
    throw insufficientScope(`The access token lacks the "${scope}" scope.`, scope);
  }
  return info;
}
