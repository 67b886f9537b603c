import type { ClientType, GrantType } from '../entities/Application.js';
import { REFRESH_CHAIN_STARTERS, TOKEN_EXCHANGE_GRANT } from '../vocabulary.js';
import { IssueCollector, ValidationError } from './errors.js';

/**
 * The rules for client metadata, shared by every door (GraphQL, pages, CLI). Each throws a
 * ValidationError naming the field; messages never echo more than the offending value.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const MAX_URI_LENGTH = 2000;

/** Upper bounds on list metadata per application, so one row cannot grow without limit. */
export const LIMITS = {
  redirectUris: 20,
  postLogoutRedirectUris: 20,
  allowedOrigins: 20,
  scopes: 50,
  contacts: 5,
} as const;

/**
 * A private-use scheme in reverse-domain form (RFC 8252 §7.1): at least one dot, so
 * `com.example.app` passes and browser-internal or OS-wide schemes (`intent`, `view-source`,
 * `javascript`, `data`) do not.
 */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname.toLowerCase());
}

/**
 * One redirect URI, by allow list (RFC 6749 §3.1.2, RFC 8252 §7, OAuth 2.1 §2.3.1): `https://`,
 * `http://` on a loopback host, or a reverse-domain private-use scheme; never userinfo or a
 * fragment. The URI is kept as written: it is matched exactly later.
 */
export function checkRedirectUri(value: string, field = 'redirectUris'): string {
  const uri = value.trim();
  if (uri.length === 0 || uri.length > MAX_URI_LENGTH) {
    throw new ValidationError(field, `Redirect URI must be 1–${MAX_URI_LENGTH} characters.`);
  }
  // RFC 3986 §2: no controls or spaces (the URL parser would percent-encode them, and a NUL
  // byte would reach the database).
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (/[\x00-\x20\x7f]/.test(uri)) {
    throw new ValidationError(field, 'A redirect URI must not contain spaces or control characters.');
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" is not an absolute URI.`);
  }
  if (uri.includes('#'))
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" must not contain a fragment.`);
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?]*@/i.test(uri)) {
    throw new ValidationError(field, `Redirect URI "${clip(uri)}" must not contain credentials.`);
  }
  const scheme = url.protocol;
  // WHATWG URL parsing accepts "https:evil" as https://evil/: require the authority as written.
  const written = uri.slice(0, scheme.length + 2).toLowerCase();
  if (scheme === 'https:') {
    if (written !== 'https://' || !url.hostname)
      throw new ValidationError(field, `Redirect URI "${clip(uri)}" must start with https:// and a host.`);
    return uri;
  }
  if (scheme === 'http:') {
    if (written !== 'http://' || !isLoopbackHost(url.hostname)) {
      throw new ValidationError(
        field,
        `Redirect URI "${clip(uri)}" must use https (plain http is only allowed for loopback addresses).`,
      );
    }
    return uri;
  }
  if (PRIVATE_USE_SCHEME.test(scheme)) return uri;
  throw new ValidationError(
    field,
    `Redirect URI scheme "${clip(scheme)}" is not allowed: use https, http on a loopback address, or a reverse-domain scheme such as com.example.app:/callback.`,
  );
}

/**
 * An allowed CORS origin: scheme://host[:port], nothing more (RFC 6454), and https unless the
 * host is loopback (a page on plain http elsewhere could be anyone's).
 */
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
      `Origin "${clip(raw)}" must be scheme://host[:port] with https and no path, query or fragment.`,
    );
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ValidationError(
      field,
      `Origin "${clip(raw)}" must use https (plain http is only allowed for loopback addresses).`,
    );
  }
  return url.origin;
}

/**
 * A self-asserted presentation URL (RFC 7591 §2 `client_uri`, `logo_uri`): https, no
 * credentials, bounded. Only ever shown, and marked unverified where it is.
 */
export function checkHttpsUri(value: string, field: string): string {
  const uri = value.trim();
  const url = URL.canParse(uri) ? new URL(uri) : null;
  if (url?.protocol !== 'https:' || url.username || url.password || uri.length > MAX_URI_LENGTH) {
    throw new ValidationError(field, `${field} must be an https URL without credentials.`);
  }
  return uri;
}

/**
 * OpenID Connect Back-Channel Logout 1.0 §2.2 `backchannel_logout_uri`: an absolute URL, https,
 * no fragment (a query may be there, and is kept). Plain http only to a loopback host, and only
 * when `allowHttpLoopback` (OUTBOUND_ALLOW_PRIVATE_NETWORK: the outbound client would refuse it
 * anyway). Where a name resolves is checked at each delivery by the outbound client, not here.
 */
export function checkBackchannelLogoutUri(value: string, allowHttpLoopback: boolean): string {
  const field = 'backchannelLogoutUri';
  const uri = value.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
  if (uri.length > MAX_URI_LENGTH || /[\x00-\x20\x7f]/.test(uri) || !URL.canParse(uri)) {
    throw new ValidationError(field, 'The back-channel logout URI must be an absolute URL.');
  }
  const url = new URL(uri);
  if (uri.includes('#'))
    throw new ValidationError(field, 'The back-channel logout URI must not contain a fragment.');
  if (url.username || url.password)
    throw new ValidationError(field, 'The back-channel logout URI must not contain credentials.');
  const written = uri.slice(0, url.protocol.length + 2).toLowerCase();
  const https = url.protocol === 'https:' && written === 'https://';
  const loopbackHttp =
    allowHttpLoopback && url.protocol === 'http:' && written === 'http://' && isLoopbackHost(url.hostname);
  if (!url.hostname || !(https || loopbackHttp)) {
    throw new ValidationError(field, 'The back-channel logout URI must be an https URL.');
  }
  return uri;
}

/** A contact (RFC 7591 §2 `contacts`, typically an e-mail address): printable, bounded. */
export function checkContact(value: string, field = 'contacts'): string {
  const contact = value.trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (contact.length === 0 || contact.length > 254 || /[\u0000-\u001f\u007f]/.test(contact)) {
    throw new ValidationError(field, 'Each contact must be 1–254 printable characters.');
  }
  return contact;
}

/** A list field: at most `max` entries, each checked; every bad entry is reported. */
export function checkList(
  values: readonly string[],
  field: keyof typeof LIMITS,
  check: (value: string, field: string) => string,
  label: string,
): string[] {
  if (values.length > LIMITS[field]) {
    throw new ValidationError(field, `At most ${LIMITS[field]} ${label} are allowed.`);
  }
  const out: string[] = [];
  const messages: string[] = [];
  for (const v of values) {
    try {
      const checked = check(v, field);
      if (!out.includes(checked)) out.push(checked);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      messages.push(err.message);
    }
  }
  if (messages.length > 0) throw new ValidationError(field, messages.join(' '));
  return out;
}

export function checkScopes(
  scopes: readonly string[],
  known: Readonly<Record<string, string>>,
  field = 'scopes',
): string[] {
  if (scopes.length > LIMITS.scopes)
    throw new ValidationError(field, `At most ${LIMITS.scopes} scopes are allowed.`);
  const out: string[] = [];
  const unknown: string[] = [];
  for (const raw of scopes) {
    const scope = raw.trim();
    if (!scope) continue;
    if (!Object.hasOwn(known, scope)) unknown.push(`"${clip(scope)}"`);
    else if (!out.includes(scope)) out.push(scope);
  }
  if (unknown.length === 1) throw new ValidationError(field, `Unknown scope ${unknown[0]}.`);
  if (unknown.length > 1) throw new ValidationError(field, `Unknown scopes ${unknown.join(', ')}.`);
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

/** Grant types must make sense together and for the client type; every broken rule is reported. */
export function checkGrantTypes(
  clientType: ClientType,
  grantTypes: readonly GrantType[],
  redirectUris: readonly string[],
) {
  const issues = new IssueCollector();
  if (grantTypes.length === 0) issues.add('grantTypes', 'Choose at least one grant type.');
  if (clientType === 'public' && grantTypes.includes('client_credentials')) {
    issues.add(
      'grantTypes',
      'A public client cannot use the client_credentials grant: it has no secret to authenticate with.',
    );
  }
  if (clientType === 'public' && grantTypes.includes(TOKEN_EXCHANGE_GRANT)) {
    issues.add(
      'grantTypes',
      'A public client cannot use token exchange: nothing proves which application presents the token (RFC 8693 §5).',
    );
  }
  if (
    (grantTypes.includes('authorization_code') || grantTypes.includes('implicit')) &&
    redirectUris.length === 0
  ) {
    issues.add('redirectUris', 'The authorization code grant needs at least one redirect URI.');
  }
  if (grantTypes.includes('refresh_token') && !grantTypes.some((g) => REFRESH_CHAIN_STARTERS.includes(g))) {
    issues.add(
      'grantTypes',
      'The refresh_token grant needs a grant that issues refresh tokens (authorization_code, password, device_code or token_exchange).',
    );
  }
  issues.throwIfAny();
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}
