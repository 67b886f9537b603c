import { constants, createHash, KeyObject, type VerifyKeyObjectInput, verify } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, EmbeddedJWK, type JWK } from 'jose';

/**
 * RFC 9449 §4.3: the checks of one DPoP proof that need no state (the caller claims the `jti`
 * and checks the nonce). Every refusal is a DpopProofError with a description a developer can act
 * on; nothing a hostile header holds can make it throw anything else.
 */

/** Asymmetric algorithms jose verifies here (RFC 9449 §4.2: no MAC, never `none`). */
export const DPOP_ALGS: string[] = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'EdDSA',
  'Ed25519',
];

/** A proof is a few hundred bytes (an RSA-4096 key: about 1.5 KiB); anything near this is hostile. */
export const MAX_PROOF_BYTES = 8 * 1024;

/** RFC 9449 §11.1: a proof is accepted this long after its `iat`, and this far ahead of our clock. */
export const PROOF_MAX_AGE_SECONDS = 60;
export const PROOF_MAX_FUTURE_SECONDS = 5;

/** JWK members that make a key private or symmetric (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export class DpopProofError extends Error {
  override name = 'DpopProofError';
}

/** What the request the proof is attached to must match. */
export interface ProofTarget {
  method: string;
  /** The endpoint's public URL (under the issuer), without query or fragment. */
  url: string;
  /** Resource requests (RFC 9449 §7): the access token the proof must name in `ath`. */
  accessToken?: string;
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
  iat: number;
  nonce: string | undefined;
}

/**
 * The raw `DPoP` header(s) as Node gives them: a string (several headers of an unknown name are
 * joined with ", ", and a compact JWS never holds a comma) or an array.
 */
export function singleProof(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) || value.includes(',')) {
    throw new DpopProofError('Exactly one DPoP header is allowed (RFC 9449 section 4.3).');
  }
  return value;
}

export async function verifyProof(
  proof: string,
  target: ProofTarget,
  nowSeconds: number,
): Promise<VerifiedProof> {
  if (proof.length > MAX_PROOF_BYTES) throw new DpopProofError('The DPoP proof is too large.');
  const jws = proof.trim();
  if (!COMPACT_JWS.test(jws)) throw new DpopProofError('The DPoP proof is not a compact JWS.');
  const { key, jkt, alg } = await proofKey(jws);
  if (!signatureVerifies(jws, key, alg)) {
    throw new DpopProofError('The DPoP proof signature does not verify with its jwk.');
  }
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(jws);
  } catch {
    throw new DpopProofError('The DPoP proof payload is not a JSON object.');
  }
  const { htm, htu, iat, jti, ath, nonce } = payload;
  if (htm !== target.method) throw new DpopProofError(`The DPoP proof htm must be "${target.method}".`);
  if (typeof htu !== 'string' || (htu !== target.url && normalizedHtu(htu) !== normalizedHtu(target.url))) {
    throw new DpopProofError(`The DPoP proof htu must be "${target.url}".`);
  }
  if (typeof iat !== 'number' || !Number.isFinite(iat))
    throw new DpopProofError('The DPoP proof needs a numeric iat.');
  if (nowSeconds - iat > PROOF_MAX_AGE_SECONDS) throw new DpopProofError('The DPoP proof is too old (iat).');
  if (iat - nowSeconds > PROOF_MAX_FUTURE_SECONDS)
    throw new DpopProofError('The DPoP proof iat is in the future.');
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
    throw new DpopProofError('The DPoP proof needs a jti of 1 to 256 characters.');
  }
  if (target.accessToken !== undefined && ath !== accessTokenHash(target.accessToken)) {
    throw new DpopProofError('The DPoP proof ath does not match the access token.');
  }
  if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length > 256)) {
    throw new DpopProofError('The DPoP proof nonce must be a string.');
  }
  return { jkt, jti, iat, nonce };
}

/**
 * How node:crypto checks each algorithm's signature (RFC 7518 §3.3–3.5, RFC 8037 §3.1). The
 * signature is checked synchronously with the cached key: the WebCrypto path costs about as much
 * again in thread-pool hops, on the hot path of every DPoP request.
 */
const VERIFY: Record<string, { hash: string | null; options: Partial<VerifyKeyObjectInput> }> = {
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { hash: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
  PS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  PS384: { hash: 'sha384', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 } },
  PS512: { hash: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 } },
  RS256: { hash: 'sha256', options: {} },
  EdDSA: { hash: null, options: {} },
  Ed25519: { hash: null, options: {} },
};

function signatureVerifies(jws: string, key: KeyObject, alg: string): boolean {
  const dot = jws.lastIndexOf('.');
  const { hash, options } = VERIFY[alg];
  try {
    return verify(
      hash,
      Buffer.from(jws.slice(0, dot)),
      { key, ...options },
      Buffer.from(jws.slice(dot + 1), 'base64url'),
    );
  } catch {
    return false; // a signature of the wrong shape for the key
  }
}

interface ProofKey {
  key: KeyObject;
  jkt: string;
  alg: string;
}

/**
 * Keys by protected header: a client signs many proofs with one key, and its header (alg, typ,
 * jwk) is the same every time, so the header checks, the key import and the thumbprint are done
 * once per key rather than once per proof. Everything cached follows from the header alone; the
 * signature is still verified for every proof. Bounded: a flood of keys only evicts.
 */
const KEY_CACHE_SIZE = 1000;
const keyCache = new Map<string, ProofKey>();

async function proofKey(jws: string): Promise<ProofKey> {
  const segment = jws.slice(0, jws.indexOf('.'));
  const hit = keyCache.get(segment);
  if (hit) return hit;
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new DpopProofError('The DPoP proof header is not valid JSON.');
  }
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') {
    throw new DpopProofError('The DPoP proof must have typ "dpop+jwt".');
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || !DPOP_ALGS.includes(alg)) {
    throw new DpopProofError(
      `The DPoP proof alg must be one of ${DPOP_ALGS.join(', ')} (asymmetric; see dpop_signing_alg_values_supported).`,
    );
  }
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) {
    throw new DpopProofError('The DPoP proof header must carry the public key as "jwk".');
  }
  if (PRIVATE_MEMBERS.some((m) => m in jwk) || jwk.kty === 'oct') {
    throw new DpopProofError(
      'The DPoP proof "jwk" must be a public key: it carries private or symmetric key material.',
    );
  }
  let found: ProofKey;
  try {
    // jose's EmbeddedJWK: imports the header's jwk for the header's alg, and only a public key.
    const key = await EmbeddedJWK(header, { payload: '', signature: '' });
    found = { key: KeyObject.from(key), jkt: await calculateJwkThumbprint(jwk, 'sha256'), alg };
  } catch (err) {
    throw new DpopProofError(joseReason(err));
  }
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(segment, found);
  return found;
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII value. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * RFC 9449 §4.3 point 9 (RFC 3986 §6.2.2–6.2.3): scheme and host lower-cased, the default port
 * dropped, query and fragment ignored. Null for anything that is not an http(s) URL.
 */
export function normalizedHtu(value: string): string | null {
  if (value.length > 2048) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** RFC 7638 thumbprints of SHA-256 are 43 base64url characters (`dpop_jkt`, RFC 9449 §10). */
export const JKT = /^[A-Za-z0-9_-]{43}$/;

/** jose's own words (they never hold key material), for a developer reading the error. */
function joseReason(err: unknown): string {
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
    return 'The DPoP proof signature does not verify with its jwk.';
  }
  const detail = typeof message === 'string' ? message.slice(0, 160) : 'invalid';
  return `The DPoP proof is invalid: ${detail}.`;
}
