/**
 * The refusals a protected resource answers (RFC 6750 §3.1), and the one answer that is not a
 * refusal: the authorization server could not be asked (503, the token may well be fine).
 */

/** RFC 6750 §3.1 error codes; `undefined` is "no credentials at all" (§3.1: no error code). */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

const STATUS: Record<BearerErrorCode, number> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
};

/** A refusal of the request's credentials: rendered as a status, a challenge and a JSON body. */
export class TokenError extends Error {
  readonly status: number;

  constructor(
    readonly code: BearerErrorCode | undefined,
    readonly description: string,
    /** insufficient_scope: the scopes the route needs (RFC 6750 §3, `scope`). */
    readonly scopes: readonly string[] = [],
  ) {
    super(description);
    this.name = 'TokenError';
    this.status = code ? STATUS[code] : 401;
  }
}

export const missingToken = () => new TokenError(undefined, 'An access token is required.');
export const invalidRequest = (description: string) => new TokenError('invalid_request', description);
export const invalidToken = (description: string) => new TokenError('invalid_token', description);
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
