import type { ClientType, GrantType } from '../entities/Application.js';
import { ValidationError } from './errors.js';

/**
 * The rules for client metadata, shared by every door (GraphQL, pages, CLI). Each throws a
 * ValidationError naming the field; messages never echo more than the offending value.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const FORBIDDEN_SCHEMES = new Set([
  'javascript:',
  'data:',
  'vbscript:',
  'file:',
  'about:',
  'blob:',
  'ftp:',
  'ws:',
  'wss:',
]);
const MAX_URI_LENGTH = 2000;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/** RFC 6749 §3.1.2, RFC 8252 §7 and OAuth 2.1 §2.3.1 rules for one redirect URI. */
export function checkRedirectUri(value: string, field = 'redirectUris'): string {
  const uri = value.trim();
  if (uri.length === 0 || uri.length > MAX_URI_LENGTH) {
    throw new ValidationError(field, `Redirect URI must be 1–${MAX_URI_LENGTH} characters.`);
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" is not an absolute URI.`);
  }
  if (uri.includes('#'))
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" must not contain a fragment.`);
  if (url.username || url.password) {
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" must not contain credentials.`);
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) {
    throw new ValidationError(field, `Redirect URI scheme "${url.protocol}" is not allowed.`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ValidationError(
      field,
      `Redirect URI "${clip(uri)}" must use https (plain http is only allowed for loopback addresses).`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:' && !/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) {
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" has an invalid scheme.`);
  }
  return uri;
}

/** An allowed CORS origin: scheme://host[:port], nothing more (RFC 6454). */
export function checkOrigin(value: string, field = 'allowedOrigins'): string {
  const raw = value.trim().replace(/\/$/, '');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(field, `Origin "${clip(raw)}" is not a valid origin (scheme://host[:port]).`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== raw.toLowerCase()) {
    throw new ValidationError(
      field,
      `Origin "${clip(raw)}" must be scheme://host[:port] with http or https and no path, query or fragment.`,
    );
  }
  return url.origin;
}

export function checkScopes(
  scopes: readonly string[],
  known: Readonly<Record<string, string>>,
  field = 'scopes',
): string[] {
  const out: string[] = [];
  for (const raw of scopes) {
    const scope = raw.trim();
    if (!scope) continue;
    if (!Object.hasOwn(known, scope)) throw new ValidationError(field, `Unknown scope "${clip(scope)}".`);
    if (!out.includes(scope)) out.push(scope);
  }
  return out;
}

export function checkName(value: string, field = 'name'): string {
  const name = value.trim().replace(/\s+/g, ' ');
  if (name.length === 0) throw new ValidationError(field, 'Name is required.');
  if (name.length > 200) throw new ValidationError(field, 'Name must be at most 200 characters.');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw new ValidationError(field, 'Name must not contain control characters.');
  return name;
}

const ISSUES_REFRESH: GrantType[] = [
  'authorization_code',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
];

/** Grant types must make sense together and for the client type. */
export function checkGrantTypes(
  clientType: ClientType,
  grantTypes: readonly GrantType[],
  redirectUris: readonly string[],
) {
  if (grantTypes.length === 0) throw new ValidationError('grantTypes', 'Choose at least one grant type.');
  if (clientType === 'public' && grantTypes.includes('client_credentials')) {
    throw new ValidationError(
      'grantTypes',
      'A public client cannot use the client_credentials grant: it has no secret to authenticate with.',
    );
  }
  if (
    (grantTypes.includes('authorization_code') || grantTypes.includes('implicit')) &&
    redirectUris.length === 0
  ) {
    throw new ValidationError(
      'redirectUris',
      'The authorization code grant needs at least one redirect URI.',
    );
  }
  if (grantTypes.includes('refresh_token') && !grantTypes.some((g) => ISSUES_REFRESH.includes(g))) {
    throw new ValidationError(
      'grantTypes',
      'The refresh_token grant needs a grant that issues refresh tokens (authorization_code, password or device_code).',
    );
  }
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
