import { decodeJwt, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { claimJti } from '../db/tables/used-jtis.js';
import type { ClientRecord } from '../services/client-cache.js';
import {
  CLIENT_ASSERTION_ALGS,
  ClientJwksError,
  localKeySet,
  remoteClientKeys,
} from '../services/client-jwks.js';
import type { ServerCtx } from '../services/context.js';
import { invalidClient, type OAuthError } from './errors.js';

/** RFC 7523 §3 item 4: assertions must be short-lived; longer ones are refused, not trimmed. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Clock skew allowed on `exp`, `nbf` and `iat` (RFC 7523 §3 items 4–6 "reasonable leeway"). */
export const ASSERTION_CLOCK_SKEW_SECONDS = 30;
const MAX_ASSERTION_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;

/**
 * The client an assertion says it is from, before anything is verified: `client_id` is optional
 * with an assertion (RFC 7521 §4.2), the client is then named by `sub` (= `iss`, checked later).
 * Undefined when the assertion is not even a JWT.
 */
export function assertedClientId(assertion: string): string | undefined {
  if (assertion.length > MAX_ASSERTION_LENGTH) return undefined;
  try {
    const { sub, iss } = decodeJwt(assertion);
    const id = typeof sub === 'string' ? sub : typeof iss === 'string' ? iss : undefined;
    return id && id.length > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The audiences an assertion presented at `path` may name (RFC 7523 §3 item 3): the issuer
 * identifier, the URL of the endpoint it was sent to as the metadata advertises it, and — OIDC
 * Core §9 says the audience SHOULD be the token endpoint, and clients reuse that assertion
 * pattern everywhere — the token endpoint's URL at every endpoint. Nothing else: not another
 * endpoint's URL, not a spelling the metadata does not advertise.
 */
export function assertionAudiences(issuer: string, path: string): string[] {
  const endpoint = `${issuer}${path.endsWith('/') ? path : `${path}/`}`;
  return [...new Set([issuer, endpoint, `${issuer}/o/token/`])];
}

/**
 * Verifies a `private_key_jwt` client assertion (RFC 7523 §3, OIDC Core §9) for `client`:
 * signature by one of its registered keys with an allowed asymmetric algorithm, `iss` = `sub` =
 * client id, `aud` one of `audiences`, `exp` present and at most MAX_ASSERTION_LIFETIME_SECONDS
 * away, `iat`/`nbf` not in the future, and `jti` never seen before on any instance. Returns the
 * invalid_client error to answer, or undefined when the assertion is good.
 */
export async function verifyClientAssertion(
  ctx: ServerCtx,
  client: ClientRecord,
  assertion: string,
  audiences: string[],
): Promise<OAuthError | undefined> {
  const refuse = (why: string) => invalidClient(`Client assertion refused: ${why}`, false);
  if (assertion.length > MAX_ASSERTION_LENGTH) return refuse('it is too long.');
  if (!client.jwks && !client.jwksUri) return refuse('the client has no registered keys.');
  const options = {
    algorithms: [...CLIENT_ASSERTION_ALGS],
    issuer: client.clientId,
    subject: client.clientId,
    audience: audiences,
    requiredClaims: ['exp', 'jti'],
    clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
  };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, keyResolver(ctx, client), options).catch(async (err) => {
      // Several keys fit the header (no `kid`): the one that verifies it is the one.
      if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
      for await (const key of err) {
        const verified = await jwtVerify(assertion, key, options).catch((e: unknown) => {
          if (e instanceof errors.JWSSignatureVerificationFailed) return null;
          throw e;
        });
        if (verified) return verified;
      }
      throw new errors.JWSSignatureVerificationFailed();
    }));
  } catch (err) {
    return refuse(describe(err));
  }
  const now = Math.floor(Date.now() / 1000);
  const exp = payload.exp as number;
  if (payload.iat !== undefined && payload.iat > now + ASSERTION_CLOCK_SKEW_SECONDS) {
    return refuse('"iat" is in the future.');
  }
  if (exp - now > MAX_ASSERTION_LIFETIME_SECONDS + ASSERTION_CLOCK_SKEW_SECONDS) {
    return refuse(`it must expire within ${MAX_ASSERTION_LIFETIME_SECONDS} seconds.`);
  }
  if (payload.iat !== undefined) {
    if (exp - payload.iat > MAX_ASSERTION_LIFETIME_SECONDS) {
      return refuse(`it must not be valid for more than ${MAX_ASSERTION_LIFETIME_SECONDS} seconds.`);
    }
  }
  const jti = payload.jti as string;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    return refuse(`"jti" must be a string of 1 to ${MAX_JTI_LENGTH} characters.`);
  }
  // RFC 7523 §3 item 7: single use, on every instance (used_jtis is shared in PostgreSQL); kept
  // until the assertion could no longer be accepted anyway.
  const until = new Date((exp + ASSERTION_CLOCK_SKEW_SECONDS) * 1000);
  if (!(await claimJti(ctx.sql, 'client_assertion', client.clientId, jti, until))) {
    return refuse('this assertion ("jti") was already used.');
  }
  return undefined;
}

/**
 * The client's keys for jose: inline `jwks`, or the set at `jwks_uri`, fetched again (rate
 * limited) when the assertion names a key the cached set does not hold (key rotation).
 */
function keyResolver(ctx: ServerCtx, client: ClientRecord): JWTVerifyGetKey {
  if (client.jwks) return localKeySet(client.jwks);
  const uri = client.jwksUri!;
  const remote = remoteClientKeys(ctx.runtime.outbound);
  return async (header, token) => {
    const set = await remote.keySet(uri);
    try {
      return await set(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      const fresh = await remote.refetched(uri);
      if (!fresh) throw err;
      return fresh(header, token);
    }
  };
}

/** What went wrong, in words safe to give the client (no key material, no stack). */
function describe(err: unknown): string {
  if (err instanceof ClientJwksError) return err.message;
  if (err instanceof errors.JWTExpired) return 'it has expired.';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'its "aud" must be the issuer or this endpoint\u2019s URL.';
    if (err.claim === 'iss' || err.claim === 'sub') return '"iss" and "sub" must both be the client_id.';
    if (err.claim === 'nbf') return 'it is not valid yet ("nbf").';
    return `claim "${err.claim}" is missing or invalid.`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return `the algorithm must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}.`;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return 'no registered key matches it.';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify.';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'it is not a valid JWT.';
  if (err instanceof errors.JOSEError) return 'it could not be verified.';
  throw err;
}
