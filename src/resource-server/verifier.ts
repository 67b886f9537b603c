import { type VerifiedToken, verdict } from './auth.js';
import { type AuthorizationServerMetadata, discovery, endpointOf } from './discovery.js';
import type { Fetch, Upstream } from './http.js';
import { checkIntrospection, type IntrospectionClient, introspect } from './introspection.js';
import { KeySet } from './jwks.js';
import { ASYMMETRIC_ALGORITHMS, looksLikeJws, refusedAlgorithm, verifyJwt } from './jwt.js';
import type { Refreshing } from './refreshing.js';
import { TokenCache } from './token-cache.js';

export type VerificationMode = 'jwt' | 'introspection' | 'auto';

export interface VerifierOptions {
  /** The authorization server's issuer identifier, exactly as its metadata states it. */
  issuer: string;
  /** This API's resource identifier (RFC 8707): tokens must name it in `aud`. */
  resource: string;
  /**
   * `jwt`: RFC 9068 tokens verified locally; `introspection`: every token asked about (RFC 7662);
   * `auto`: a JWS is verified locally, anything else introspected. Default: `auto` when
   * `introspection` credentials are given, else `jwt`.
   */
  mode?: VerificationMode;
  /** A confidential client allowed to introspect (Latchkey: one with the `introspection` scope). */
  introspection?: IntrospectionClient;
  /**
   * JWS algorithms accepted. Default: the asymmetric ones in the metadata's
   * `id_token_signing_alg_values_supported`, else RS256 (RFC 9068 §2.1). `none` and HS* never.
   */
  algorithms?: readonly string[];
  /** Leeway on exp/nbf, seconds. Default 5. */
  clockToleranceSeconds?: number;
  /**
   * How long an introspection answer is reused, seconds (never past the token's `exp`): the
   * revocation lag. Default 30; 0 asks for every request. Refusals are never cached.
   */
  introspectionCacheSeconds?: number;
  /** How long a verified JWT is reused without checking its signature again. Default 60; 0 disables. */
  jwtCacheSeconds?: number;
  /** Bound on each cache. Default 10,000 tokens. */
  cacheEntries?: number;
  /** An unknown `kid` refetches the JWKS at most once per this many seconds. Default 10. */
  jwksRefetchIntervalSeconds?: number;
  /** Deadline for each call to the authorization server, seconds. Default 5. */
  timeoutSeconds?: number;
  /** Retry-After sent with a 503 when the authorization server cannot be reached. Default 5. */
  retryAfterSeconds?: number;
  /** The fetch used to reach the authorization server. Default: the global fetch. */
  fetch?: Fetch;
}

export interface TokenVerifier {
  readonly issuer: string;
  readonly resource: string;
  readonly mode: VerificationMode;
  /** The verdict on a token; throws TokenError (refused) or UpstreamError (could not ask). */
  verify(token: string): Promise<VerifiedToken>;
}

const ASYMMETRIC = new Set(ASYMMETRIC_ALGORITHMS);

/** Developer mistakes fail at start-up, with the option named; never on a request. */
function checkOptions(o: VerifierOptions): VerificationMode {
  const url = (name: string, v: unknown) => {
    let u: URL;
    try {
      u = new URL(String(v));
    } catch {
      throw new TypeError(`requireToken: ${name} must be an absolute URL`);
    }
    if (u.hash) throw new TypeError(`requireToken: ${name} must not have a fragment`);
  };
  url('issuer', o.issuer);
  url('resource', o.resource);
  const mode = o.mode ?? (o.introspection ? 'auto' : 'jwt');
  if (!['jwt', 'introspection', 'auto'].includes(mode))
    throw new TypeError(`requireToken: unknown mode ${mode}`);
  if (mode !== 'jwt' && !(o.introspection?.clientId && o.introspection.clientSecret))
    throw new TypeError(
      `requireToken: mode ${mode} needs introspection.clientId and introspection.clientSecret`,
    );
  if (o.algorithms) {
    if (o.algorithms.length === 0) throw new TypeError('requireToken: algorithms must not be empty');
    const refused = o.algorithms.filter(refusedAlgorithm);
    if (refused.length) throw new TypeError(`requireToken: algorithms may not include ${refused.join(', ')}`);
  }
  return mode;
}

function defaultAlgorithms(metadata: AuthorizationServerMetadata): string[] {
  const listed = metadata.id_token_signing_alg_values_supported;
  const usable = Array.isArray(listed) ? listed.filter((a) => ASYMMETRIC.has(a)) : [];
  return usable.length ? usable : ['RS256'];
}

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const mode = checkOptions(options);
  const { issuer, resource } = options;
  const clockToleranceSeconds = options.clockToleranceSeconds ?? 5;
  const upstream: Upstream = {
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    timeoutMs: (options.timeoutSeconds ?? 5) * 1000,
    retryAfterSeconds: options.retryAfterSeconds ?? 5,
  };
  const metadata: Refreshing<AuthorizationServerMetadata> = discovery(issuer, upstream);
  const entries = options.cacheEntries ?? 10_000;

  const keys = new KeySet(
    async () => endpointOf(await metadata.get(), 'jwks_uri', upstream),
    upstream,
    (options.jwksRefetchIntervalSeconds ?? 10) * 1000,
  );
  const jwtCacheMs = (options.jwtCacheSeconds ?? 60) * 1000;
  const jwtCache = new TokenCache<VerifiedToken>(jwtCacheMs > 0 ? entries : 0);
  let algorithms: readonly string[] | undefined = options.algorithms;

  async function viaJwt(token: string): Promise<VerifiedToken> {
    const hit = jwtCache.get(token);
    if (hit) return hit;
    algorithms ??= defaultAlgorithms(await metadata.get());
    const claims = await verifyJwt(token, keys, { issuer, resource, algorithms, clockToleranceSeconds });
    const v = verdict(claims, 'jwt');
    jwtCache.set(token, v, Math.min(Date.now() + jwtCacheMs, (v.expiresAt ?? 0) * 1000));
    return v;
  }

  const introspectionCacheMs = (options.introspectionCacheSeconds ?? 30) * 1000;
  const answers = new TokenCache<VerifiedToken>(introspectionCacheMs > 0 ? entries : 0);
  // Parallel requests with one token share one introspection call.
  const inflight = new Map<string, Promise<VerifiedToken>>();

  async function askIntrospection(token: string): Promise<VerifiedToken> {
    const endpoint = endpointOf(await metadata.get(), 'introspection_endpoint', upstream);
    const answer = await introspect(upstream, endpoint, options.introspection!, token);
    const claims = checkIntrospection(
      answer,
      { issuer, resource, clockToleranceSeconds },
      Math.floor(Date.now() / 1000),
    );
    const v = verdict(claims, 'introspection');
    const exp = v.expiresAt === undefined ? Number.POSITIVE_INFINITY : v.expiresAt * 1000;
    answers.set(token, v, Math.min(Date.now() + introspectionCacheMs, exp));
    return v;
  }

  function viaIntrospection(token: string): Promise<VerifiedToken> {
    const hit = answers.get(token);
    if (hit) return Promise.resolve(hit);
    let pending = inflight.get(token);
    if (!pending) {
      pending = askIntrospection(token).finally(() => inflight.delete(token));
      inflight.set(token, pending);
    }
    return pending;
  }

  return {
    issuer,
    resource,
    mode,
    verify(token) {
      if (mode === 'jwt' || (mode === 'auto' && looksLikeJws(token))) return viaJwt(token);
      return viaIntrospection(token);
    },
  };
}
