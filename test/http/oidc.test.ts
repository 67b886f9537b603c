import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { codeFlow, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { runCli, waitForHealthy } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let rp: TestClient;
let alice: Agent;
let aliceId: string;

beforeAll(async () => {
  server = await startTestServer();
  aliceId = (
    await createUser(server.cli(), { username: 'alice', password: 'alice-pass', email: 'alice@example.com' })
  ).id;
  rp = await makeClient(server, {
    skipAuthorization: true,
    scopes: ['openid', 'profile', 'email', 'read'],
    postLogoutRedirectUris: ['https://client.example.com/logged-out'],
  });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

const jwks = () => createRemoteJWKSet(new URL('/o/jwks/', server.url));
const atHash = (token: string) =>
  createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');

async function openidFlow(client: TestClient, extra: Record<string, string> = {}) {
  return codeFlow(server, alice, client, { scope: 'openid profile email', nonce: 'n-0S6_WzA2Mj', ...extra });
}

describe('id_token (OIDC Core §2, §3.1.3.6)', () => {
  it('is issued for the openid scope with iss, sub, aud, exp, iat, auth_time, nonce, at_hash, azp and sid, signed RS256 by a published key', async () => {
    const body = await openidFlow(rp);
    const idToken = body.id_token as string;
    const header = decodeProtectedHeader(idToken);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(header.kid).toBeTruthy();
    const { payload } = await jwtVerify(idToken, jwks(), {
      issuer: server.runtime.config.issuer,
      audience: rp.clientId,
    });
    expect(payload.sub).toBe(aliceId);
    expect(payload.nonce).toBe('n-0S6_WzA2Mj');
    expect(payload.azp).toBe(rp.clientId);
    expect(payload.at_hash).toBe(atHash(body.access_token as string));
    expect(typeof payload.auth_time).toBe('number');
    expect(typeof payload.sid).toBe('string');
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
  });

  it('is not issued without the openid scope', async () => {
    const body = await codeFlow(server, alice, rp, { scope: 'read' });
    expect(body.id_token).toBeUndefined();
  });

  it('OIDC Core §12.2: a refresh returns a new id_token for the same subject', async () => {
    const body = await openidFlow(rp);
    const refreshed = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      rp,
    );
    const { payload } = await jwtVerify(refreshed.json.id_token as string, jwks(), {
      issuer: server.runtime.config.issuer,
      audience: rp.clientId,
    });
    expect(payload.sub).toBe(aliceId);
    expect(payload.at_hash).toBe(atHash(refreshed.json.access_token as string));
  });

  it.each(['ES256', 'PS256'] as const)(
    'OIDC Core §2 / RFC 7518 §3.4–3.5: %s is selectable per application and verifies with the JWKS key of its kid',
    async (alg) => {
      const app = await makeClient(server, {
        skipAuthorization: true,
        scopes: ['openid'],
        idTokenSignedResponseAlg: alg,
      });
      const body = await codeFlow(server, alice, app, { scope: 'openid', nonce: 'x' });
      expect(decodeProtectedHeader(body.id_token as string).alg).toBe(alg);
      // jose checks the key's alg against the header: a PS256 token must meet a PS256 key.
      await jwtVerify(body.id_token as string, jwks(), { audience: app.clientId, algorithms: [alg] });
    },
  );
});

describe('userinfo (OIDC Core §5.3)', () => {
  it('answers sub plus the claims of the granted scopes, on GET and POST', async () => {
    const body = await openidFlow(rp);
    const get = await fetch(new URL('/o/userinfo/', server.url), {
      headers: { Authorization: `Bearer ${body.access_token}` },
    });
    expect(get.status).toBe(200);
    const claims = await get.json();
    expect(claims).toMatchObject({
      sub: aliceId,
      preferred_username: 'alice',
      name: 'alice',
      email: 'alice@example.com',
      email_verified: false,
    });
    expect(typeof claims.updated_at).toBe('number');
    const post = await postForm(server, '/o/userinfo/', { access_token: body.access_token as string });
    expect(post.json.sub).toBe(aliceId);

    const narrow = await codeFlow(server, alice, rp, { scope: 'openid', nonce: 'n' });
    const only = await (
      await fetch(new URL('/o/userinfo/', server.url), {
        headers: { Authorization: `Bearer ${narrow.access_token}` },
      })
    ).json();
    expect(only).toEqual({ sub: aliceId });
  });

  it('RFC 6750 §3.1: no token → 401 with a Bearer challenge; a bad token → invalid_token; no openid scope → 403 insufficient_scope', async () => {
    const none = await fetch(new URL('/o/userinfo/', server.url));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const bad = await fetch(new URL('/o/userinfo/', server.url), {
      headers: { Authorization: 'Bearer lk_at_nope' },
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const body = await codeFlow(server, alice, rp, { scope: 'read' });
    const noOpenid = await fetch(new URL('/o/userinfo/', server.url), {
      headers: { Authorization: `Bearer ${body.access_token}` },
    });
    expect(noOpenid.status).toBe(403);
    expect(noOpenid.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });
});

describe('discovery and JWKS', () => {
  it('OIDC Discovery §3: the document lists every endpoint, scopes, claims, response and grant types, PKCE and auth methods, algorithms', async () => {
    const doc = await (await fetch(new URL('/.well-known/openid-configuration', server.url))).json();
    const issuer = server.runtime.config.issuer;
    expect(doc.issuer).toBe(issuer);
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'introspection_endpoint',
      'revocation_endpoint',
      'end_session_endpoint',
    ]) {
      expect(doc[key]).toMatch(new RegExp(`^${issuer}/`));
    }
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email']));
    expect(doc.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'preferred_username']));
    expect(doc.response_types_supported).toContain('code');
    expect(doc.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']),
    );
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    expect(doc.id_token_signing_alg_values_supported).toEqual(['RS256', 'ES256', 'PS256']);
    expect(doc.subject_types_supported).toEqual(['public']);
  });

  it('RFC 7517: the JWKS holds public keys only, each with kid, use and alg, and is cacheable', async () => {
    const res = await fetch(new URL('/o/jwks/', server.url));
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const { keys } = await res.json();
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) {
      expect(key.kid).toBeTruthy();
      expect(key.use).toBe('sig');
      expect(['RS256', 'ES256', 'PS256']).toContain(key.alg);
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(secret);
    }
  });
});

describe('JWT access tokens (RFC 9068)', () => {
  it('are at+jwt with iss, sub, aud, client_id, scope, jti, exp, iat; recorded by jti, introspectable and revocable', async () => {
    const app = await makeClient(server, {
      skipAuthorization: true,
      accessTokenFormat: 'jwt',
      grantTypes: ['authorization_code', 'client_credentials'],
    });
    const body = await codeFlow(server, alice, app, { scope: 'read' });
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const { payload } = await jwtVerify(token, jwks(), {
      issuer: server.runtime.config.issuer,
      audience: server.runtime.config.accessTokenAudience,
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: aliceId, client_id: app.clientId, scope: 'read' });
    const rows = await server.runtime.db.sql.query<{ format: string }>(
      'select format from access_tokens where id = $1',
      [payload.jti],
    );
    expect(rows[0].format).toBe('jwt');
    expect((await postForm(server, '/o/introspect/', { token }, app)).json.active).toBe(true);
    await postForm(server, '/o/revoke_token/', { token }, app);
    expect((await postForm(server, '/o/introspect/', { token }, app)).json).toEqual({ active: false });

    const cc = await postForm(server, '/o/token/', { grant_type: 'client_credentials', scope: 'read' }, app);
    const ccClaims = await jwtVerify(cc.json.access_token as string, jwks(), { typ: 'at+jwt' });
    expect(ccClaims.payload.sub).toBe(app.clientId);
  });
});

describe('prompt, login_hint', () => {
  it('OIDC Core §3.1.2.1: login_hint fills in the username on the login page', async () => {
    const res = await new Agent(server.url).get(
      `/o/authorize/?response_type=code&client_id=${rp.clientId}&redirect_uri=${encodeURIComponent(rp.redirectUri)}&scope=openid&login_hint=alice&code_challenge=${pkce().challenge}&code_challenge_method=S256`,
    );
    const login = await new Agent(server.url).get(res.location!);
    expect(login.text).toMatch(/name="username" type="text" value="alice"/);
  });
});

describe('RP-initiated logout', () => {
  it('with a current id_token_hint and a registered post_logout_redirect_uri: logs out and redirects with state', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const body = await codeFlow(server, agent, rp, { scope: 'openid', nonce: 'n' });
    const res = await agent.get(
      `/o/logout/?id_token_hint=${body.id_token}&post_logout_redirect_uri=${encodeURIComponent('https://client.example.com/logged-out')}&state=bye`,
    );
    expect(res.status).toBe(302);
    expect(res.location).toBe('https://client.example.com/logged-out?state=bye');
    expect((await agent.get('/')).status).toBe(303);
  });

  it('without a hint the user confirms first; an unregistered post_logout_redirect_uri is refused', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const confirm = await agent.get(
      `/o/logout/?client_id=${rp.clientId}&post_logout_redirect_uri=${encodeURIComponent('https://client.example.com/logged-out')}`,
    );
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Log out?');
    expect((await agent.get('/')).status).toBe(200);
    const done = await agent.submitForm(
      `/o/logout/?client_id=${rp.clientId}&post_logout_redirect_uri=${encodeURIComponent('https://client.example.com/logged-out')}`,
      {},
      '/o/logout/',
    );
    expect(done.status).toBe(302);
    expect(done.location).toBe('https://client.example.com/logged-out');
    expect((await agent.get('/')).status).toBe(303);

    const evil = await agent.get(
      `/o/logout/?client_id=${rp.clientId}&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
    );
    expect(evil.status).toBe(400);
    expect(evil.location).toBeUndefined();
  });
});

describe('signing key rotation', () => {
  it('a token signed before rotation still verifies; new tokens use the new key; once retired the old key leaves the JWKS', async () => {
    const before = await openidFlow(rp);
    const oldKid = decodeProtectedHeader(before.id_token as string).kid;
    const rotated = await runCli(['rotate-keys'], { DATABASE_URL: server.database!.url });
    expect(rotated.code).toBe(0);
    // The running server hears of it (NOTIFY) and publishes the new keys.
    const newKid = (
      JSON.parse(rotated.stdout) as { active: Array<{ kid: string; alg: string }> }
    ).active.find((k) => k.alg === 'RS256')!.kid;
    await expect
      .poll(
        async () =>
          (await (await fetch(new URL('/o/jwks/', server.url))).json()).keys.map(
            (k: { kid: string }) => k.kid,
          ),
        { timeout: 5000 },
      )
      .toContain(newKid);
    await jwtVerify(before.id_token as string, jwks(), { audience: rp.clientId });
    const after = await openidFlow(rp);
    expect(decodeProtectedHeader(after.id_token as string).kid).toBe(newKid);

    // Retirement: once every token the old key signed has expired, cleanup removes it.
    await server.runtime.db.sql.execute(
      "update signing_keys set expires_at = now() - interval '1 second' where status = 'previous'",
    );
    const { deleteExpired } = await import('../../src/services/cleanup.js');
    await deleteExpired(server.runtime.db.sql, 100);
    await server.runtime.keyStore.load();
    const kids = (await (await fetch(new URL('/o/jwks/', server.url))).json()).keys.map(
      (k: { kid: string }) => k.kid,
    );
    expect(kids).not.toContain(oldKid);
    expect(kids).toContain(newKid);
  });

  it('private keys are encrypted at rest when KEY_ENCRYPTION_KEY is set, and never leave the server', async () => {
    const kek = 'a-very-long-key-encryption-secret-for-tests';
    const encrypted = await startTestServer({ env: { KEY_ENCRYPTION_KEY: kek } });
    try {
      const rows = await encrypted.runtime.db.sql.query<{ private_key: string; encrypted: boolean }>(
        'select private_key, encrypted from signing_keys',
      );
      expect(rows.length).toBe(3); // RS256, ES256, PS256
      for (const r of rows) {
        expect(r.encrypted).toBe(true);
        expect(r.private_key.startsWith('v1.')).toBe(true);
        expect(r.private_key).not.toContain('"d"');
      }
      expect(await waitForHealthy(`${encrypted.url}/healthz`, 5000)).toBe(200);
    } finally {
      await encrypted.stop();
    }
  });
});
