import { createLocalJWKSet, errors, type JWK, type JWTVerifyGetKey } from 'jose';
import { UpstreamError } from './errors.js';
import { fetchJson, isObject, type Upstream } from './http.js';
import { Refreshing } from './refreshing.js';

/** Keys that left the set (retired after a rotation) stop being trusted within this time. */
const JWKS_MAX_AGE_MS = 600_000;

/**
 * The authorization server's signing keys. A token naming a `kid` the cached set lacks makes
 * the set be fetched again (a key rotation on the authorization server needs no restart here),
 * at most once per `refetchIntervalMs` whatever the number of such tokens: made-up kids cannot
 * turn this resource into a flood against the JWKS endpoint.
 */
export class KeySet {
  private readonly set: Refreshing<JWTVerifyGetKey>;

  constructor(
    jwksUri: () => Promise<string>,
    upstream: Upstream,
    private readonly refetchIntervalMs: number,
  ) {
    this.set = new Refreshing(async () => {
      const doc = await fetchJson(upstream, await jwksUri());
      const keys = Array.isArray(doc.keys) ? doc.keys.filter(isObject) : undefined;
      if (!keys) throw new UpstreamError('the JWKS has no keys member', upstream.retryAfterSeconds);
      // Public keys only: a symmetric key in a JWKS could be used to forge HMAC tokens.
      const usable = keys.filter((k) => k.kty !== 'oct') as JWK[];
      try {
        return createLocalJWKSet({ keys: usable });
      } catch (err) {
        throw new UpstreamError('the JWKS is malformed', upstream.retryAfterSeconds, { cause: err });
      }
    }, JWKS_MAX_AGE_MS);
  }

  /** The key for a token's header; jose's getKey contract. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const first = await this.set.get();
    try {
      return await first(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    }
    // An unknown kid: perhaps a key rotated in since the set was fetched.
    await this.set.refresh(this.refetchIntervalMs);
    return (await this.set.get())(header, token);
  };
}
