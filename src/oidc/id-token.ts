import { createHash } from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeJwt, type JWTPayload } from 'jose';
import { acrFor } from '../oauth/authentication-level.js';
import type { ClientRecord } from '../services/client-cache.js';
import type { ServerCtx } from '../services/context.js';
import { signJwsOffThread } from '../services/jws.js';

export interface IdTokenInput {
  ctx: ServerCtx;
  client: ClientRecord;
  userId: string;
  scopes: readonly string[];
  /** The authorization request's nonce; null where the grant has none to repeat (device, refresh). */
  nonce: string | null;
  authTime: Date | null;
  /** RFC 8176 methods of the login behind the token; null where unknown (refresh, device). */
  amr?: readonly string[] | null;
  /** The browser session the user signed in with, if any. */
  sid: string | null;
  /** The access token issued alongside, for at_hash. */
  accessToken?: string;
}

/**
 * OpenID Connect Core §2 id_token, signed with the application's algorithm (RS256 by default,
 * ES256 selectable) by the active key, which was parsed once at start.
 */
export async function issueIdToken(input: IdTokenInput): Promise<string> {
  const { ctx } = input;
  const signer = ctx.runtime.keyStore.signer(input.client.idTokenSignedResponseAlg);
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: ctx.config.issuer,
    sub: input.userId,
    aud: input.client.clientId,
    exp: now + ctx.config.ttl.idToken,
    iat: now,
    azp: input.client.clientId,
  };
  if (input.authTime) claims.auth_time = Math.floor(input.authTime.getTime() / 1000);
  if (input.amr?.length) {
    claims.amr = [...input.amr];
    claims.acr = acrFor(input.amr);
  }
  if (input.nonce) claims.nonce = input.nonce;
  if (input.sid) claims.sid = input.sid;
  if (input.accessToken) claims.at_hash = halfHash(input.accessToken);
  return signJwsOffThread(signer, 'JWT', claims);
}

/** OIDC Core §3.1.3.6: base64url of the left half of the SHA-256 of the token (RS256, ES256). */
export function halfHash(value: string): string {
  return createHash('sha256').update(value, 'ascii').digest().subarray(0, 16).toString('base64url');
}

/**
 * The claims of an ID token this server issued: signed by one of its current keys, its issuer,
 * `typ` JWT or none (an RFC 9068 access token says `at+jwt`); null for anything else. Expiry and
 * audience are the caller's to judge (an expired id_token_hint is still a hint; a token
 * exchange refuses it). The one check for both doors that accept ID tokens back.
 */
export async function verifyOwnIdToken(ctx: ServerCtx, value: string): Promise<JWTPayload | null> {
  if (value.length > 8192) return null;
  try {
    const jwks = createLocalJWKSet(ctx.runtime.keyStore.jwks() as Parameters<typeof createLocalJWKSet>[0]);
    const { protectedHeader } = await compactVerify(value, jwks);
    if (protectedHeader.typ !== undefined && protectedHeader.typ.toLowerCase() !== 'jwt') return null;
    const claims = decodeJwt(value);
    return claims.iss === ctx.config.issuer ? claims : null;
  } catch {
    return null;
  }
}
