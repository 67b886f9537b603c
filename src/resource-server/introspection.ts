import { invalidToken } from './errors.js';
import { fetchJson, type Upstream } from './http.js';

export interface IntrospectionClient {
  clientId: string;
  clientSecret: string;
}

export interface IntrospectionCheck {
  issuer: string;
  resource: string;
  clockToleranceSeconds: number;
}

/** RFC 6749 §2.3.1: client credentials are form-urlencoded before they are base64-encoded. */
export function basicCredentials({ clientId, clientSecret }: IntrospectionClient): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

/**
 * Asks the authorization server about a token (RFC 7662 §2.1), authenticated as a client with
 * client_secret_basic. Anything but a 200 JSON answer is an UpstreamError (including a 401:
 * wrong credentials here are this resource's misconfiguration, not the caller's bad token).
 */
export function introspect(
  upstream: Upstream,
  endpoint: string,
  client: IntrospectionClient,
  token: string,
): Promise<Record<string, unknown>> {
  return fetchJson(upstream, endpoint, {
    method: 'POST',
    headers: {
      Authorization: basicCredentials(client),
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
  });
}

/**
 * RFC 7662 §2.2 checks of an answer: `active` true (required), an access token (a refresh token
 * is active too, but is not a credential for an API), `iss` (when sent) the issuer, `aud` naming
 * this resource (RFC 8707: a token for another resource is refused), `exp`/`nbf` within the
 * leeway (the answer may come from the cache). Returns the answer as claims.
 */
export function checkIntrospection(
  answer: Record<string, unknown>,
  check: IntrospectionCheck,
  nowSeconds: number,
) {
  if (answer.active !== true)
    throw invalidToken('The access token is not active (expired, revoked or unknown).');
  const type = answer.token_type;
  if (type !== undefined && (typeof type !== 'string' || !/^(bearer|dpop)$/i.test(type)))
    throw invalidToken('The token is not an access token.');
  if (answer.iss !== undefined && answer.iss !== check.issuer)
    throw invalidToken('The access token is from another issuer.');
  const aud = answer.aud;
  const audience = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audience.includes(check.resource)) throw invalidToken('The access token is not for this resource.');
  const leeway = check.clockToleranceSeconds;
  if (answer.exp !== undefined && (typeof answer.exp !== 'number' || answer.exp + leeway <= nowSeconds))
    throw invalidToken('The access token has expired.');
  if (answer.nbf !== undefined && (typeof answer.nbf !== 'number' || answer.nbf - leeway > nowSeconds))
    throw invalidToken('The access token is not valid yet.');
  if (answer.scope !== undefined && typeof answer.scope !== 'string')
    throw invalidToken('The access token has malformed claims.');
  return answer;
}
