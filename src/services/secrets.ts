import { createHash, timingSafeEqual } from 'node:crypto';
import { randomBytesPooled } from '../entities/base.js';

/**
 * Credentials the server hands out: 256 random bits, base64url, behind a prefix that names the
 * kind (secret scanners match on it). Only their SHA-256 digest is ever stored: slow hashing
 * adds nothing against 256 bits of entropy and would cap the token endpoint.
 */
export const CREDENTIAL_PREFIX = {
  clientSecret: 'lk_cs_',
  accessToken: 'lk_at_',
  refreshToken: 'lk_rt_',
  authorizationCode: 'lk_ac_',
  deviceCode: 'lk_dc_',
  session: 'lk_ss_',
} as const;

export type CredentialKind = keyof typeof CREDENTIAL_PREFIX;

export function newCredential(kind: CredentialKind): string {
  return CREDENTIAL_PREFIX[kind] + randomBytesPooled(32).toString('base64url');
}

export function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time comparison of a presented credential with a stored digest. */
export function matchesDigest(presented: string, stored: Uint8Array | null | undefined): boolean {
  if (stored?.length !== 32) return false;
  return timingSafeEqual(digest(presented), stored);
}

/** A public, random identifier (client_id): 24 base64url characters, 144 bits. */
export function newClientId(): string {
  return randomBytesPooled(18).toString('base64url');
}

export function randomString(bytes = 32): string {
  return randomBytesPooled(bytes).toString('base64url');
}
