import { errors, jwtVerify } from 'jose';
import { invalidToken, TokenError, UpstreamError } from './errors.js';
import type { KeySet } from './jwks.js';

/** A compact JWS: three base64url parts (the third empty for `alg: none`, refused below). */
export const looksLikeJws = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);

/** The asymmetric JWS algorithms jose verifies (RFC 7518 §3.3–3.5, RFC 8037). */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Algorithms never accepted, whatever the configuration says: unsigned, or keyed by a shared secret. */
export function refusedAlgorithm(alg: string): boolean {
  return alg === 'none' || /^HS/i.test(alg);
}

export interface JwtCheck {
  issuer: string;
  resource: string;
  algorithms: readonly string[];
  clockToleranceSeconds: number;
}

/** RFC 9068 §2.2: the claims every JWT access token carries. */
const REQUIRED_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'];

/**
 * RFC 9068 §4 validation: `typ` at+jwt (or application/at+jwt), an allowed asymmetric algorithm,
 * a signature by a key of the issuer's JWKS, `iss` the issuer, `aud` containing this resource,
 * `exp`/`nbf` within the leeway. Returns the claims; every refusal is invalid_token with a
 * description of our own (nothing from the token is echoed).
 */
export async function verifyJwt(
  token: string,
  keys: KeySet,
  check: JwtCheck,
): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(token, keys.getKey, {
      typ: 'at+jwt',
      issuer: check.issuer,
      audience: check.resource,
      algorithms: [...check.algorithms],
      clockTolerance: check.clockToleranceSeconds,
      requiredClaims: REQUIRED_CLAIMS,
    });
    if (
      typeof payload.client_id !== 'string' ||
      (payload.scope !== undefined && typeof payload.scope !== 'string')
    )
      throw invalidToken('The access token has malformed claims.');
    return payload;
  } catch (err) {
    throw refusal(err);
  }
}

function refusal(err: unknown): Error {
  if (err instanceof TokenError || err instanceof UpstreamError) return err;
  if (err instanceof errors.JWTExpired) return invalidToken('The access token has expired.');
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return invalidToken('The access token is not for this resource.');
      case 'iss':
        return invalidToken('The access token is from another issuer.');
      case 'typ':
        return invalidToken('The token is not a JWT access token (RFC 9068 typ at+jwt).');
      case 'nbf':
        return invalidToken('The access token is not valid yet.');
      default:
        return invalidToken('The access token lacks a required claim or has a malformed one.');
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return invalidToken('The access token is signed with an algorithm this resource does not accept.');
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return invalidToken('The access token is signed by a key the issuer does not publish.');
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return invalidToken('The access token signature is invalid.');
  return invalidToken('The access token is malformed.');
}
