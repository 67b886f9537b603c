import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { authorizePath, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Pushed authorization requests (RFC 9126) against real servers: the PAR endpoint, the
 * single-use request_uri at /o/authorize/ (through the login page and the consent page), the
 * per-application requirePar and the server-wide REQUIRE_PAR, and openid-client's PAR support
 * at default strictness with private_key_jwt.
 */

const PREFIX = 'urn:ietf:params:oauth:request_uri:';
let server: TestServer;
let strict: TestServer;
let web: TestClient;
let trusted: TestClient;
let alice: Agent;

beforeAll(async () => {
  [server, strict] = await Promise.all([
    startTestServer(),
    startTestServer({ env: { REQUIRE_PAR: 'true' } }),
  ]);
  for (const s of [server, strict]) await createUser(s.cli(), { username: 'alice', password: 'alice-pass' });
  web = await makeClient(server, { scopes: ['read', 'write', 'openid'] });
  // skipAuthorization: the answer to a good request is the redirect with a code, no consent page.
  trusted = await makeClient(server, { skipAuthorization: true, scopes: ['read'] });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(async () => {
  await Promise.all([server?.stop(), strict?.stop()]);
});

function pushed(client: TestClient, extra: Record<string, string> = {}) {
  const { challenge } = pkce();
  return {
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope: 'read',
    state: 'st-1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

async function push(s: TestServer, client: TestClient, extra: Record<string, string> = {}) {
  const res = await postForm(s, '/o/par/', pushed(client, extra), client);
  expect(res.status, res.text).toBe(201);
  return String(res.json.request_uri);
}

describe('pushed authorization requests (RFC 9126)', () => {
  it('RFC 9126 §5: metadata advertises pushed_authorization_request_endpoint and require_pushed_authorization_requests', async () => {
    const meta = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json();
    expect(meta.pushed_authorization_request_endpoint).toBe(`${server.runtime.config.issuer}/o/par/`);
    expect(meta.require_pushed_authorization_requests).toBe(false);
    const strictMeta = await (await fetch(`${strict.url}/.well-known/openid-configuration`)).json();
    expect(strictMeta.require_pushed_authorization_requests).toBe(true);
  });

  it('RFC 9126 §2.2: a push answers 201 with a single-use urn request_uri and expires_in (PAR_TTL, 60 s), no-store', async () => {
    const res = await postForm(server, '/o/par/', pushed(web), web);
    expect(res.status).toBe(201);
    expect(String(res.json.request_uri)).toMatch(/^urn:ietf:params:oauth:request_uri:[\w-]{43}$/);
    expect(res.json.expires_in).toBe(60);
    expect(res.headers.get('cache-control')).toBe('no-store');
    // Only a digest of the random part is stored.
    const random = String(res.json.request_uri).slice(PREFIX.length);
    const rows = await server.runtime.db.sql.query<{ params: string; digest: Buffer }>(
      'select params, digest from pushed_authorization_requests',
    );
    expect(
      rows.some((r) => r.params.includes(random) || Buffer.from(r.digest).toString('base64url') === random),
    ).toBe(false);
  });

  it('RFC 9126 §2.1, §2.3: the push is client-authenticated and checked like the authorization endpoint; errors are JSON', async () => {
    const unauthenticated = await postForm(server, '/o/par/', pushed(web));
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.json.error).toBe('invalid_client');
    const wrongSecret = await postForm(server, '/o/par/', pushed(web), {
      clientId: web.clientId,
      clientSecret: 'wrong',
    });
    expect(wrongSecret.status).toBe(401);
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ request_uri: `${PREFIX}abc` }, 'invalid_request', /request_uri/],
      [{ redirect_uri: 'https://evil.example/cb' }, 'invalid_request', /not registered/],
      [{ response_type: 'id_token' }, 'unsupported_response_type', /response_type/],
      [{ code_challenge_method: 'plain' }, 'invalid_request', /./],
      [{ scope: 'introspection' }, 'invalid_scope', /./],
      [{ prompt: 'bogus' }, 'invalid_request', /prompt/],
      [{ request: 'eyJ.e30.' }, 'request_not_supported', /./],
    ];
    for (const [extra, error, why] of cases) {
      const res = await postForm(server, '/o/par/', pushed(web, extra), web);
      expect(res.status, JSON.stringify(extra)).toBe(400);
      expect(res.json.error, JSON.stringify(extra)).toBe(error);
      expect(String(res.json.error_description)).toMatch(why);
    }
  });

  it('RFC 9126 §4: the pushed request is used at /o/authorize/ with client_id and request_uri only; other parameters are ignored', async () => {
    const requestUri = await push(server, trusted, { scope: 'read', state: 'pushed-state' });
    const res = await alice.get(
      authorizePath({
        client_id: trusted.clientId,
        request_uri: requestUri,
        state: 'browser-state',
        redirect_uri: 'https://evil.example/cb',
        scope: 'write',
      }),
    );
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    expect(`${location.origin}${location.pathname}`).toBe(trusted.redirectUri);
    expect(location.searchParams.get('state')).toBe('pushed-state');
    expect(location.searchParams.get('code')).toBeTruthy();
    expect(location.searchParams.get('iss')).toBe(server.runtime.config.issuer);
  });

  it('RFC 9126 §4, §7.3: a request_uri works once; a replay is an error page, never a redirect', async () => {
    const requestUri = await push(server, trusted);
    const path = authorizePath({ client_id: trusted.clientId, request_uri: requestUri });
    expect((await alice.get(path)).status).toBe(302);
    const replay = await alice.get(path);
    expect(replay.status).toBe(400);
    expect(replay.location).toBeUndefined();
    expect(replay.text).toMatch(/already used/);
  });

  it('RFC 9126 §7.3: of 20 parallel uses of one request_uri exactly one gets a code', async () => {
    const requestUri = await push(server, trusted);
    const path = authorizePath({ client_id: trusted.clientId, request_uri: requestUri });
    const results = await Promise.all(Array.from({ length: 20 }, () => alice.get(path)));
    const codes = results.filter((r) => r.status === 302 && new URL(r.location!).searchParams.has('code'));
    expect(codes).toHaveLength(1);
    expect(results.filter((r) => r.status === 400)).toHaveLength(19);
  });

  it('RFC 9126 §2.2: an expired request_uri is an error page', async () => {
    const requestUri = await push(server, trusted);
    await server.runtime.db.sql.execute(
      "update pushed_authorization_requests set expires_at = now() - interval '1 second'",
    );
    const res = await alice.get(authorizePath({ client_id: trusted.clientId, request_uri: requestUri }));
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(res.text).toMatch(/expired/);
  });

  it('RFC 9126 §4 (binding to the client): another client’s request_uri is refused and not used up', async () => {
    const requestUri = await push(server, trusted);
    const other = await makeClient(server, { skipAuthorization: true, scopes: ['read'] });
    const stolen = await alice.get(authorizePath({ client_id: other.clientId, request_uri: requestUri }));
    expect(stolen.status).toBe(400);
    expect(stolen.location).toBeUndefined();
    const own = await alice.get(authorizePath({ client_id: trusted.clientId, request_uri: requestUri }));
    expect(own.status).toBe(302);
    const missing = await alice.get(authorizePath({ request_uri: requestUri }));
    expect(missing.status).toBe(400);
    const forged = await alice.get(
      authorizePath({ client_id: trusted.clientId, request_uri: `${PREFIX}${'A'.repeat(43)}` }),
    );
    expect(forged.status).toBe(400);
    const continuation = await alice.get(
      authorizePath({ client_id: trusted.clientId, pushed_request: 'e30.forged' }),
    );
    expect(continuation.status).toBe(400);
  });

  it('RFC 9126 §4: the pushed request survives the login page and the consent page, and the request_uri is still single-use', async () => {
    const browser = new Agent(server.url);
    const { verifier, challenge } = pkce();
    const requestUri = await push(server, web, { code_challenge: challenge, state: 'via-login' });
    const path = authorizePath({ client_id: web.clientId, request_uri: requestUri });
    const first = await browser.get(path);
    expect(first.status).toBe(302);
    const login = new URL(first.location!, server.url);
    expect(login.pathname).toBe('/accounts/login/');
    const next = login.searchParams.get('next')!;
    expect(next).not.toContain('code_challenge'); // the pushed parameters stay out of URLs
    const loggedIn = await browser.login('alice', 'alice-pass', next);
    const back = await browser.get(loggedIn.location!);
    expect(back.status).toBe(200);
    expect(back.text).toContain('consent_request');
    const decided = await browser.post('/o/authorize/', {
      ...hiddenInputs(back.text, '/o/authorize/'),
      allow: 'Allow',
    });
    expect(decided.status).toBe(302);
    const callback = new URL(decided.location!);
    expect(callback.searchParams.get('state')).toBe('via-login');
    const token = await postForm(
      server,
      '/o/token/',
      {
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
      },
      web,
    );
    expect(token.status).toBe(200);
    expect((await browser.get(path)).status).toBe(400);
  });

  it('RFC 9126 §6: an application with requirePar gets invalid_request for a non-pushed request (page path and fast path), and works with PAR', async () => {
    const must = await makeClient(server, { requirePar: true, skipAuthorization: true, scopes: ['read'] });
    const { challenge } = pkce();
    const direct = authorizePath({
      response_type: 'code',
      client_id: must.clientId,
      redirect_uri: must.redirectUri,
      scope: 'read',
      state: 'direct',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    // Logged in (the fast path would answer) and not logged in (the page path).
    for (const agent of [alice, new Agent(server.url)]) {
      const res = await agent.get(direct);
      expect(res.status).toBe(302);
      const location = new URL(res.location!);
      expect(`${location.origin}${location.pathname}`).toBe(must.redirectUri);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('direct');
      expect(location.searchParams.get('code')).toBeNull();
    }
    const requestUri = await push(server, must);
    const ok = await alice.get(authorizePath({ client_id: must.clientId, request_uri: requestUri }));
    expect(new URL(ok.location!).searchParams.get('code')).toBeTruthy();
  });

  it('RFC 9126 §5 (REQUIRE_PAR): every client must push; a pushed request works', async () => {
    const client = await makeClient(strict, { skipAuthorization: true, scopes: ['read'] });
    const agent = new Agent(strict.url);
    await agent.login('alice', 'alice-pass');
    const { challenge } = pkce();
    const res = await agent.get(
      authorizePath({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        scope: 'read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_request');
    const requestUri = await push(strict, client);
    const ok = await agent.get(authorizePath({ client_id: client.clientId, request_uri: requestUri }));
    expect(new URL(ok.location!).searchParams.get('code')).toBeTruthy();
  });

  it('RFC 9126 §2: CORS on /o/par/ as on the token endpoint (registered origins only)', async () => {
    const spa = await makeClient(server, { allowedOrigins: ['https://spa.example'], scopes: ['read'] });
    const preflight = await fetch(`${server.url}/o/par/`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://spa.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://spa.example');
    const res = await postForm(server, '/o/par/', pushed(spa), spa, { Origin: 'https://spa.example' });
    expect(res.status).toBe(201);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://spa.example');
    const other = await postForm(server, '/o/par/', pushed(spa), spa, { Origin: 'https://evil.example' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('RFC 9126 / RFC 7523 interop: openid-client pushes with private_key_jwt (buildAuthorizationUrlWithPAR), the code flow completes', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const kid = randomUUID();
    const rp = await makeClient(server, {
      scopes: ['openid', 'read'],
      redirectUris: ['https://rp.example.com/callback'],
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256' }] },
      requirePar: true,
    });
    const config = await oidc.discovery(
      new URL(server.runtime.config.issuer),
      rp.clientId,
      undefined,
      oidc.PrivateKeyJwt({ key: privateKey, kid }),
      { execute: [oidc.allowInsecureRequests] },
    );
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: 'https://rp.example.com/callback',
      scope: 'openid read',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(url.searchParams.has('code_challenge')).toBe(false);
    let res = await alice.get(url.pathname + url.search);
    if (res.status === 200) {
      res = await alice.post('/o/authorize/', { ...hiddenInputs(res.text, '/o/authorize/'), allow: 'Allow' });
    }
    // The first GET used the request_uri up: the consent form carries it on (signed continuation).
    expect(res.status).toBe(302);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(res.location!), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(tokens.claims()?.sub).toBeTruthy();
  });
});
