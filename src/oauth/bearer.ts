import type { ServerCtx } from '../services/context.js';
import { type AccessTokenRecord, findAccessToken } from '../services/tokens.js';
import { checkSenderConstraint, type ProofRequest } from './dpop/index.js';
import { insufficientScope, invalidToken } from './errors.js';

/** The Bearer token of a request (RFC 6750 §2.1 header; §2.2 form body when allowed). */
export function bearerToken(authorization: string | undefined, formToken?: string): string | undefined {
  if (authorization && /^bearer /i.test(authorization)) return authorization.slice(7).trim() || undefined;
  return formToken;
}

/** What a resource endpoint was given: the token, and by which scheme. */
export interface PresentedToken {
  token: string;
  scheme: 'bearer' | 'dpop';
}

/**
 * The access token of `Authorization: DPoP …` (RFC 9449 §7.1) or, as bearerToken reads it,
 * `Authorization: Bearer …` and the form body.
 */
export function presentedToken(
  authorization: string | undefined,
  formToken?: string,
): PresentedToken | undefined {
  if (authorization && /^dpop /i.test(authorization)) {
    const token = authorization.slice(5).trim();
    return token ? { token, scheme: 'dpop' } : undefined;
  }
  const token = bearerToken(authorization, formToken);
  return token ? { token, scheme: 'bearer' } : undefined;
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
 * Validates an access token issued by this server: active (not expired, not revoked, user
 * enabled), presented as its binding requires (RFC 9449 §7: a DPoP-bound token with the DPoP
 * scheme and a proof) and, when `scope` is given, carrying it. RFC 6750 §3.1 errors otherwise.
 */
export async function requireAccessToken(
  ctx: ServerCtx,
  request: ProofRequest,
  presented: PresentedToken | undefined,
  scope?: string,
): Promise<AccessTokenRecord> {
  if (!presented) throw invalidToken('An access token is required.');
  const info = await findAccessToken(ctx, presented.token);
  if (!usableHere(info)) throw invalidToken('The access token is invalid, expired or revoked.');
  await checkSenderConstraint(ctx, request, presented, info.jkt);
  if (scope && !info.scopes.includes(scope)) {
    throw insufficientScope(`The access token lacks the "${scope}" scope.`, scope);
  }
  return info;
}
