import type { ResourceRecord } from '../services/resources.js';
import { OAuthError } from './errors.js';
import type { Params } from './params.js';

/**
 * RFC 8707 §2: the `resource` parameter. Its values are absolute URIs without a fragment; each
 * names a registered resource. Which applications may ask for which resource: any registered
 * resource, bounded by the application's scopes and the scopes the resource accepts.
 */

export const MAX_RESOURCE_LENGTH = 2048;
/** At most this many `resource` values in one authorization request. */
export const MAX_RESOURCES = 10;

export const invalidTarget = (d: string) => new OAuthError('invalid_target', d);

/**
 * Why a value is not a resource indicator (RFC 8707 §2: "MUST be an absolute URI … MUST NOT
 * include a fragment component"), or null when it is one. Shared by the token and authorization
 * endpoints and by resource registration.
 */
export function resourceUriProblem(value: string): string | null {
  if (value.length > MAX_RESOURCE_LENGTH) return `must be at most ${MAX_RESOURCE_LENGTH} characters`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: whitespace and controls are never part of a URI
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return 'must not contain spaces or control characters';
  if (value.includes('#')) return 'must not include a fragment';
  // An absolute URI starts with a scheme (RFC 3986 §4.3); URL() alone would accept "C:\x".
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return 'must be an absolute URI';
  try {
    new URL(value);
  } catch {
    return 'must be an absolute URI';
  }
  return null;
}

/** The resource values of a request, each checked for form (none: an empty list). */
export function resourceParams(params: Params): string[] {
  const raw = params.get('resource');
  if (raw === undefined) return [];
  // params.ts keeps repeated `resource` values joined by NUL, which no value may contain.
  const values = [...new Set(raw.split('\0'))];
  if (values.length > MAX_RESOURCES) throw invalidTarget(`At most ${MAX_RESOURCES} resources per request.`);
  for (const v of values) {
    const problem = resourceUriProblem(v);
    if (problem) throw invalidTarget(`The resource parameter ${problem} (RFC 8707 §2).`);
  }
  return values;
}

/** At the token endpoint one access token has one audience: one `resource` at most. */
export function tokenResourceParam(params: Params): string | null {
  const values = resourceParams(params);
  if (values.length > 1) {
    throw invalidTarget('Send one resource per token request: an access token has one audience.');
  }
  return values[0] ?? null;
}

/** The registered resource, or invalid_target. */
export function requireKnown(found: ResourceRecord | null, identifier: string): ResourceRecord {
  if (!found) throw invalidTarget(`The resource ${clip(identifier)} is not registered here.`);
  return found;
}

/**
 * The requested scopes must be ones each resource accepts (when it lists scopes); `openid` is
 * for the id token, not the resource. The resource is valid, the scope is what exceeds it:
 * invalid_scope (RFC 6749 §5.2), as RFC 8707 §2.2 leaves scope policy to the server.
 */
export function checkResourceScopes(scopes: readonly string[], resources: readonly ResourceRecord[]): void {
  for (const r of resources) {
    if (r.scopes.length === 0) continue;
    for (const s of scopes) {
      if (s !== 'openid' && !r.scopes.includes(s)) {
        throw new OAuthError(
          'invalid_scope',
          `The resource ${clip(r.identifier)} does not accept scope "${clip(s)}".`,
        );
      }
    }
  }
}

/**
 * Without a scope parameter, the application's default scopes narrowed to what the resources
 * accept, so asking for a resource alone works.
 */
export function narrowDefaults(
  defaults: readonly string[],
  requested: readonly string[] | undefined,
  resources: readonly ResourceRecord[],
): string[] {
  if (requested !== undefined || resources.length === 0) return [...defaults];
  return defaults.filter((s) => resources.every((r) => r.scopes.length === 0 || r.scopes.includes(s)));
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The stores resources are looked up in (the server runtime's cache). */
interface Resources {
  get(identifier: string): Promise<ResourceRecord | null>;
  cached(identifier: string): ResourceRecord | null | undefined;
}

/**
 * The token request's resource: null when none was sent (no lookup, no statement: the hot path
 * without `resource` costs nothing), else the registered resource from the cache.
 */
export async function tokenResource(resources: Resources, params: Params): Promise<ResourceRecord | null> {
  const raw = params.get('resource');
  if (raw === undefined) return null;
  // The common case, one value naming a cached registered resource, needs no parsing: its form
  // was checked when it was registered, and repeated values (joined by NUL) never match one.
  const hit = resources.cached(raw);
  if (hit) return hit;
  const identifier = tokenResourceParam(params);
  if (identifier === null) return null;
  return requireKnown(await resources.get(identifier), identifier);
}

/**
 * The lookups an authorization request's resources need, done before its (I/O-free) check; a
 * malformed value is left for the check to refuse.
 */
export async function lookUpResources(
  resources: Resources,
  params: Params,
): Promise<ReadonlyMap<string, ResourceRecord | null>> {
  const raw = params.get('resource');
  const found = new Map<string, ResourceRecord | null>();
  if (raw === undefined) return found;
  const values = [...new Set(raw.split('\0'))];
  if (values.length > MAX_RESOURCES) return found;
  for (const v of values) if (resourceUriProblem(v) === null) found.set(v, await resources.get(v));
  return found;
}

/** The request's resources, each registered (invalid_target otherwise). */
export function knownResources(
  params: Params,
  looked: ReadonlyMap<string, ResourceRecord | null>,
): ResourceRecord[] {
  return resourceParams(params).map((id) => requireKnown(looked.get(id) ?? null, id));
}

/**
 * RFC 6749 §3.3 scope resolution (resolveScopes), then RFC 8707: without a scope parameter the
 * defaults are narrowed to what the resources accept; every scope must be accepted by each
 * resource.
 */
export function resolveScopesFor(
  resolve: (requested: string[] | undefined) => string[],
  requested: string[] | undefined,
  resources: readonly ResourceRecord[],
): string[] {
  const scopes = resolve(requested);
  if (resources.length === 0) return scopes;
  const narrowed = narrowDefaults(scopes, requested, resources);
  if (narrowed.length === 0) {
    throw new OAuthError(
      'invalid_scope',
      'None of the default scopes is accepted by the requested resource.',
    );
  }
  checkResourceScopes(narrowed, resources);
  return narrowed;
}

/**
 * The device grant's copy of resourceHeld (src/db/tables/grants.ts), for a code its poll has
 * already read: the token's resource must be one the code holds; none held, none may be named.
 */
export function resourceHeld(held: readonly string[], audience: string | null): boolean {
  return audience === null ? held.length === 0 : held.includes(audience);
}

export const notHeld = () =>
  invalidTarget('The resource is not one this grant was authorized for (RFC 8707 §2.2).');
