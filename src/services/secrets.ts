import { hash, timingSafeEqual } from 'node:crypto';
import { randomBytesPooled } from '../entities/base.js';

/**
 * Credentials the server hands out: a prefix that names the kind (secret scanners match on it),
 * then base64url of the issue second (4 bytes, big-endian) and 256 random bits. Only their
 * digest is ever stored: slow hashing adds nothing against 256 bits of entropy and would cap the
 * token endpoint.
 */
export const CREDENTIAL_PREFIX = {
  clientSecret: 'lk_cs_',
  accessToken: 'lk_at_',
  refreshToken: 'lk_rt_',
  authorizationCode: 'lk_ac_',
  deviceCode: 'lk_dc_',
  session: 'lk_ss_',
  initialAccessToken: 'lk_ia_',
  registrationAccessToken: 'lk_ra_',
} as const;

export type CredentialKind = keyof typeof CREDENTIAL_PREFIX;

const ISSUED_BYTES = 4;
const RANDOM_BYTES = 32;
/** Prefix and body length of a credential from `newCredential`. */
const CREDENTIAL_SHAPE = /^lk_[a-z]{2}_[\w-]{48}$/;
const CREDENTIAL_LENGTH = 54;
/** Base64url characters that hold the issue second (4 bytes; the sixth also holds random bits). */
const ISSUED_CHARS = 6;
const PREFIX_LENGTH = 6;

export function newCredential(kind: CredentialKind): string {
  const body = Buffer.allocUnsafe(ISSUED_BYTES + RANDOM_BYTES);
  body.writeUInt32BE(Math.floor(Date.now() / 1000));
  randomBytesPooled(RANDOM_BYTES).copy(body, ISSUED_BYTES);
  return CREDENTIAL_PREFIX[kind] + body.toString('base64url');
}

/**
 * The stored form of a credential, and the key it is found by: its issue second, then the
 * SHA-256 of the whole value. The second in front keeps the unique index ordered by issue time,
 * so inserts land on the few index pages of the present instead of anywhere in an index that
 * outgrows memory as the token tables reach millions of rows; it is public (the token's `iat`
 * says as much) and adds nothing to guess. A value of any other shape (a JWT, a credential
 * issued before this layout, input from anyone) is keyed by its SHA-256 alone and still never
 * matches a key of the other layout, whose length differs.
 */
export function digest(value: string): Buffer {
  const sha = hash('sha256', value, 'buffer');
  if (value.length !== CREDENTIAL_LENGTH || !CREDENTIAL_SHAPE.test(value)) return sha;
  // Two to three times cheaper than decoding the body and concatenating: this runs twice per
  // token request (the client secret and the new token).
  const key = Buffer.allocUnsafe(ISSUED_BYTES + sha.length);
  key.write(value.slice(PREFIX_LENGTH, PREFIX_LENGTH + ISSUED_CHARS), 0, ISSUED_BYTES, 'base64url');
  sha.copy(key, ISSUED_BYTES);
  return key;
}

/** Constant-time comparison of a presented credential with a stored digest. */
export function matchesDigest(presented: string, stored: Uint8Array | null | undefined): boolean {
  return stored != null && constantTimeEqual(digest(presented), stored);
}

/**
 * Constant-time equality for secrets (MACs, tokens, digests). Strings are compared as their
 * UTF-8 bytes, and lengths first: `timingSafeEqual` throws on buffers of different byte length,
 * which a string of equal character length but non-ASCII content produces. Only the length,
 * which is not secret, can leak through timing.
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
  const y = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A public, random identifier (client_id): 24 base64url characters, 144 bits. */
export function newClientId(): string {
  return randomBytesPooled(18).toString('base64url');
}

export function randomString(bytes = 32): string {
  return randomBytesPooled(bytes).toString('base64url');
}
