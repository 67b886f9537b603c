import { type KeyObject, sign } from 'node:crypto';
import type { SigningAlg } from '../entities/Application.js';

export interface SigningKeyPair {
  kid: string;
  alg: SigningAlg;
  /** Parsed once when the keys are loaded. */
  key: KeyObject;
}

/**
 * A compact JWS (RFC 7515) over a JSON payload, signed with Node's crypto directly: synchronous
 * and without WebCrypto's round trip, which matters when an id_token comes with every code
 * flow. RS256 is RSASSA-PKCS1-v1_5 with SHA-256; ES256 is ECDSA P-256 with the signature in
 * the JOSE (r‖s) form (RFC 7518 §3.4).
 */
export function signJws(signer: SigningKeyPair, typ: string, payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const input = `${header}.${body}`;
  const signature =
    signer.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), signer.key);
  return `${input}.${signature.toString('base64url')}`;
}
