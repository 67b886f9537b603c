import { createHash } from 'node:crypto';
import express from 'express';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type JtiStore,
  MemoryJtiStore,
  protectedResourceMetadataDocument,
  requireToken,
} from '../../src/resource-server/index.js';
import { DpopKey, forgedJws, rawRequest } from '../helpers/dpop.js';
import { postForm } from '../helpers/oauth.js';
import { freePort } from '../helpers/ports.js';
import {
  type Listening,
  type ResourceFixture,
  startApi,
  startResourceFixture,
  tokenFor,
} from '../helpers/resource-server.js';

/**
 * DPoP (RFC 9449 §7) in the resource-server library: real Latchkey issues DPoP-bound tokens
 * (a proof at its token endpoint), real resource servers on the library check the proofs that
 * come with them, in JWT and in introspection mode, and refuse every variant an attacker sends.
 */

let f: ResourceFixture;
let key: DpopKey;
let otherKey: DpopKey;
/** JWT mode, DPoP on by default. */
let api: Listening;
/** Introspection mode on the opaque resource. */
let opaque: Listening;

const HTU = 'https://notes.example.com/api';
const OPAQUE_HTU = 'https://opaque.example.com/api';

/** A client_credentials token bound to `k` (RFC 9449 §5): the proof goes to Latchkey's token endpoint. */
async function boundToken(resource: string, k = key): Promise<string> {
  const proof = await k.proof('POST', `${f.issuer}/o/token/`);
  const res = await postForm(
    f.latchkey,
    '/o/token/',
    { grant_type: 'client_credentials', resource, scope: 'notes:read notes:write' },
    f.machine,
    { DPoP: proof },
  );
  if (res.status !== 200 || res.json.token_type !== 'DPoP')
    throw new Error(`token: ${res.status} ${res.text}`);
  return String(res.json.access_token);
}

const call = (
  base: Listening,
  token: string,
  proof: string | undefined,
  opts: { method?: string; scheme?: string; path?: string } = {},
) =>
  fetch(`${base.url}${opts.path ?? '/api'}`, {
    method: opts.method ?? 'GET',
    headers: {
      Authorization: `${opts.scheme ?? 'DPoP'} ${token}`,
      ...(proof === undefined ? {} : { DPoP: proof }),
    },
  });

async function expectProofRefused(res: Response, description?: RegExp) {
  expect(res.status).toBe(401);
  const challenge = String(res.headers.get('www-authenticate'));
  expect(challenge).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]*", algs="[^"]+"/);
  expect(challenge).toContain('Bearer realm=');
  const body = await res.json();
  expect(body.error).toBe('invalid_dpop_proof');
  if (description) expect(body.error_description).toMatch(description);
}

beforeAll(async () => {
  f = await startResourceFixture();
  [key, otherKey] = await Promise.all([DpopKey.generate(), DpopKey.generate('PS256')]);
  api = await startApi(f);
  opaque = await startApi(f, {
    resource: f.opaqueResource,
    mode: 'introspection',
    introspection: { clientId: f.introspector.clientId, clientSecret: String(f.introspector.clientSecret) },
  });
});
afterAll(async () => {
  await api?.close();
  await opaque?.close();
  await f?.latchkey.stop();
});

describe('RFC 9449 §7.1: a bound token with a valid proof', () => {
  it('RFC 9449 §7.1: a DPoP-bound JWT (cnf.jkt) with a proof of its key is accepted; req.auth names the key', async () => {
    const token = await boundToken(f.jwtResource);
    expect(decodeJwt(token).cnf).toEqual({ jkt: key.jkt });
    const res = await call(api, token, await key.proof('GET', HTU, { accessToken: token }));
    expect(res.status).toBe(200);
    const auth = await res.json();
    expect(auth.confirmation).toEqual({ jkt: key.jkt });
    expect(auth.verifiedBy).toBe('jwt');
  });

  it('RFC 9449 §7.1 + RFC 7662: in introspection mode the binding comes from the answer’s cnf.jkt', async () => {
    const token = await boundToken(f.opaqueResource);
    const res = await call(opaque, token, await key.proof('POST', OPAQUE_HTU, { accessToken: token }), {
      method: 'POST',
    });
    expect(res.status).toBe(200);
    const auth = await res.json();
    expect(auth.confirmation).toEqual({ jkt: key.jkt });
    expect(auth.verifiedBy).toBe('introspection');
    // …and the same token as Bearer is refused there too.
    const asBearer = await call(opaque, token, undefined, { scheme: 'Bearer' });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
  });

  it('RFC 9449 §4.3 point 9: htu is compared normalised (scheme and host case, default port, no query)', async () => {
    const token = await boundToken(f.jwtResource);
    const proof = await key.proof('GET', 'HTTPS://Notes.Example.COM:443/api', { accessToken: token });
    const res = await call(api, token, proof, { path: '/api?page=2' });
    expect(res.status).toBe(200);
  });

  it('RFC 9449 §4.3 point 9: behind a proxy, htu is publicUrl plus the path, never the Host header', async () => {
    const proxied = await startApi(f, { dpop: { publicUrl: 'https://gateway.example.net/notes' } });
    try {
      const token = await boundToken(f.jwtResource);
      const proof = (htu: string) => key.proof('GET', htu, { accessToken: token });
      expect((await call(proxied, token, await proof('https://gateway.example.net/notes/api'))).status).toBe(
        200,
      );
      await expectProofRefused(await call(proxied, token, await proof(HTU)), /htu/);
      // What the client says its Host is does not matter.
      const local = `${proxied.url}/api`;
      await expectProofRefused(await call(proxied, token, await proof(local)), /htu/);
    } finally {
      await proxied.close();
    }
  });
});

describe('RFC 9449 §7: with a real DPoP client (openid-client 6)', () => {
  it('RFC 9449 §7.1: openid-client gets a bound token with its DPoP handle and calls the API with it (fetchProtectedResource)', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const app = express();
    app.get(
      '/api',
      requireToken({ issuer: f.issuer, resource: f.jwtResource, dpop: { publicUrl: base } }),
      (req, res) => void res.json((req as express.Request & { auth?: unknown }).auth),
    );
    const server = await new Promise<import('node:http').Server>((resolve) => {
      const s = app.listen(port, '127.0.0.1', () => resolve(s));
    });
    try {
      const config = await oidc.discovery(
        new URL(f.issuer),
        f.machine.clientId,
        undefined,
        oidc.ClientSecretBasic(String(f.machine.clientSecret)),
        { execute: [oidc.allowInsecureRequests] },
      );
      const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
      const tokens = await oidc.clientCredentialsGrant(
        config,
        { scope: 'notes:read', resource: f.jwtResource },
        { DPoP },
      );
      expect(tokens.token_type).toBe('dpop');
      const res = await oidc.fetchProtectedResource(
        config,
        tokens.access_token,
        new URL(`${base}/api`),
        'GET',
        undefined,
        undefined,
        {
          DPoP,
        },
      );
      expect(res.status).toBe(200);
      expect((await res.json()).confirmation).toEqual({ jkt: await DPoP.calculateThumbprint() });
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('RFC 9449 §7.1–7.2: scheme and binding', () => {
  it('RFC 9449 §7.2: a bound token sent as Bearer is 401 with WWW-Authenticate: DPoP error="invalid_token" (and the Bearer challenge)', async () => {
    const token = await boundToken(f.jwtResource);
    const res = await call(api, token, await key.proof('GET', HTU, { accessToken: token }), {
      scheme: 'Bearer',
    });
    expect(res.status).toBe(401);
    const challenge = String(res.headers.get('www-authenticate'));
    expect(challenge).toMatch(
      /^DPoP error="invalid_token", error_description="[^"]+", algs="[^"]*ES256[^"]*"/,
    );
    expect(challenge).toMatch(/, Bearer realm="[^"]+", resource_metadata="[^"]+"$/);
    expect((await res.json()).error).toBe('invalid_token');
  });

  it('RFC 9449 §7.1: an unbound token sent with the DPoP scheme is refused (the binding check cannot pass)', async () => {
    const token = await tokenFor(f, f.jwtResource);
    const res = await call(api, token, await key.proof('GET', HTU, { accessToken: token }));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
    expect((await res.json()).error_description).toMatch(/not DPoP-bound/);
  });

  it('RFC 9449 §7.1: a proof signed by another key than cnf.jkt is refused', async () => {
    const token = await boundToken(f.jwtResource);
    await expectProofRefused(
      await call(api, token, await otherKey.proof('GET', HTU, { accessToken: token })),
      /bound to/,
    );
  });

  it('RFC 9449 §7.1: the DPoP scheme without a DPoP header is invalid_dpop_proof', async () => {
    const token = await boundToken(f.jwtResource);
    await expectProofRefused(await call(api, token, undefined), /needs a DPoP proof/);
  });

  it('RFC 9449 §7.1: an expired bound token with the DPoP scheme is invalid_token on the DPoP challenge', async () => {
    const res = await call(api, 'abc.def.ghi', await key.proof('GET', HTU, { accessToken: 'abc.def.ghi' }));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
  });

  it('RFC 9728 §2 / RFC 9449 §7.1: dpop.required refuses unbound Bearer tokens and challenges with DPoP only', async () => {
    const strict = await startApi(f, { dpop: { required: true, algorithms: ['ES256'] } });
    try {
      const res = await call(strict, await tokenFor(f, f.jwtResource), undefined, { scheme: 'Bearer' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(
        /^DPoP realm="[^"]+", error="invalid_token", error_description="[^"]+", resource_metadata="[^"]+", algs="ES256"$/,
      );
      const token = await boundToken(f.jwtResource);
      expect((await call(strict, token, await key.proof('GET', HTU, { accessToken: token }))).status).toBe(
        200,
      );
      // algorithms: a PS256 proof is refused when only ES256 is allowed.
      const psToken = await boundToken(f.jwtResource, otherKey);
      const ps = await call(strict, psToken, await otherKey.proof('GET', HTU, { accessToken: psToken }));
      expect(ps.status).toBe(401);
      expect((await ps.json()).error).toBe('invalid_dpop_proof');
    } finally {
      await strict.close();
    }
  });

  it('RFC 9728 §2: the metadata document advertises dpop_signing_alg_values_supported and dpop_bound_access_tokens_required', () => {
    const doc = protectedResourceMetadataDocument({
      resource: f.jwtResource,
      authorizationServers: [f.issuer],
      dpopSigningAlgValuesSupported: ['ES256', 'EdDSA'],
      dpopBoundAccessTokensRequired: true,
    });
    expect(doc.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA']);
    expect(doc.dpop_bound_access_tokens_required).toBe(true);
    const plain = protectedResourceMetadataDocument({
      resource: f.jwtResource,
      authorizationServers: [f.issuer],
    });
    expect(plain).not.toHaveProperty('dpop_signing_alg_values_supported');
    expect(plain).not.toHaveProperty('dpop_bound_access_tokens_required');
  });
});

describe('RFC 9449 §4.3: each claim of the proof is checked', () => {
  let token: string;
  beforeAll(async () => {
    token = await boundToken(f.jwtResource);
  });

  it('RFC 9449 §4.3 point 12 / §7.1: a proof whose ath is not the hash of this access token is refused', async () => {
    const other = await boundToken(f.jwtResource);
    await expectProofRefused(
      await call(api, token, await key.proof('GET', HTU, { accessToken: other })),
      /ath/,
    );
    // No ath at all.
    await expectProofRefused(await call(api, token, await key.proof('GET', HTU)), /ath/);
  });

  it('RFC 9449 §4.3 point 9: a proof for another URL (htu) is refused', async () => {
    for (const htu of [
      'https://notes.example.com/other',
      'https://evil.example.com/api',
      'http://notes.example.com/api',
    ])
      await expectProofRefused(
        await call(api, token, await key.proof('GET', htu, { accessToken: token })),
        /htu/,
      );
  });

  it('RFC 9449 §4.3 point 8: a proof for another method (htm) is refused', async () => {
    const proof = await key.proof('POST', HTU, { accessToken: token });
    await expectProofRefused(await call(api, token, proof), /htm/);
    const lower = await key.proof('get', HTU, { accessToken: token });
    await expectProofRefused(await call(api, token, lower), /htm/);
  });

  it('RFC 9449 §4.3 point 11 / §11.1: a proof with an old iat, or one from the future, is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await key.proof('GET', HTU, { accessToken: token, claims: { iat: now - 120 } });
    await expectProofRefused(await call(api, token, old), /too old/);
    const future = await key.proof('GET', HTU, { accessToken: token, claims: { iat: now + 120 } });
    await expectProofRefused(await call(api, token, future), /future/);
    const text = await key.proof('GET', HTU, { accessToken: token, claims: { iat: String(now) } });
    await expectProofRefused(await call(api, token, text));
  });

  it('RFC 9449 §11.1: a replayed proof (same jti) is refused, also when sent in parallel: exactly one wins', async () => {
    const proof = await key.proof('GET', HTU, { accessToken: token });
    expect((await call(api, token, proof)).status).toBe(200);
    await expectProofRefused(await call(api, token, proof), /already used/);
    const fresh = await key.proof('GET', HTU, { accessToken: token });
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () => call(api, token, fresh).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(9);
  });

  it('RFC 9449 §11.1: a shared jtiStore refuses a proof replayed at another instance of the API', async () => {
    const claims: [string, number][] = [];
    const shared = new MemoryJtiStore();
    const store: JtiStore = {
      claim(jti, expiresAt) {
        claims.push([jti, expiresAt]);
        return shared.claim(jti, expiresAt);
      },
    };
    const one = await startApi(f, { dpop: { jtiStore: store } });
    const two = await startApi(f, { dpop: { jtiStore: store } });
    try {
      const proof = await key.proof('GET', HTU, { accessToken: token, claims: { jti: 'one-proof' } });
      expect((await call(one, token, proof)).status).toBe(200);
      await expectProofRefused(await call(two, token, proof), /already used/);
      const iat = decodeJwt(proof).iat as number;
      expect(claims[0]).toEqual([`${key.jkt}:one-proof`, iat + 65]);
      // A refused proof does not reach the store (its jti is not used up).
      const before = claims.length;
      await expectProofRefused(await call(one, token, await key.proof('POST', HTU, { accessToken: token })));
      expect(claims.length).toBe(before);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('RFC 9449 §4.3: hostile proofs and headers are refused as invalid_dpop_proof, never a 500', async () => {
    const claims = {
      htm: 'GET',
      htu: HTU,
      iat: Math.floor(Date.now() / 1000),
      jti: 'x',
      ath: createHash('sha256').update(token).digest('base64url'),
    };
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const hostile = [
      '',
      'x',
      'a.b.c',
      '....',
      'a'.repeat(9000),
      `${b64('{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC"}}')}.${b64('{}')}.AA`,
      `${b64('null')}.${b64('null')}.AA`,
      `${b64('[]')}.${b64('"x"')}.AA`,
      `${b64('{"typ":"dpop+jwt","alg":"ES256","jwk":"string"}')}.${b64('{}')}.AA`,
      `${b64('{"typ":"dpop+jwt","alg":"ES256","jwk":{"__proto__":{"kty":"EC"}}}')}.${b64('{}')}.AA`,
      forgedJws({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk }, claims),
      forgedJws({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'c2VjcmV0' } }, claims),
      forgedJws({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk }, claims),
      forgedJws({ typ: 'dpop+jwt', alg: 'RS256', jwk: key.publicJwk }, claims),
      forgedJws({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk, crit: ['exp'] }, claims),
      await key.proof('GET', HTU, { accessToken: token, header: { typ: 'JWT' } }),
      await key.proof('GET', HTU, { accessToken: token, header: { typ: undefined } }),
      await key.proof('GET', HTU, { accessToken: token, header: { jwk: await key.privateJwk() } }),
      await key.proof('GET', HTU, { accessToken: token, header: { jwk: undefined } }),
      await key.proof('GET', HTU, { accessToken: token, header: { jwk: otherKey.publicJwk } }),
      await key.proof('GET', HTU, { accessToken: token, claims: { jti: undefined } }),
      await key.proof('GET', HTU, { accessToken: token, claims: { jti: 'j'.repeat(300) } }),
      await key.proof('GET', HTU, { accessToken: token, claims: { htu: { toString: 1 } } }),
      await key.proof('GET', HTU, { accessToken: token, claims: { htu: 'javascript:alert(1)' } }),
      await key.proof('GET', HTU, { accessToken: token, claims: { exp: 1 } }),
      // A header already seen (its key cached) with another payload under the old signature.
      await (async () => {
        const [h, , sig] = (await key.proof('GET', HTU, { accessToken: token })).split('.');
        return `${h}.${b64(JSON.stringify({ ...claims, jti: 'tampered' }))}.${sig}`;
      })(),
    ];
    for (const proof of hostile) {
      const res = await rawRequest(`${api.url}/api`, {
        method: 'GET',
        headers: { Authorization: `DPoP ${token}`, ...(proof ? { DPoP: proof } : {}) },
      });
      expect(res.status, proof.slice(0, 80)).toBe(401);
      expect(res.json.error).toBe('invalid_dpop_proof');
    }
    // Two DPoP headers, each a valid proof on its own.
    const twice = await rawRequest(`${api.url}/api`, {
      method: 'GET',
      headers: {
        Authorization: `DPoP ${token}`,
        DPoP: [
          await key.proof('GET', HTU, { accessToken: token }),
          await key.proof('GET', HTU, { accessToken: token }),
        ],
      },
    });
    expect(twice.status).toBe(401);
    expect(twice.json.error_description).toMatch(/Exactly one/);
  });
});
