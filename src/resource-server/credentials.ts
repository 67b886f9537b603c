import type { Request } from 'express';
import { invalidRequest, invalidToken, missingToken } from './errors.js';

export interface Presented {
  /** The authorization scheme as the client spelt it, e.g. `Bearer` or `DPoP`. */
  scheme: string;
  token: string;
}

/** RFC 7235 §2.1 auth-scheme (a token) and RFC 6750 §2.1 b64token credentials. */
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/s;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Far above any real access token; keeps a hostile header away from parsers and the network. */
export const MAX_TOKEN_LENGTH = 8192;

const has = (o: unknown, k: string) => typeof o === 'object' && o !== null && Object.hasOwn(o, k);

/**
 * The access token of a request, from the Authorization header only (RFC 6750 §2.1). The query
 * (§2.3, forbidden by OAuth 2.1) and the form body (§2.2) are refused rather than ignored, so a
 * client learns its mistake; two Authorization headers are refused too (Node would silently keep
 * the first). `schemes` are the accepted schemes besides Bearer (lower case; DPoP once a
 * proof-of-possession check is configured). Throws TokenError; never anything else.
 */
export function presentedToken(req: Request, schemes: ReadonlySet<string>): Presented {
  const url = req.originalUrl ?? req.url ?? '';
  const q = url.indexOf('?');
  if (q >= 0 && new URLSearchParams(url.slice(q + 1)).has('access_token'))
    throw invalidRequest(
      'Send the access token in the Authorization header, not in the URL (RFC 6750 §2.3).',
    );
  if (
    has(req.body, 'access_token') &&
    /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')
  )
    throw invalidRequest(
      'Send the access token in the Authorization header, not in the body (RFC 6750 §2.2).',
    );

  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i].length === 13 && raw[i].toLowerCase() === 'authorization') count++;
  if (count > 1) throw invalidRequest('The request has more than one Authorization header.');
  const header = req.headers.authorization;
  if (header === undefined) throw missingToken();

  // The common case, without the general parse.
  if (header.startsWith('Bearer ') && header.length <= MAX_TOKEN_LENGTH + 7) {
    const token = header.slice(7);
    if (B64TOKEN.test(token)) return { scheme: 'Bearer', token };
  }
  const m = CREDENTIALS.exec(header);
  if (!m) throw invalidRequest('The Authorization header is malformed.');
  const scheme = m[1];
  const lower = scheme.toLowerCase();
  if (lower !== 'bearer' && !schemes.has(lower)) {
    if (lower === 'dpop')
      throw invalidRequest('This resource does not accept DPoP-bound tokens yet; use a Bearer token.');
    // RFC 6750 §3.1: no Bearer credentials at all (Basic, …): the challenge says what to send.
    throw missingToken();
  }
  const token = m[2] ?? '';
  if (token.length > MAX_TOKEN_LENGTH) throw invalidToken('The access token is too long.');
  if (!B64TOKEN.test(token))
    throw invalidRequest('The credentials in the Authorization header are malformed.');
  return { scheme, token };
}
