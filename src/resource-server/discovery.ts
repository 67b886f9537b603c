import { UpstreamError } from './errors.js';
import { fetchJson, type Upstream } from './http.js';
import { Refreshing } from './refreshing.js';

/** The members of RFC 8414 / OpenID Connect Discovery metadata the library uses. */
export interface AuthorizationServerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
  id_token_signing_alg_values_supported?: string[];
  [member: string]: unknown;
}

/** Metadata changes rarely; an hour bounds how long a moved endpoint goes unnoticed. */
const METADATA_MAX_AGE_MS = 3_600_000;

/**
 * Where the metadata of `issuer` lives: RFC 8414 §3.1 inserts the well-known segment between the
 * host and the issuer's path; OpenID Connect Discovery 1.0 §4 appends it to the issuer.
 */
export function metadataUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  return [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
  ];
}

async function discover(issuer: string, upstream: Upstream): Promise<AuthorizationServerMetadata> {
  let last: unknown;
  for (const url of metadataUrls(issuer)) {
    try {
      const doc = await fetchJson(upstream, url);
      // RFC 8414 §3.3: the issuer in the document must be the one asked for, exactly; otherwise
      // an attacker-controlled document could point the resource at its own keys.
      if (doc.issuer !== issuer)
        throw new UpstreamError(
          `the metadata at ${url} names issuer ${JSON.stringify(doc.issuer)}, not ${issuer}`,
          upstream.retryAfterSeconds,
        );
      return doc as AuthorizationServerMetadata;
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** The issuer's metadata, discovered once and re-read hourly (see Refreshing). */
export function discovery(issuer: string, upstream: Upstream): Refreshing<AuthorizationServerMetadata> {
  return new Refreshing(() => discover(issuer, upstream), METADATA_MAX_AGE_MS);
}

/** A metadata member that must be an absolute http(s) URL; its absence is the server's fault. */
export function endpointOf(
  metadata: AuthorizationServerMetadata,
  member: 'jwks_uri' | 'introspection_endpoint',
  upstream: Upstream,
): string {
  const value = metadata[member];
  if (typeof value === 'string' && /^https?:\/\//.test(value)) return value;
  throw new UpstreamError(`the authorization server's metadata has no ${member}`, upstream.retryAfterSeconds);
}
