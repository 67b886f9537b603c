/**
 * The refusals a protected resource answers (RFC 6750 §3.1), and the one answer that is not a
 * refusal: the authorization server could not be asked (503, the token may well be fine).
 */

/**
 * RFC 6750 §3.1 error codes, and RFC 9449 §7.1's `invalid_dpop_proof`; `undefined` is "no
 * credentials at all" (§3.1: no error code).
 */
export type BearerErrorCode =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof';

const STATUS: Record<BearerErrorCode, number> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
  invalid_dpop_proof: 401,
};

/** A refusal of the request's credentials: rendered as a status, a challenge and a JSON body. */
export class TokenError extends Error {
  readonly status: number;

  constructor(
    readonly code: BearerErrorCode | undefined,
    readonly description: string,
    /** insufficient_scope: the scopes the route needs (RFC 6750 §3, `scope`). */
    readonly scopes: readonly string[] = [],
    /**
     * The challenge that carries the error: `DPoP` when the refusal concerns DPoP (a proof, a
     * bound token sent as Bearer, a token sent with the DPoP scheme); otherwise `Bearer`.
     */
    readonly scheme: 'Bearer' | 'DPoP' = 'Bearer',
  ) {
    super(description);
    this.name = 'TokenError';
    this.status = code ? STATUS[code] : 401;
  }
}

export const missingToken = () => new TokenError(undefined, 'An access token is required.');
export const invalidRequest = (description: string) => new TokenError('invalid_request', description);
export const invalidToken = (description: string) => new TokenError('invalid_token', description);
export const invalidDpopProof = (description: string) =>
  new TokenError('invalid_dpop_proof', description, [], 'DPoP');
/** The same refusal, carried by the DPoP challenge (RFC 9449 §7.1: the client used that scheme). */
export const onDpopChallenge = (e: TokenError) =>
  e.scheme === 'DPoP' ? e : new TokenError(e.code, e.description, e.scopes, 'DPoP');
export const insufficientScope = (scopes: readonly string[]) =>
  new TokenError(
    'insufficient_scope',
    `The access token lacks the scope${scopes.length > 1 ? 's' : ''} this request needs.`,
    scopes,
  );

/**
 * The authorization server (discovery, JWKS or introspection) did not answer usably. Not a 401:
 * the client's token may be valid, and a 401 would send it to get a new one for nothing.
 */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}
