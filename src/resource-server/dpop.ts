import { createHash } from 'node:crypto';
import type { Request } from 'express';
import {
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors,
  type JWK,
  jwtVerify,
} from 'jose';
import { invalidDpopProof, TokenError } from './errors.js';
import { ASYMMETRIC_ALGORITHMS, refusedAlgorithm } from './jwt.js';

/**
 * DPoP (RFC 9449 §7) at a resource: the proof a request carries in its `DPoP` header is checked
 * per §4.3 (and §7.1: `ath`, and the key is the one the token is bound to). Written for the
 * library (it imports nothing of the authorization server, whose own check in src/oauth/dpop
 * also handles nonces and a database-wide jti table). Server nonces (§9) are optional for a
 * resource server and not used: a proof's freshness is its `iat` window plus the jti cache.
 */

/**
 * Where proofs already seen are remembered (RFC 9449 §11.1). The in-process default only protects
 * one process: an API running several instances supplies one shared store (Redis `SET key 1 NX
 * EXAT expiresAt`, a PostgreSQL `INSERT … ON CONFLICT DO NOTHING`), or a proof captured on its
 * way to one instance replays at another within the `iat` window.
 */
export interface JtiStore {
  /**
   * Records `jti` (the proof key's thumbprint and the proof's jti) until `expiresAt` (seconds
   * since the epoch; the proof is refused as too old after it anyway). Resolves true when the
   * jti was new, false when it was already claimed (a replay). Atomic: of parallel claims of
   * one jti, exactly one is true.
   */
  claim(jti: string, expiresAt: number): Promise<boolean>;
}

/**
 * The default JtiStore: one process's memory, bounded. Entries expire with their proofs; when
 * full, expired entries go first, then the oldest unexpired one (a replay of that proof would
 * need `maxEntries` newer valid proofs inside its `iat` window first). Refusing instead would let
 * one client with a valid token lock every other DPoP client out.
 */
export class MemoryJtiStore implements JtiStore {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  async claim(jti: string, expiresAt: number): Promise<boolean> {
    const now = this.now();
    const known = this.seen.get(jti);
    if (known !== undefined && known > now) return false;
    this.seen.delete(jti);
    // Insertion order is nearly expiry order (one window for every proof): sweep from the front.
    for (const [k, until] of this.seen) {
      if (until > now && this.seen.size < this.maxEntries) break;
      this.seen.delete(k);
    }
    this.seen.set(jti, expiresAt);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface DpopOptions {
  /** Proof algorithms accepted (asymmetric only). Default: RS/PS/ES 256–512, EdDSA, Ed25519. */
  algorithms?: readonly string[];
  /** A proof is accepted this long after its `iat`, seconds. Default 60. */
  maxAgeSeconds?: number;
  /** Leeway for a client clock ahead of ours (and on the age), seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** Replay protection; default one MemoryJtiStore per requireToken. Share one across instances. */
  jtiStore?: JtiStore;
  /**
   * The base URL clients call this API at, for `htu` (RFC 9449 §4.3 point 9): the proof's `htu`
   * must be this base followed by the request's path. Default: the origin of `resource`. Never
   * taken from Host or X-Forwarded-* (a client chooses those): behind a proxy that changes the
   * scheme, host or path prefix, set it to the public URL.
   */
  publicUrl?: string;
  /**
   * RFC 9728 `dpop_bound_access_tokens_required`: refuse tokens that are not DPoP-bound (also
   * when presented as Bearer). Default false.
   */
  required?: boolean;
}

/** A compact JWS; the proof's parts are base64url (RFC 7515 §7.1). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** A proof is a few hundred bytes (RSA-4096: about 1.5 KiB); more is hostile. */
const MAX_PROOF_BYTES = 8 * 1024;
/** JWK members of private or symmetric keys (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII value. */
export const accessTokenHash = (token: string) =>
  createHash('sha256').update(token, 'ascii').digest('base64url');

/**
 * RFC 9449 §4.3 point 9, RFC 3986 §6.2.2–6.2.3: scheme and host lower-cased, the default port
 * dropped, query and fragment ignored. Null for anything that is not an http(s) URL.
 */
export function normalizedHtu(value: string): string | null {
  if (value.length > 4096) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

export interface DpopCheck {
  readonly algorithms: readonly string[];
  readonly required: boolean;
  /**
   * Checks the request's proof for `token`, bound to `jkt` (its `cnf.jkt`). Resolves on success;
   * throws TokenError invalid_dpop_proof (carried by the DPoP challenge) otherwise.
   */
  verify(req: Request, token: string, jkt: string): Promise<void>;
}

/** Developer mistakes fail at start-up. */
function checkDpopOptions(o: DpopOptions, resource: string): { base: string; algorithms: string[] } {
  const algorithms = [...(o.algorithms ?? ASYMMETRIC_ALGORITHMS)];
  if (algorithms.length === 0) throw new TypeError('requireToken: dpop.algorithms must not be empty');
  const bad = algorithms.filter((a) => refusedAlgorithm(a) || !ASYMMETRIC_ALGORITHMS.includes(a));
  if (bad.length) throw new TypeError(`requireToken: dpop.algorithms may not include ${bad.join(', ')}`);
  let base: URL;
  try {
    base = new URL(o.publicUrl ?? new URL(resource).origin);
  } catch {
    throw new TypeError('requireToken: dpop.publicUrl must be an absolute URL');
  }
  if (!/^https?:$/.test(base.protocol) || base.search || base.hash)
    throw new TypeError('requireToken: dpop.publicUrl must be an http(s) URL without query or fragment');
  return { base: `${base.origin}${base.pathname.replace(/\/$/, '')}`, algorithms };
}

/** How many times a header came (Node joins repeated unknown headers into one string). */
function headerCount(req: Request, lowerName: string): number {
  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === lowerName) count++;
  return count;
}

export function createDpopCheck(o: DpopOptions, resource: string): DpopCheck {
  const { base, algorithms } = checkDpopOptions(o, resource);
  const maxAge = o.maxAgeSeconds ?? 60;
  const tolerance = o.clockToleranceSeconds ?? 5;
  const store = o.jtiStore ?? new MemoryJtiStore();
  const keys = new ProofKeys(algorithms);

  /** The URL the client called, as the public sees it (see DpopOptions.publicUrl). */
  const requestUrl = (req: Request) => {
    const url = req.originalUrl ?? req.url ?? '/';
    const q = url.indexOf('?');
    return normalizedHtu(`${base}${q >= 0 ? url.slice(0, q) : url}`);
  };

  return {
    algorithms,
    required: o.required ?? false,
    async verify(req, token, jkt) {
      const count = headerCount(req, 'dpop');
      if (count === 0)
        throw invalidDpopProof('A DPoP-bound token needs a DPoP proof header (RFC 9449 §7.1).');
      if (count > 1) throw invalidDpopProof('Exactly one DPoP header is allowed (RFC 9449 §4.3).');
      const proof = String(req.headers.dpop ?? '').trim();
      if (proof.length > MAX_PROOF_BYTES) throw invalidDpopProof('The DPoP proof is too large.');
      if (!COMPACT_JWS.test(proof)) throw invalidDpopProof('The DPoP proof is not a compact JWS.');

      const { key, thumbprint } = await keys.of(proof);
      let payload: Record<string, unknown>;
      try {
        // typ, alg in the list, the signature by the header's jwk.
        ({ payload } = await jwtVerify(proof, key, {
          typ: 'dpop+jwt',
          algorithms,
          requiredClaims: ['htm', 'htu', 'iat', 'jti'],
          clockTolerance: tolerance,
        }));
      } catch (err) {
        throw proofRefusal(err);
      }

      const { htm, htu, iat, jti, ath } = payload;
      if (htm !== req.method) throw invalidDpopProof(`The DPoP proof htm must be the request method.`);
      const expected = requestUrl(req);
      if (typeof htu !== 'string' || expected === null || normalizedHtu(htu) !== expected)
        throw invalidDpopProof(`The DPoP proof htu must be ${expected ?? 'the request URL'}.`);
      const now = Math.floor(Date.now() / 1000);
      if (typeof iat !== 'number' || !Number.isFinite(iat))
        throw invalidDpopProof('The DPoP proof needs a numeric iat.');
      if (now - iat > maxAge + tolerance) throw invalidDpopProof('The DPoP proof is too old (iat).');
      if (iat - now > tolerance) throw invalidDpopProof('The DPoP proof iat is in the future.');
      if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)
        throw invalidDpopProof('The DPoP proof needs a jti of 1 to 256 characters.');
      if (typeof ath !== 'string' || ath !== accessTokenHash(token))
        throw invalidDpopProof('The DPoP proof ath must be the hash of the access token (RFC 9449 §4.2).');

      if (thumbprint !== jkt)
        throw invalidDpopProof('The DPoP proof is not signed by the key the access token is bound to.');
      // Last, so a proof refused for another reason does not use up its jti.
      if (!(await store.claim(`${thumbprint}:${jti}`, iat + maxAge + tolerance)))
        throw invalidDpopProof('The DPoP proof was already used (jti replay).');
    },
  };
}

/**
 * The keys of proofs by protected header: a client signs every proof with one key, under the
 * same header (typ, alg, jwk), so the jwk checks, its import and its thumbprint are done once per
 * key, not once per request (the import alone cost about as much as the signature check). All
 * cached follows from the header alone; every proof's signature is still verified. Bounded: a
 * flood of keys only evicts.
 */
class ProofKeys {
  private readonly cache = new Map<string, { key: CryptoKey | Uint8Array; thumbprint: string }>();

  constructor(
    private readonly algorithms: readonly string[],
    private readonly maxEntries = 1000,
  ) {}

  async of(proof: string): Promise<{ key: CryptoKey | Uint8Array; thumbprint: string }> {
    const segment = proof.slice(0, proof.indexOf('.'));
    const hit = this.cache.get(segment);
    if (hit) return hit;
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(proof);
    } catch {
      throw invalidDpopProof('The DPoP proof header is not a JSON object.');
    }
    const jwk = header.jwk as JWK | undefined;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
      throw invalidDpopProof('The DPoP proof header must carry the public key as "jwk".');
    if (jwk.kty === 'oct' || PRIVATE_MEMBERS.some((m) => Object.hasOwn(jwk, m)))
      throw invalidDpopProof(
        'The DPoP proof "jwk" must be a public key, without private or symmetric material.',
      );
    if (typeof header.alg !== 'string' || !this.algorithms.includes(header.alg))
      throw invalidDpopProof('The DPoP proof alg is not one this resource accepts (see algs).');
    let found: { key: CryptoKey | Uint8Array; thumbprint: string };
    try {
      // jose's EmbeddedJWK: the header's jwk imported for the header's alg, and only a public key.
      const key = await EmbeddedJWK(header, { payload: '', signature: '' });
      found = { key, thumbprint: await calculateJwkThumbprint(jwk, 'sha256') };
    } catch (err) {
      throw proofRefusal(err);
    }
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(segment, found);
    return found;
  }
}

/** jose's refusals in the library's own words (nothing of the proof is echoed). */
function proofRefusal(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return invalidDpopProof('The DPoP proof alg is not one this resource accepts (see algs).');
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return invalidDpopProof('The DPoP proof signature does not verify with its jwk.');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'typ') return invalidDpopProof('The DPoP proof must have typ "dpop+jwt".');
    return invalidDpopProof('The DPoP proof lacks htm, htu, iat or jti, or has a malformed claim.');
  }
  if (err instanceof errors.JWTExpired) return invalidDpopProof('The DPoP proof has expired.');
  return invalidDpopProof('The DPoP proof is malformed or its jwk is not a usable public key.');
}
