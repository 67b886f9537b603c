import { createHmac, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateSigningKeys } from '../../src/services/key-rotation.js';
import {
  countingFetch,
  type Listening,
  type ResourceFixture,
  signWithLatchkeyKey,
  startApi,
  startResourceFixture,
  tokenFor,
} from '../helpers/resource-server.js';

/**
 * requireToken in JWT mode (RFC 9068 §4) against a real Latchkey: its JWT access tokens for a
 * resource registered with JWT tokens, and tokens Latchkey would never mint, signed with its own
 * key or forged without it.
 */

let f: ResourceFixture;
let api: Listening;
const seen = countingFetch();

beforeAll(async () => {
  f = await startResourceFixture();
  api = await startApi(f, { mode: 'jwt', fetch: seen.fetch });
});
afterAll(async () => {
  await api?.close();
  await f?.latchkey.stop();
});

const call = (base: Listening, token: string, scheme = 'Bearer') =>
  fetch(`${base.url}/api`, { headers: { Authorization: `${scheme} ${token}` } });

async function refusal(res: Response) {
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.json() };
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
function claims(extra: Record<string, unknown> = {}) {
  return {
    iss: f.issuer,
    sub: 'mallory',
    aud: f.jwtResource,
    client_id: f.machine.clientId,
    scope: 'notes:read notes:write',
    jti: 'forged',
    iat: now(),
    exp: now() + 300,
    ...extra,
  };
}

describe('RFC 9068 JWT access tokens', () => {
  it('RFC 9068 §4: a Latchkey JWT for this resource is accepted; req.auth holds subject, client, scopes, audience, expiry, claims', async () => {
    const token = await tokenFor(f, f.jwtResource, 'notes:read');
    expect(token.split('.')).toHaveLength(3);
    const res = await call(api, token);
    expect(res.status).toBe(200);
    const auth = await res.json();
    expect(auth).toMatchObject({
      token,
      subject: f.machine.clientId,
      clientId: f.machine.clientId,
      scopes: ['notes:read'],
      audience: [f.jwtResource],
      resource: f.jwtResource,
      verifiedBy: 'jwt',
    });
    expect(auth.expiresAt).toBeGreaterThan(now());
    expect(auth.claims).toMatchObject({ iss: f.issuer, aud: f.jwtResource, client_id: f.machine.clientId });
    expect(typeof auth.claims.jti).toBe('string');
  });

  it('RFC 8414 §3: the JWKS is found through the issuer metadata and fetched once for many tokens', async () => {
    for (let i = 0; i < 5; i++) expect((await call(api, await tokenFor(f, f.jwtResource))).status).toBe(200);
    expect(seen.count('/.well-known/oauth-authorization-server')).toBe(1);
    expect(seen.count('/o/jwks/')).toBe(1);
  });

  it('RFC 9068 §4 / RFC 8707: a token minted for another resource is invalid_token (401), not for this audience', async () => {
    const other = await tokenFor(f, f.otherResource);
    const r = await refusal(await call(api, other));
    expect(r.status).toBe(401);
    expect(r.body).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is not for this resource.',
    });
    expect(r.challenge).toContain('error="invalid_token"');
  });

  it('RFC 9068 §4: an expired token is refused; one expired within the leeway (5 s) is still accepted', async () => {
    const expired = signWithLatchkeyKey(f, { exp: now() - 60, iat: now() - 120 });
    const r = await refusal(await call(api, expired));
    expect(r.status).toBe(401);
    expect(r.body.error_description).toBe('The access token has expired.');
    expect((await call(api, signWithLatchkeyKey(f, { exp: now() - 2 }))).status).toBe(200);
  });

  it('RFC 7519 §4.1.5: a token not valid yet (nbf in the future beyond the leeway) is refused', async () => {
    const r = await refusal(await call(api, signWithLatchkeyKey(f, { nbf: now() + 120 })));
    expect(r.status).toBe(401);
    expect(r.body.error_description).toBe('The access token is not valid yet.');
  });

  it('RFC 9068 §4: a token from another issuer is refused, even signed by a key the issuer publishes', async () => {
    const r = await refusal(await call(api, signWithLatchkeyKey(f, { iss: 'https://evil.example.com' })));
    expect(r.status).toBe(401);
    expect(r.body.error_description).toBe('The access token is from another issuer.');
  });

  it('RFC 9068 §2.1 / §4: typ must be at+jwt (application/at+jwt too); a plain JWT (an id_token, say) is refused', async () => {
    expect((await call(api, signWithLatchkeyKey(f, {}, { typ: 'application/at+jwt' }))).status).toBe(200);
    for (const typ of ['JWT', 'jwt', 'id_token+jwt']) {
      const r = await refusal(await call(api, signWithLatchkeyKey(f, {}, { typ })));
      expect(r.status, typ).toBe(401);
      expect(r.body.error_description).toMatch(/RFC 9068 typ at\+jwt/);
    }
  });

  it('RFC 9068 §2.2: a token lacking a required claim (client_id, jti, sub, exp, iat) is refused', async () => {
    for (const missing of ['client_id', 'jti', 'sub', 'exp', 'iat']) {
      const r = await refusal(await call(api, signWithLatchkeyKey(f, { [missing]: undefined })));
      expect(r.status, missing).toBe(401);
    }
  });

  it('RFC 8725 §3.1: alg "none" is refused whatever the claims say', async () => {
    const token = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims())}.`;
    const r = await refusal(await call(api, token));
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_token');
  });

  it('RFC 8725 §2.1 / §3.1: HS256 "signed" with the public key bytes (algorithm confusion) is refused', async () => {
    const jwks = (await (await fetch(`${f.latchkey.url}/o/jwks/`)).json()) as {
      keys: Record<string, string>[];
    };
    const rsa = jwks.keys.find((k) => k.kty === 'RSA')!;
    const pem = createPublicKey({ key: rsa, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [
      String(pem),
      JSON.stringify(rsa),
      Buffer.from(rsa.n, 'base64url').toString('latin1'),
    ]) {
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: rsa.kid })}.${b64(claims())}`;
      const sig = createHmac('sha256', Buffer.from(secret, 'latin1')).update(input).digest('base64url');
      const r = await refusal(await call(api, `${input}.${sig}`));
      expect(r.status).toBe(401);
      expect(r.body.error_description).toBe(
        'The access token is signed with an algorithm this resource does not accept.',
      );
    }
  });

  it('RFC 7515 §5.2: a tampered payload fails the signature check', async () => {
    const [h, , s] = (await tokenFor(f, f.jwtResource, 'notes:read')).split('.');
    const r = await refusal(
      await call(api, `${h}.${b64(claims({ scope: 'notes:read notes:write admin' }))}.${s}`),
    );
    expect(r.status).toBe(401);
    expect(r.body.error_description).toBe('The access token signature is invalid.');
  });

  it('RFC 9068 §4: an opaque token in JWT mode is invalid_token', async () => {
    const opaque = await tokenFor(f, f.opaqueResource);
    expect((await call(api, opaque)).status).toBe(401);
  });
});

describe('JWKS cache and key rotation (RFC 7517, RFC 9068 §4)', () => {
  it('after a key rotation on Latchkey, a token with the new kid is accepted once the JWKS is fetched again (no restart)', async () => {
    const counter = countingFetch();
    const rs = await startApi(f, { mode: 'jwt', fetch: counter.fetch, jwksRefetchIntervalSeconds: 0 });
    try {
      const before = await tokenFor(f, f.jwtResource);
      expect((await call(rs, before)).status).toBe(200);
      expect(counter.count('/o/jwks/')).toBe(1);
      await rotateSigningKeys(f.latchkey.cli());
      const after = await tokenFor(f, f.jwtResource);
      const kid = (t: string) => JSON.parse(Buffer.from(t.split('.')[0], 'base64url').toString()).kid;
      expect(kid(after)).not.toBe(kid(before));
      expect((await call(rs, after)).status).toBe(200);
      expect(counter.count('/o/jwks/')).toBe(2);
      // The previous key stays published until its tokens expire: the old token still works.
      expect((await call(rs, before)).status).toBe(200);
    } finally {
      await rs.close();
    }
  });

  it('a flood of tokens with unknown kids costs at most one JWKS fetch per refetch interval, and valid tokens keep working', async () => {
    const counter = countingFetch();
    const rs = await startApi(f, { mode: 'jwt', fetch: counter.fetch, jwksRefetchIntervalSeconds: 60 });
    try {
      expect((await call(rs, await tokenFor(f, f.jwtResource))).status).toBe(200);
      const forged = Array.from({ length: 100 }, (_, i) => {
        const t = signWithLatchkeyKey(f, {});
        const [, body, sig] = t.split('.');
        return `${b64({ alg: 'RS256', typ: 'at+jwt', kid: `made-up-${i}` })}.${body}.${sig}`;
      });
      const answers = await Promise.all(forged.slice(0, 80).map((t) => call(rs, t)));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 401));
      // One after another too (parallel ones could share a fetch even without the limit).
      for (const t of forged.slice(80)) expect((await call(rs, t)).status).toBe(401);
      expect(counter.count('/o/jwks/')).toBeLessThanOrEqual(2);
      expect((await call(rs, await tokenFor(f, f.jwtResource))).status).toBe(200);
    } finally {
      await rs.close();
    }
  });

  it('the verified-token cache never outlives the token: a cached JWT is refused once it expires', async () => {
    const rs = await startApi(f, { mode: 'jwt', clockToleranceSeconds: 0, jwtCacheSeconds: 3600 });
    try {
      const token = signWithLatchkeyKey(f, { exp: now() + 2 });
      expect((await call(rs, token)).status).toBe(200);
      expect((await call(rs, token)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 3100));
      expect((await call(rs, token)).status).toBe(401);
    } finally {
      await rs.close();
    }
  });
});
