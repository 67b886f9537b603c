import { constants, type KeyObject, sign } from 'node:crypto';
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
 * flow. RS256 is RSASSA-PKCS1-v1_5 with SHA-256; PS256 is RSASSA-PSS with SHA-256, MGF1 and a
 * 32-byte salt (RFC 7518 §3.5); ES256 is ECDSA P-256 with the signature in the JOSE (r‖s) form
 * (RFC 7518 §3.4).
 */
export function signJws(signer: SigningKeyPair, typ: string, payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const input = `${header}.${body}`;
  const data = Buffer.from(input);
  const signature =
    signer.alg === 'ES256'
      ? sign('sha256', data, { key: signer.key, dsaEncoding: 'ieee-p1363' })
      : signer.alg === 'PS256'
        ? sign('sha256', data, { key: signer.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
        : sign('sha256', data, signer.key);
  return `${input}.${signature.toString('base64url')}`;
}
