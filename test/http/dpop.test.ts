import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { DpopKey, forgedJws, rawRequest } from '../helpers/dpop.js';
import { Agent } from '../helpers/http.js';
import { authorize, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { withStatements } from '../helpers/statements.js';

/**
 * DPoP (RFC 9449) at the authorization server, driven with hand-made proofs so that every
 * hostile variant can be sent: the token endpoint for every grant, bound tokens at userinfo,
 * GraphQL and introspection, dpop_jkt, requireDpop, and the jti replay cache across instances.
 */

let server: TestServer;
let other: TestServer;
let machine: TestClient;
let jwtMachine: TestClient;
let strict: TestClient;
let web: TestClient;
let spa: TestClient;
let agent: Agent;
let key: DpopKey;

const token = () => `${server.runtime.config.issuer}/o/token/`;
const userinfo = () => `${server.runtime.config.issuer}/o/userinfo/`;

beforeAll(async () => {
  server = await startTestServer();
  // A second instance on the same database: the replay cache and the keys are shared.
  other = await startTestServer({ databaseUrl: server.database!.url });
  const cc = {
    grantTypes: ['client_credentials' as const],
    redirectUris: [],
    scopes: ['read', 'introspection'],
  };
  machine = await makeClient(server, cc);
  jwtMachine = await makeClient(server, { ...cc, accessTokenFormat: 'jwt' });
  strict = await makeClient(server, { ...cc, requireDpop: true });
  const codeApp = {
    skipAuthorization: true,
    scopes: ['openid', 'profile', 'read', 'graphql'],
    grantTypes: ['authorization_code' as const, 'refresh_token' as const],
  };
  web = await makeClient(server, codeApp);
  spa = await makeClient(server, {
    ...codeApp,
    clientType: 'public',
    redirectUris: ['https://spa.example/cb'],
  });
  await createUser(server.cli(), { username: 'dora', password: 'dora-password' });
  agent = new Agent(server.url);
  await agent.login('dora', 'dora-password');
  key = await DpopKey.generate();
});
afterAll(async () => {
  await other?.stop();
  await server?.stop();
});

const cc = (client: TestClient, headers: Record<string, string> = {}, at = server, scope = 'read') =>
  postForm(at, '/o/token/', { grant_type: 'client_credentials', scope }, client, headers);

async function code(client: TestClient, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const { location } = await authorize(agent, {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: 'openid profile read graphql',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  const value = location.searchParams.get('code');
  if (!value) throw new Error(`no code: ${location}`);
  return {
    grant_type: 'authorization_code',
    code: value,
    redirect_uri: client.redirectUri,
    code_verifier: verifier,
  };
}

describe('RFC 9449 DPoP at the token endpoint', () => {
  it('RFC 9449 §5.1: metadata advertises dpop_signing_alg_values_supported, asymmetric algorithms only', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as {
      dpop_signing_alg_values_supported: string[];
    };
    expect(meta.dpop_signing_alg_values_supported).toContain('ES256');
    expect(meta.dpop_signing_alg_values_supported).toContain('PS256');
    expect(meta.dpop_signing_alg_values_supported.some((a) => a.startsWith('HS') || a === 'none')).toBe(
      false,
    );
  });

  it('RFC 9449 §5: a client_credentials request with a proof gets a DPoP-bound token (token_type DPoP); without one, Bearer', async () => {
    const bound = await cc(machine, { DPoP: await key.proof('POST', token()) });
    expect(bound.status).toBe(200);
    expect(bound.json.token_type).toBe('DPoP');
    const plain = await cc(machine);
    expect(plain.json.token_type).toBe('Bearer');
  });

  it('RFC 9449 §6.2: introspection of a bound token returns token_type DPoP and cnf.jkt; a Bearer token has no cnf', async () => {
    const bound = await cc(machine, { DPoP: await key.proof('POST', token()) });
    const info = await postForm(
      server,
      '/o/introspect/',
      { token: String(bound.json.access_token) },
      machine,
    );
    expect(info.json).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
    const plain = await cc(machine);
    const plainInfo = await postForm(
      server,
      '/o/introspect/',
      { token: String(plain.json.access_token) },
      machine,
    );
    expect(plainInfo.json.token_type).toBe('Bearer');
    expect(plainInfo.json.cnf).toBeUndefined();
  });

  it('RFC 9449 §6.1: a JWT access token bound to a key carries cnf.jkt', async () => {
    const res = await cc(jwtMachine, { DPoP: await key.proof('POST', token()) });
    expect(res.json.token_type).toBe('DPoP');
    expect(decodeJwt(String(res.json.access_token)).cnf).toEqual({ jkt: key.jkt });
  });

  it('RFC 9449 §4.2: proofs signed with each advertised family (ES384, PS256, RS256, EdDSA) are accepted; a tampered one is not', async () => {
    for (const alg of ['ES384', 'PS256', 'RS256', 'EdDSA']) {
      const signer = await DpopKey.generate(alg);
      const res = await cc(machine, { DPoP: await signer.proof('POST', token()) });
      expect([alg, res.status, res.json.token_type]).toEqual([alg, 200, 'DPoP']);
      const [h, p, sig] = (await signer.proof('POST', token())).split('.');
      const tampered = `${h}.${p}.${sig.slice(0, -4)}${sig.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      expect((await cc(machine, { DPoP: tampered })).json.error).toBe('invalid_dpop_proof');
    }
  });

  it('RFC 9449 §4.3 (htu): scheme and host case, the default port and a query are normalised away', async () => {
    const issuer = new URL(server.runtime.config.issuer);
    const htu = `HTTP://${issuer.hostname.toUpperCase()}:${issuer.port}/o/token/?x=1#f`;
    const res = await cc(machine, { DPoP: await key.proof('POST', htu) });
    expect(res.status).toBe(200);
  });

  it('RFC 9449 §11.1: a replayed proof is refused, on the same instance and on another sharing the database', async () => {
    const proof = await key.proof('POST', token());
    expect((await cc(machine, { DPoP: proof })).status).toBe(200);
    const again = await cc(machine, { DPoP: proof });
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('invalid_dpop_proof');
    // The other instance has its own issuer URL (its own port): a proof made for it, used twice.
    const otherProof = await key.proof('POST', `${other.runtime.config.issuer}/o/token/`);
    expect((await cc(machine, { DPoP: otherProof }, other)).status).toBe(200);
    const elsewhere = await cc(machine, { DPoP: otherProof }, other);
    expect(elsewhere.json.error).toBe('invalid_dpop_proof');
    expect(String(elsewhere.json.error_description)).toMatch(/already been used/);
  });

  it('RFC 9449 §11.1: of parallel requests with one proof exactly one gets a token', async () => {
    const proof = await key.proof('POST', token());
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => cc(machine, { DPoP: proof }, i % 2 ? other : server)),
    );
    // The proof's htu names `server`: on `other` it is refused for htu, never accepted.
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.every((r) => r.status === 200 || r.json.error === 'invalid_dpop_proof')).toBe(true);
  });
});

describe('RFC 9449 §4.3: hostile proofs are clear invalid_dpop_proof errors, never 500s', () => {
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    [
      'wrong htu (another endpoint)',
      () => key.proof('POST', `${server.runtime.config.issuer}/o/revoke_token/`),
      /htu/,
    ],
    ['wrong htu (another host)', () => key.proof('POST', 'https://evil.example/o/token/'), /htu/],
    ['wrong htm', () => key.proof('GET', token()), /htm/],
    [
      'old iat',
      () => key.proof('POST', token(), { claims: { iat: Math.floor(Date.now() / 1000) - 600 } }),
      /too old/,
    ],
    [
      'future iat',
      () => key.proof('POST', token(), { claims: { iat: Math.floor(Date.now() / 1000) + 600 } }),
      /future/,
    ],
    ['missing jti', () => key.proof('POST', token(), { claims: { jti: undefined } }), /jti/],
    ['typ not dpop+jwt', () => key.proof('POST', token(), { header: { typ: 'JWT' } }), /typ/],
    [
      'symmetric alg (HS256)',
      async () =>
        forgedJws(
          { alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } },
          { htm: 'POST', htu: token(), jti: 'x', iat: Math.floor(Date.now() / 1000) },
        ),
      /alg/,
    ],
    [
      'alg none',
      async () =>
        forgedJws(
          { alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk },
          { htm: 'POST', htu: token(), jti: 'x', iat: Math.floor(Date.now() / 1000) },
        ),
      /alg/,
    ],
    [
      'private key in jwk',
      async () => key.proof('POST', token(), { header: { jwk: await key.privateJwk() } }),
      /public key/,
    ],
    ['missing jwk', () => key.proof('POST', token(), { header: { jwk: undefined } }), /jwk/],
    [
      'jwk of another key (signature does not verify)',
      async () => key.proof('POST', token(), { header: { jwk: (await DpopKey.generate()).publicJwk } }),
      /signature/,
    ],
    ['huge header (9 KiB)', async () => `${'a'.repeat(9 * 1024)}.b.c`, /too large/],
    ['garbage', async () => 'not a jwt', /compact JWS/],
    ['header that is not JSON', async () => 'bm90IGpzb24.e30.c2ln', /header/],
  ];
  for (const [name, make, message] of cases) {
    it(`RFC 9449 §4.3: ${name} is refused with 400 invalid_dpop_proof`, async () => {
      const res = await cc(machine, { DPoP: await make() });
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_dpop_proof');
      expect(String(res.json.error_description)).toMatch(message);
    });
  }

  it('RFC 9449 §4.3 (point 1): two DPoP headers are refused', async () => {
    const res = await rawRequest(token(), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${machine.clientId}:${machine.clientSecret}`).toString('base64')}`,
        DPoP: [await key.proof('POST', token()), await key.proof('POST', token())],
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_dpop_proof');
    expect(String(res.json.error_description)).toMatch(/Exactly one DPoP header/);
  });
});

describe('RFC 9449 §5, §10: bound codes and refresh tokens, requireDpop', () => {
  it('RFC 9449 §10: a code bound with dpop_jkt is redeemed only with a proof of that key', async () => {
    const otherKey = await DpopKey.generate();
    const wrong = await postForm(server, '/o/token/', await code(web, { dpop_jkt: key.jkt }), web, {
      DPoP: await otherKey.proof('POST', token()),
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toBe('invalid_grant');
    expect(String(wrong.json.error_description)).toMatch(/dpop_jkt/);
    const none = await postForm(server, '/o/token/', await code(web, { dpop_jkt: key.jkt }), web);
    expect(none.json.error).toBe('invalid_grant');
    const right = await postForm(server, '/o/token/', await code(web, { dpop_jkt: key.jkt }), web, {
      DPoP: await key.proof('POST', token()),
    });
    expect(right.status).toBe(200);
    expect(right.json.token_type).toBe('DPoP');
  });

  it('RFC 9449 §10: a malformed dpop_jkt is refused at the authorization request', async () => {
    const { challenge } = pkce();
    const res = await agent.get(
      `/o/authorize/?${new URLSearchParams({
        response_type: 'code',
        client_id: web.clientId,
        redirect_uri: web.redirectUri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        dpop_jkt: 'short',
      })}`,
    );
    expect(res.status).toBe(302);
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_request');
  });

  it("RFC 9449 §5: a public client's refresh token is bound: refreshing needs a proof of the same key", async () => {
    const first = await postForm(server, '/o/token/', await code(spa), spa, {
      DPoP: await key.proof('POST', token()),
    });
    expect(first.json.token_type).toBe('DPoP');
    const refresh = String(first.json.refresh_token);
    const form = { grant_type: 'refresh_token', refresh_token: refresh };
    const without = await postForm(server, '/o/token/', form, spa);
    expect(without.status).toBe(400);
    expect(without.json.error).toBe('invalid_grant');
    const otherKey = await DpopKey.generate();
    const stolen = await postForm(server, '/o/token/', form, spa, {
      DPoP: await otherKey.proof('POST', token()),
    });
    expect(stolen.json.error).toBe('invalid_grant');
    const ok = await postForm(server, '/o/token/', form, spa, { DPoP: await key.proof('POST', token()) });
    expect(ok.status).toBe(200);
    expect(ok.json.token_type).toBe('DPoP');
  });

  it("RFC 9449 §5: a confidential client's refresh token is not bound (it authenticates); the new access token is Bearer without a proof", async () => {
    const first = await postForm(server, '/o/token/', await code(web), web, {
      DPoP: await key.proof('POST', token()),
    });
    expect(first.json.token_type).toBe('DPoP');
    const again = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: String(first.json.refresh_token) },
      web,
    );
    expect(again.status).toBe(200);
    expect(again.json.token_type).toBe('Bearer');
  });

  it('RFC 9449 §5: the password grant binds through the same shared step (token_type DPoP, introspected cnf.jkt)', async () => {
    const legacy = await makeClient(server, { grantTypes: ['password'], redirectUris: [], scopes: ['read'] });
    const res = await postForm(
      server,
      '/o/token/',
      { grant_type: 'password', username: 'dora', password: 'dora-password', scope: 'read' },
      legacy,
      { DPoP: await key.proof('POST', token()) },
    );
    expect(res.json.token_type).toBe('DPoP');
    const info = await postForm(server, '/o/introspect/', { token: String(res.json.access_token) }, legacy);
    expect(info.json).toMatchObject({ token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });

  it('RFC 9449 §5.2 (dpop_bound_access_tokens): an application that requires DPoP is refused a token without a proof', async () => {
    const without = await cc(strict);
    expect(without.status).toBe(400);
    expect(without.json.error).toBe('invalid_request');
    expect(String(without.json.error_description)).toMatch(/requires DPoP/);
    const withProof = await cc(strict, { DPoP: await key.proof('POST', token()) });
    expect(withProof.status).toBe(200);
    expect(withProof.json.token_type).toBe('DPoP');
  });
});

describe('RFC 9449 §7: bound tokens at userinfo, GraphQL and introspection', () => {
  let access: string;
  beforeAll(async () => {
    const res = await postForm(server, '/o/token/', await code(web), web, {
      DPoP: await key.proof('POST', token()),
    });
    access = String(res.json.access_token);
  });

  const get = (path: string, headers: Record<string, string>) =>
    fetch(new URL(path, server.url), { headers }).then(async (r) => ({
      status: r.status,
      headers: r.headers,
      json: (await r.json()) as Record<string, unknown>,
    }));

  it('RFC 9449 §7.1: userinfo accepts a bound token with the DPoP scheme and a proof naming it (ath)', async () => {
    const res = await get('/o/userinfo/', {
      Authorization: `DPoP ${access}`,
      DPoP: await key.proof('GET', userinfo(), { accessToken: access }),
    });
    expect(res.status).toBe(200);
    expect(typeof res.json.sub).toBe('string');
  });

  it('RFC 9449 §7.2: a bound token presented as Bearer is refused with 401 and a DPoP challenge', async () => {
    const res = await get('/o/userinfo/', { Authorization: `Bearer ${access}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token".*algs="/);
  });

  it('RFC 9449 §4.3 (ath): a proof for another access token is refused with 401 invalid_dpop_proof', async () => {
    const res = await get('/o/userinfo/', {
      Authorization: `DPoP ${access}`,
      DPoP: await key.proof('GET', userinfo(), { accessToken: 'another-token' }),
    });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_dpop_proof');
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });

  it('RFC 9449 §7.1: a proof by a key other than the bound one is refused', async () => {
    const thief = await DpopKey.generate();
    const res = await get('/o/userinfo/', {
      Authorization: `DPoP ${access}`,
      DPoP: await thief.proof('GET', userinfo(), { accessToken: access }),
    });
    expect(res.status).toBe(401);
    expect(String(res.json.error_description)).toMatch(/key the token is bound to/);
  });

  it('RFC 9449 §7.1: the DPoP scheme without a proof is refused', async () => {
    const res = await get('/o/userinfo/', { Authorization: `DPoP ${access}` });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_dpop_proof');
  });

  it('RFC 9449 §7: GraphQL accepts a bound token only with the DPoP scheme and a proof', async () => {
    const url = `${server.runtime.config.issuer}/graphql`;
    const query = JSON.stringify({ query: '{ viewer { username } }' });
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: query,
      });
    const asBearer = await post({ Authorization: `Bearer ${access}` });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/);
    const asDpop = await post({
      Authorization: `DPoP ${access}`,
      DPoP: await key.proof('POST', url, { accessToken: access }),
    });
    expect(asDpop.status).toBe(200);
    expect(((await asDpop.json()) as { data: { viewer: { username: string } } }).data.viewer.username).toBe(
      'dora',
    );
  });

  it('RFC 9449 §7: introspection authenticated by a bound token needs its proof', async () => {
    const bound = await cc(machine, { DPoP: await key.proof('POST', token()) }, server, 'introspection');
    const caller = String(bound.json.access_token);
    const introspect = `${server.runtime.config.issuer}/o/introspect/`;
    const asBearer = await postForm(server, '/o/introspect/', { token: access }, undefined, {
      Authorization: `Bearer ${caller}`,
    });
    expect(asBearer.status).toBe(401);
    const asDpop = await postForm(server, '/o/introspect/', { token: access }, undefined, {
      Authorization: `DPoP ${caller}`,
      DPoP: await key.proof('POST', introspect, { accessToken: caller }),
    });
    expect(asDpop.status).toBe(200);
    expect(asDpop.json).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });
});

describe('RFC 9449: cost on the hot path', () => {
  it('RFC 9449 §11.1: a DPoP client_credentials request is two statements (the jti claim and the batched INSERT)', async () => {
    await cc(machine, { DPoP: await key.proof('POST', token()) });
    const proof = await key.proof('POST', token());
    const { result, statements } = await withStatements(server, () => cc(machine, { DPoP: proof }));
    expect(result.status).toBe(200);
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatch(/insert into used_jtis/);
  });
});

describe('RFC 9449 §8: server nonces (DPOP_NONCES=true)', () => {
  let noncey: TestServer;
  let twin: TestServer;
  let client: TestClient;
  beforeAll(async () => {
    noncey = await startTestServer({ env: { DPOP_NONCES: 'true' } });
    twin = await startTestServer({ databaseUrl: noncey.database!.url, env: { DPOP_NONCES: 'true' } });
    client = await makeClient(noncey, {
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scopes: ['read', 'introspection'],
    });
  });
  afterAll(async () => {
    await twin?.stop();
    await noncey?.stop();
  });

  it('RFC 9449 §8: a proof without the nonce gets 400 use_dpop_nonce and a DPoP-Nonce; with it, a token and the next nonce', async () => {
    const url = `${noncey.runtime.config.issuer}/o/token/`;
    const first = await cc(client, { DPoP: await key.proof('POST', url) }, noncey);
    expect(first.status).toBe(400);
    expect(first.json.error).toBe('use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[\w-]{22}$/);
    const second = await cc(client, { DPoP: await key.proof('POST', url, { nonce: nonce! }) }, noncey);
    expect(second.status).toBe(200);
    expect(second.json.token_type).toBe('DPoP');
    expect(second.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('RFC 9449 §9: a nonce from one instance is accepted by another (stateless, shared secret); a made-up one is not', async () => {
    const first = await cc(
      client,
      { DPoP: await key.proof('POST', `${noncey.runtime.config.issuer}/o/token/`) },
      noncey,
    );
    const nonce = first.headers.get('dpop-nonce')!;
    const url = `${twin.runtime.config.issuer}/o/token/`;
    const elsewhere = await cc(client, { DPoP: await key.proof('POST', url, { nonce }) }, twin);
    expect(elsewhere.status).toBe(200);
    const made = await cc(client, { DPoP: await key.proof('POST', url, { nonce: 'A'.repeat(22) }) }, twin);
    expect(made.json.error).toBe('use_dpop_nonce');
  });

  it('RFC 9449 §9: at a resource endpoint (Bearer-authenticated introspection) a missing nonce is 401 with WWW-Authenticate DPoP error="use_dpop_nonce"', async () => {
    const url = `${noncey.runtime.config.issuer}/o/token/`;
    const nonce = (await cc(client, { DPoP: await key.proof('POST', url) }, noncey)).headers.get(
      'dpop-nonce',
    )!;
    const bound = await cc(
      client,
      { DPoP: await key.proof('POST', url, { nonce }) },
      noncey,
      'introspection',
    );
    expect(bound.status).toBe(200);
    const access = String(bound.json.access_token);
    const introspect = `${noncey.runtime.config.issuer}/o/introspect/`;
    const res = await postForm(noncey, '/o/introspect/', { token: access }, undefined, {
      Authorization: `DPoP ${access}`,
      DPoP: await key.proof('POST', introspect, { accessToken: access }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(res.headers.get('dpop-nonce')).toBe(nonce);
    const retried = await postForm(noncey, '/o/introspect/', { token: access }, undefined, {
      Authorization: `DPoP ${access}`,
      DPoP: await key.proof('POST', introspect, { accessToken: access, nonce }),
    });
    expect(retried.status).toBe(200);
    expect(retried.json.active).toBe(true);
  });
});
