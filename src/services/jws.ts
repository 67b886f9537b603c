import { constants, type KeyObject, type SignKeyObjectInput, sign } from 'node:crypto';
import type { SigningAlg } from '../entities/Application.js';

export interface SigningKeyPair {
  kid: string;
  alg: SigningAlg;
  /** Parsed once when the keys are loaded. */
  key: KeyObject;
}

/**
 * Compact JWS (RFC 7515) over a JSON payload, signed with Node's crypto directly (no WebCrypto
 * round trip). RS256 is RSASSA-PKCS1-v1_5 with SHA-256; PS256 is RSASSA-PSS with SHA-256, MGF1
 * and a 32-byte salt (RFC 7518 §3.5); ES256 is ECDSA P-256 with the signature in the JOSE (r‖s)
 * form (RFC 7518 §3.4).
 */
function signingInput(signer: SigningKeyPair, typ: string, payload: Record<string, unknown>): string {
  const header = Buffer.from(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ })).toString('base64url');
  return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
}

function keyInput(signer: SigningKeyPair): SignKeyObjectInput | KeyObject {
  if (signer.alg === 'ES256') return { key: signer.key, dsaEncoding: 'ieee-p1363' };
  if (signer.alg === 'PS256')
    return { key: signer.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };
  return signer.key;
}

/** Signs on the calling thread (tools and tests; the server signs with `signJwsOffThread`). */
export function signJws(signer: SigningKeyPair, typ: string, payload: Record<string, unknown>): string {
  const input = signingInput(signer, typ, payload);
  return `${input}.${sign('sha256', Buffer.from(input), keyInput(signer)).toString('base64url')}`;
}

/**
 * The server's signing: an RSA signature (RS256, PS256) is a private-key operation of about a
 * millisecond on a 2-core machine of this kind — five times a whole client_credentials request —
 * so it runs on libuv's thread pool and the event loop goes on serving while it does; on a
 * 2-core machine that is the difference between one core and two signing JWT access tokens.
 * ES256 (~60 µs) is signed inline: the hop to the pool and back costs about as much as the
 * signature.
 */
export function signJwsOffThread(
  signer: SigningKeyPair,
  typ: string,
  payload: Record<string, unknown>,
): Promise<string> {
  if (signer.alg === 'ES256') return Promise.resolve(signJws(signer, typ, payload));
  const input = signingInput(signer, typ, payload);
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(input), keyInput(signer), (err, signature) => {
      if (err) reject(err);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}
