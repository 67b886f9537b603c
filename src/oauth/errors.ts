import type { ProtocolResponse } from './protocol-io.js';

/**
 * An OAuth protocol error: the RFC `error` code, a description for developers, the HTTP status
 * and any headers the RFC wants with it (WWW-Authenticate, Retry-After).
 * Descriptions never contain secrets or echo credentials.
 */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`${error}: ${description}`);
  }

  body(): { error: string; error_description: string } {
    return { error: this.error, error_description: asciiDescription(this.description) };
  }
}

/** RFC 6749 §5.2 allows only %x20-21 / %x23-5B / %x5D-7E in error_description (and headers want ASCII). */
export function asciiDescription(d: string): string {
  return d
    .replace(/§/g, 'section ')
    .replace(/["\\]/g, "'")
    .replace(/[^\x20-\x7E]/g, '?');
}

// RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1; RFC 8628 §3.5; OIDC Core §3.1.2.6.
export const invalidRequest = (d: string) => new OAuthError('invalid_request', d);
export const invalidGrant = (d: string) => new OAuthError('invalid_grant', d);
export const invalidScope = (d: string) => new OAuthError('invalid_scope', d);
export const unauthorizedClient = (d: string) => new OAuthError('unauthorized_client', d);
export const unsupportedGrantType = (d: string) => new OAuthError('unsupported_grant_type', d);
export const unsupportedResponseType = (d: string) => new OAuthError('unsupported_response_type', d);
export const accessDenied = (d: string) => new OAuthError('access_denied', d, 403);
export const invalidClient = (d: string, basic: boolean) =>
  new OAuthError(
    'invalid_client',
    d,
    401,
    basic ? { 'WWW-Authenticate': 'Basic realm="latchkey", charset="UTF-8"' } : {},
  );
export const invalidToken = (d: string) =>
  new OAuthError('invalid_token', d, 401, {
    'WWW-Authenticate': `Bearer realm="latchkey", error="invalid_token", error_description="${asciiDescription(d)}"`,
  });
export const insufficientScope = (d: string, scope: string) =>
  new OAuthError('insufficient_scope', d, 403, {
    'WWW-Authenticate': `Bearer realm="latchkey", error="insufficient_scope", scope="${scope}"`,
  });
export const temporarilyUnavailable = (retryAfter = 5) =>
  new OAuthError('temporarily_unavailable', 'The service is temporarily unavailable; retry shortly.', 503, {
    'Retry-After': String(retryAfter),
  });
export const tooManyAttempts = (error: string, retryAfter: number) =>
  new OAuthError(error, `Too many failed attempts; retry after ${retryAfter} seconds.`, 429, {
    'Retry-After': String(retryAfter),
  });

/** Sends the RFC 6749 §5.2 JSON error body. */
export function sendOAuthError(res: ProtocolResponse, err: OAuthError): void {
  res
    .setAll({ 'Cache-Control': 'no-store', Pragma: 'no-cache', ...err.headers })
    .json(err.body(), err.status);
}
