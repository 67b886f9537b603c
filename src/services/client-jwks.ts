import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import type { ClientJwks } from '../entities/Application.js';
import { OutboundError } from '../http/outbound.js';
import { ValidationError } from './errors.js';

/**
 * The public keys a `private_key_jwt` client (RFC 7523 §2.2, OIDC Core §9) signs its assertions
 * with: the one check of a JWK Set, whether registered inline (`jwks`) or fetched (`jwks_uri`),
 * and the per-process cache of fetched sets.
 */

/** RFC 7523 §3 item 9 / RFC 7518: asymmetric only. HS* and `none` are never accepted. */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export const MAX_JWKS_KEYS = 10;
/** A 4096-bit RSA key is ~750 bytes as a JWK: ten fit with room to spare. */
export const MAX_JWKS_BYTES = 16 * 1024;

/** Members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'];
const ASYMMETRIC_KTYS = new Set(['RSA', 'EC', 'OKP']);

/**
 * A JWK Set of public signing keys, bounded: at most MAX_JWKS_KEYS keys, MAX_JWKS_BYTES as JSON,
 * each an RSA (≥ 2048 bits), EC or OKP key without private members, `use` absent or `sig`.
 * Throws ValidationError naming `field`.
 */
export function checkClientJwks(value: unknown, field = 'jwks'): ClientJwks {
  const fail = (message: string): never => {
    throw new ValidationError(field, message);
  };
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch {
    return fail('jwks must be a JSON object.');
  }
  if (json === undefined || json.length > MAX_JWKS_BYTES)
    fail(`jwks must be a JWK Set of at most ${MAX_JWKS_BYTES} bytes.`);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('jwks must be a JWK Set object.');
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_JWKS_KEYS) {
    fail(`jwks must hold a "keys" array of 1 to ${MAX_JWKS_KEYS} keys.`);
  }
  const checked: Record<string, unknown>[] = [];
  for (const [i, key] of (keys as unknown[]).entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key))
      fail(`jwks key ${i + 1} is not an object.`);
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.kty !== 'string' || !ASYMMETRIC_KTYS.has(jwk.kty)) {
      fail(`jwks key ${i + 1}: only public RSA, EC or OKP keys are accepted (no symmetric keys).`);
    }
    if (PRIVATE_MEMBERS.some((m) => m in jwk)) {
      fail(`jwks key ${i + 1} contains private key material: register the public key only.`);
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') fail(`jwks key ${i + 1}: "use" must be "sig".`);
    if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid.length > 200)) {
      fail(`jwks key ${i + 1}: "kid" must be a string of at most 200 characters.`);
    }
    if (jwk.kty === 'RSA') {
      const bits = typeof jwk.n === 'string' ? Buffer.from(jwk.n, 'base64url').length * 8 : 0;
      if (bits < 2048) fail(`jwks key ${i + 1}: RSA keys must have at least 2048 bits.`);
    }
    checked.push(jwk);
  }
  return { keys: checked };
}

/** A key set ready for jose, built once per JWK Set object (client records are cached). */
const localSets = new WeakMap<ClientJwks, JWTVerifyGetKey>();

export function localKeySet(jwks: ClientJwks): JWTVerifyGetKey {
  let set = localSets.get(jwks);
  if (!set) {
    set = createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]);
    localSets.set(jwks, set);
  }
  return set;
}

/** Fetches JSON through the SSRF-safe outbound client (src/http/outbound.ts). */
export interface JwksFetcher {
  fetchJson(url: string, opts?: { maxBytes?: number; revalidate?: boolean }): Promise<unknown>;
}

/** A fetched set is used this long before it is fetched again (the outbound cache may answer). */
export const JWKS_URI_TTL_SECONDS = 300;
/**
 * At most one fetch per jwks_uri in this many seconds because an assertion named a key the set
 * lacked: a flood of unknown `kid`s costs the remote host one request, not one per assertion.
 */
export const JWKS_URI_REFETCH_COOLDOWN_SECONDS = 30;

/** Why a client's keys could not be had: shown to the client in the invalid_client description. */
export class ClientJwksError extends Error {
  override name = 'ClientJwksError';
}

interface RemoteEntry {
  set: JWTVerifyGetKey;
  fetchedAt: number;
  /** When a missing key last made us fetch again; 0: never. */
  refetchedAt: number;
}

/**
 * The key sets of `jwks_uri` clients, per process (the remote host is the source of truth; every
 * instance may hold its own copy). Bounded; an unknown `kid` triggers one rate-limited refetch.
 */
export class RemoteClientKeys {
  private readonly entries = new Map<string, RemoteEntry>();
  private readonly maxEntries = 1000;

  constructor(
    private readonly fetcher: JwksFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key set at `uri`, fetched when not held or older than JWKS_URI_TTL_SECONDS. */
  async keySet(uri: string): Promise<JWTVerifyGetKey> {
    const hit = this.entries.get(uri);
    if (hit && this.now() - hit.fetchedAt < JWKS_URI_TTL_SECONDS * 1000) return hit.set;
    return (await this.load(uri, false, hit?.refetchedAt ?? 0)).set;
  }

  /**
   * After an assertion named a key the set does not have (rotation): the set fetched again,
   * bypassing every cache, unless that was done for this URI within the cooldown (then null).
   */
  async refetched(uri: string): Promise<JWTVerifyGetKey | null> {
    const hit = this.entries.get(uri);
    const now = this.now();
    if (hit && now - hit.refetchedAt < JWKS_URI_REFETCH_COOLDOWN_SECONDS * 1000) return null;
    // Marked before the fetch: parallel unknown kids wait for this one rather than start others.
    if (hit) hit.refetchedAt = now;
    return (await this.load(uri, true, now)).set;
  }

  private async load(uri: string, revalidate: boolean, refetchedAt: number): Promise<RemoteEntry> {
    let document: unknown;
    try {
      document = await this.fetcher.fetchJson(uri, { maxBytes: MAX_JWKS_BYTES, revalidate });
    } catch (err) {
      if (err instanceof OutboundError) throw new ClientJwksError(`The client's jwks_uri: ${err.message}`);
      throw err;
    }
    let jwks: ClientJwks;
    try {
      jwks = checkClientJwks(document, 'jwks_uri');
    } catch (err) {
      if (err instanceof ValidationError) {
        throw new ClientJwksError(`The document at the client's jwks_uri is not usable: ${err.message}`);
      }
      throw err;
    }
    const entry: RemoteEntry = { set: localKeySet(jwks), fetchedAt: this.now(), refetchedAt };
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(uri, entry);
    return entry;
  }
}

/**
 * One RemoteClientKeys per outbound client, that is per server runtime: kept beside it rather
 * than in the Runtime so nothing but client authentication needs to know it exists.
 */
const remoteKeys = new WeakMap<JwksFetcher, RemoteClientKeys>();

export function remoteClientKeys(fetcher: JwksFetcher): RemoteClientKeys {
  let keys = remoteKeys.get(fetcher);
  if (!keys) {
    keys = new RemoteClientKeys(fetcher);
    remoteKeys.set(fetcher, keys);
  }
  return keys;
}
