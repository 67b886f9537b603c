import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTHeaderParameters,
  SignJWT,
} from 'jose';

/** A DPoP key pair that signs RFC 9449 proofs, with every claim and header member overridable. */
export class DpopKey {
  private constructor(
    private readonly privateKey: CryptoKey,
    readonly publicJwk: JWK,
    readonly jkt: string,
    readonly alg: string,
  ) {}

  static async generate(alg = 'ES256'): Promise<DpopKey> {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(publicKey);
    return new DpopKey(privateKey, jwk, await calculateJwkThumbprint(jwk), alg);
  }

  /** The private JWK (for the "private key in jwk" attack). */
  async privateJwk(): Promise<JWK> {
    return exportJWK(this.privateKey);
  }

  async proof(
    htm: string,
    htu: string,
    opts: {
      accessToken?: string;
      nonce?: string;
      claims?: Record<string, unknown>;
      header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
    } = {},
  ): Promise<string> {
    const claims: Record<string, unknown> = {
      htm,
      htu,
      jti: randomUUID(),
      iat: Math.floor(Date.now() / 1000),
      ...(opts.accessToken ? { ath: createHash('sha256').update(opts.accessToken).digest('base64url') } : {}),
      ...(opts.nonce ? { nonce: opts.nonce } : {}),
      ...opts.claims,
    };
    for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
    const header = { alg: this.alg, typ: 'dpop+jwt', jwk: this.publicJwk, ...opts.header };
    for (const [k, v] of Object.entries(header))
      if (v === undefined) delete (header as Record<string, unknown>)[k];
    return new SignJWT(claims).setProtectedHeader(header as JWTHeaderParameters).sign(this.privateKey);
  }
}

/** An unsigned-looking JWS with any header: for `alg: none` and other forgeries. */
export function forgedJws(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part(header)}.${part(claims)}.${Buffer.from('not a signature').toString('base64url')}`;
}

/**
 * A raw HTTP request with repeated header lines (fetch joins repeated headers into one line; a
 * server must see what a hostile client sends: two DPoP lines).
 */
export function rawRequest(
  url: string,
  opts: { method: string; headers: Record<string, string | string[]>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
