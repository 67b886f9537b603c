import type { BearerErrorCode } from './errors.js';

export interface Challenge {
  /** Default `Bearer`; `DPoP` for sender-constrained tokens (RFC 9449 §7.1). */
  scheme?: string;
  realm?: string;
  error?: BearerErrorCode;
  description?: string;
  /** RFC 6750 §3: the scopes needed (space-separated in the header). */
  scopes?: readonly string[];
  /** RFC 9728 §5.1: where the protected resource metadata is. */
  resourceMetadata?: string;
  /** RFC 9449 §7.1: the DPoP proof algorithms accepted (space-separated in the header). */
  algs?: readonly string[];
}

/**
 * RFC 6750 §3 / RFC 7235 §2.1 quoted-string: the description's characters are limited to
 * %x20-21 / %x23-5B / %x5D-7E, so a quote, a backslash, a control or non-ASCII character can
 * never break out of the parameter (or split the header); they become spaces.
 */
const quoted = (value: string) => `"${value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, ' ')}"`;

/** `WWW-Authenticate: Bearer realm="…", error="…", error_description="…", scope="…", resource_metadata="…"`. */
export function challengeHeader(c: Challenge): string {
  const params: string[] = [];
  if (c.realm !== undefined) params.push(`realm=${quoted(c.realm)}`);
  if (c.error) params.push(`error=${quoted(c.error)}`);
  if (c.error && c.description) params.push(`error_description=${quoted(c.description)}`);
  if (c.scopes?.length) params.push(`scope=${quoted(c.scopes.join(' '))}`);
  if (c.resourceMetadata) params.push(`resource_metadata=${quoted(c.resourceMetadata)}`);
  if (c.algs?.length) params.push(`algs=${quoted(c.algs.join(' '))}`);
  const scheme = c.scheme ?? 'Bearer';
  return params.length ? `${scheme} ${params.join(', ')}` : scheme;
}
