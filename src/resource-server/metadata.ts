import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ASYMMETRIC_ALGORITHMS } from './jwt.js';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

export interface ProtectedResourceMetadataOptions {
  /** The resource identifier (RFC 8707 / RFC 9728 §2 `resource`): an absolute URL without fragment or query. */
  resource: string;
  /** Issuer identifiers of the authorization servers whose tokens are accepted (`authorization_servers`). */
  authorizationServers: readonly string[];
  scopesSupported?: readonly string[];
  /** Default `['header']`: the only method requireToken accepts (RFC 6750 §2.1). */
  bearerMethodsSupported?: readonly string[];
  resourceName?: string;
  resourceDocumentation?: string;
  /**
   * RFC 9728 §2 `dpop_signing_alg_values_supported`: the DPoP proof algorithms requireToken
   * accepts (its `dpop.algorithms`; the library's default list when true).
   */
  dpopSigningAlgValuesSupported?: readonly string[] | true;
  /** RFC 9728 §2 `dpop_bound_access_tokens_required` (requireToken's `dpop.required`). */
  dpopBoundAccessTokensRequired?: boolean;
  /** Any other RFC 9728 §2 member (snake_case, as in the document). */
  extra?: Readonly<Record<string, unknown>>;
  /**
   * Also serve the document at the bare `/.well-known/oauth-protected-resource` when the
   * resource has a path (clients that fall back to it, e.g. older MCP clients). Default true.
   */
  root?: boolean;
}

function resourceUrl(resource: string): URL {
  let u: URL;
  try {
    u = new URL(resource);
  } catch {
    throw new TypeError('protectedResourceMetadata: resource must be an absolute URL');
  }
  if (u.hash || u.search)
    throw new TypeError('protectedResourceMetadata: resource must have no query or fragment');
  return u;
}

/** The resource's path as RFC 9728 §3.1 suffixes it: none for a root resource, no terminating slash. */
function pathSuffix(u: URL): string {
  return u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
}

/**
 * RFC 9728 §3.1: the metadata URL of a resource, the well-known segment inserted between the
 * host and the resource's path (`https://api.example.com/mcp` →
 * `https://api.example.com/.well-known/oauth-protected-resource/mcp`).
 */
export function resourceMetadataUrl(resource: string): string {
  const u = resourceUrl(resource);
  return `${u.origin}${WELL_KNOWN}${pathSuffix(u)}`;
}

/** The RFC 9728 §2 document. */
export function protectedResourceMetadataDocument(
  o: ProtectedResourceMetadataOptions,
): Record<string, unknown> {
  resourceUrl(o.resource);
  if (o.authorizationServers.length === 0)
    throw new TypeError('protectedResourceMetadata: authorizationServers must name at least one issuer');
  return {
    ...o.extra,
    resource: o.resource,
    authorization_servers: [...o.authorizationServers],
    ...(o.scopesSupported ? { scopes_supported: [...o.scopesSupported] } : {}),
    bearer_methods_supported: [...(o.bearerMethodsSupported ?? ['header'])],
    ...(o.resourceName ? { resource_name: o.resourceName } : {}),
    ...(o.resourceDocumentation ? { resource_documentation: o.resourceDocumentation } : {}),
    ...(o.dpopSigningAlgValuesSupported
      ? {
          dpop_signing_alg_values_supported: [
            ...(o.dpopSigningAlgValuesSupported === true
              ? ASYMMETRIC_ALGORITHMS
              : o.dpopSigningAlgValuesSupported),
          ],
        }
      : {}),
    ...(o.dpopBoundAccessTokensRequired !== undefined
      ? { dpop_bound_access_tokens_required: o.dpopBoundAccessTokensRequired }
      : {}),
  };
}

/**
 * Express middleware serving the document at the resource's metadata URL (RFC 9728 §3: the
 * path-suffixed form) and, unless `root: false`, at the bare well-known path. Mount it at the
 * application's root (`app.use(protectedResourceMetadata(…))`); other requests pass through.
 * The document is public and readable cross-origin (browser-based MCP clients fetch it).
 */
export function protectedResourceMetadata(o: ProtectedResourceMetadataOptions): RequestHandler {
  const body = JSON.stringify(protectedResourceMetadataDocument(o));
  const suffix = pathSuffix(resourceUrl(o.resource));
  const paths = new Set([`${WELL_KNOWN}${suffix}`]);
  if (o.root !== false) paths.add(WELL_KNOWN);
  return (req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !paths.has(req.path)) return next();
    res
      .status(200)
      .set({
        'Content-Type': 'application/json',
        'Cache-Control': 'public, max-age=300',
        'Access-Control-Allow-Origin': '*',
      })
      .send(body);
  };
}
