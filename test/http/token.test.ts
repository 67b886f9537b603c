import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, basic } from '../helpers/http.js';
import { authorize, codeFlow, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let web: TestClient;
let cc: TestClient;
let ccPost: TestClient;
let alice: Agent;
let introspector: TestClient;

beforeAll(async () => {
  server = await startTestServer({ env: { CLIENT_AUTH_MAX_FAILURES: '4' } });
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  web = await makeClient(server, { skipAuthorization: true, scopes: ['read', 'write', 'openid'] });
  cc = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'write'],
  });
  ccPost = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'write'],
    tokenEndpointAuthMethod: 'client_secret_post',
  });
  introspector = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['introspection'],
  });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

const token = (form: Record<string, string>, client?: TestClient, headers?: Record<string, string>) =>
  postForm(server, '/o/token/', form, client, headers);
const active = async (value: string) =>
  (await postForm(server, '/o/introspect/', { token: value }, introspector)).json.active;

async function codeFor(client: TestClient, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const { location } = await authorize(alice, {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    state: 's',
    scope: 'read write',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return { code: location.searchParams.get('code')!, verifier };
}

describe('authorization_code grant', () => {
  it('RFC 6749 §5.1: a code is exchanged for a Bearer token with expires_in, refresh_token, scope and Cache-Control: no-store', async () => {
    const { code, verifier } = await codeFor(web);
    const res = await token(
      { grant_type: 'authorization_code', code, redirect_uri: web.redirectUri, code_verifier: verifier },
      web,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read write' });
    expect(res.json.access_token).toMatch(/^lk_at_[\w-]{48}$/);
    expect(res.json.refresh_token).toMatch(/^lk_rt_[\w-]{48}$/);
    expect(await active(res.json.access_token as string)).toBe(true);
  });

  it('RFC 6749 §4.1.2: a replayed code is refused and revokes the tokens it issued', async () => {
    const { code, verifier } = await codeFor(web);
    const form = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: web.redirectUri,
      code_verifier: verifier,
    };
    const first = await token(form, web);
    expect(first.status).toBe(200);
    const replay = await token(form, web);
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe('invalid_grant');
    expect(await active(first.json.access_token as string)).toBe(false);
    const refresh = await token(
      { grant_type: 'refresh_token', refresh_token: first.json.refresh_token as string },
      web,
    );
    expect(refresh.json.error).toBe('invalid_grant');
  });

  it('RFC 7636 §4.6: a wrong or missing code_verifier is invalid_grant (and the code is not spent)', async () => {
    const { code, verifier } = await codeFor(web);
    const base = { grant_type: 'authorization_code', code, redirect_uri: web.redirectUri };
    expect((await token({ ...base, code_verifier: pkce().verifier }, web)).json.error).toBe('invalid_grant');
    expect((await token(base, web)).json.error).toBe('invalid_grant');
    expect((await token({ ...base, code_verifier: verifier }, web)).status).toBe(200);
  });

  it('OAuth 2.1 §4.1.3: a code_verifier for a code issued without a challenge is refused (PKCE downgrade)', async () => {
    const { code } = await codeFor(web, {
      code_challenge: undefined as unknown as string,
      code_challenge_method: undefined as unknown as string,
    });
    const res = await token(
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: web.redirectUri,
        code_verifier: pkce().verifier,
      },
      web,
    );
    expect(res.json.error).toBe('invalid_grant');
  });

  it('RFC 6749 §4.1.3: redirect_uri must be sent when it was sent to /o/authorize/, and must match', async () => {
    const { code, verifier } = await codeFor(web);
    expect(
      (await token({ grant_type: 'authorization_code', code, code_verifier: verifier }, web)).json.error,
    ).toBe('invalid_grant');
    expect(
      (
        await token(
          {
            grant_type: 'authorization_code',
            code,
            code_verifier: verifier,
            redirect_uri: 'https://client.example.com/other',
          },
          web,
        )
      ).json.error,
    ).toBe('invalid_grant');
  });

  it('RFC 6749 §4.1.3: a code is bound to the client it was issued to', async () => {
    const other = await makeClient(server, { skipAuthorization: true });
    const { code, verifier } = await codeFor(web);
    const res = await token(
      { grant_type: 'authorization_code', code, redirect_uri: web.redirectUri, code_verifier: verifier },
      other,
    );
    expect(res.json.error).toBe('invalid_grant');
  });

  it('RFC 6749 §4.1.2: an expired code is refused', async () => {
    const { code, verifier } = await codeFor(web);
    await server.runtime.db.sql.execute(
      "update authorization_codes set expires_at = now() - interval '1 second' where consumed_at is null",
    );
    const res = await token(
      { grant_type: 'authorization_code', code, redirect_uri: web.redirectUri, code_verifier: verifier },
      web,
    );
    expect(res.json.error).toBe('invalid_grant');
  });

  it('RFC 6749 §2.3 + OAuth 2.1 §2.4: a public client sends only client_id, with PKCE', async () => {
    const spa = await makeClient(server, { clientType: 'public', skipAuthorization: true });
    const { code, verifier } = await codeFor(spa);
    const res = await token(
      { grant_type: 'authorization_code', code, redirect_uri: spa.redirectUri, code_verifier: verifier },
      spa,
    );
    expect(res.status).toBe(200);
    expect(res.json.refresh_token).toBeTruthy();
  });

  it('tokens are stored only as digests: no token value appears in the database', async () => {
    const body = await codeFlow(server, alice, web);
    for (const table of ['access_tokens', 'refresh_tokens', 'authorization_codes']) {
      const dump = JSON.stringify(await server.runtime.db.sql.query(`select * from ${table}`));
      expect(dump).not.toContain((body.access_token as string).slice(6));
      expect(dump).not.toContain((body.refresh_token as string).slice(6));
    }
  });
});

describe('refresh_token grant', () => {
  it('RFC 6749 §6 + OAuth 2.1 §4.3.1: refreshing rotates the refresh token; the new pair works', async () => {
    const first = await codeFlow(server, alice, web);
    const res = await token(
      { grant_type: 'refresh_token', refresh_token: first.refresh_token as string },
      web,
    );
    expect(res.status).toBe(200);
    expect(res.json.refresh_token).not.toBe(first.refresh_token);
    expect(res.json.access_token).not.toBe(first.access_token);
    expect(res.json.scope).toBe('read write');
    expect(await active(res.json.access_token as string)).toBe(true);
    const next = await token(
      { grant_type: 'refresh_token', refresh_token: res.json.refresh_token as string },
      web,
    );
    expect(next.status).toBe(200);
  });

  it('RFC 6749 §6: scope may narrow, never widen', async () => {
    const first = await codeFlow(server, alice, web, { scope: 'read write' });
    const narrowed = await token(
      { grant_type: 'refresh_token', refresh_token: first.refresh_token as string, scope: 'read' },
      web,
    );
    expect(narrowed.status).toBe(200);
    expect(narrowed.json.scope).toBe('read');
    // The new refresh token keeps the original scope.
    const back = await token(
      {
        grant_type: 'refresh_token',
        refresh_token: narrowed.json.refresh_token as string,
        scope: 'read write',
      },
      web,
    );
    expect(back.status).toBe(200);
    const widened = await token(
      {
        grant_type: 'refresh_token',
        refresh_token: back.json.refresh_token as string,
        scope: 'read write openid',
      },
      web,
    );
    expect(widened.status).toBe(400);
    expect(widened.json.error).toBe('invalid_scope');
  });

  it('RFC 6749 §6: a refresh token is bound to its client', async () => {
    const first = await codeFlow(server, alice, web);
    const other = await makeClient(server, { skipAuthorization: true });
    const res = await token(
      { grant_type: 'refresh_token', refresh_token: first.refresh_token as string },
      other,
    );
    expect(res.json.error).toBe('invalid_grant');
    expect(
      (await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token as string }, web))
        .status,
    ).toBe(200);
  });

  it('refresh tokens are issued only when the application has the refresh_token grant', async () => {
    const noRefresh = await makeClient(server, { skipAuthorization: true });
    await server.runtime.db.sql.execute(
      "update applications set grant_types = '{authorization_code}' where id = $1",
      [noRefresh.id],
    );
    server.runtime.clients.invalidate();
    const body = await codeFlow(server, alice, noRefresh);
    expect(body.refresh_token).toBeUndefined();
  });
});

describe('refresh token reuse and the grace window', () => {
  let strict: TestServer;
  let graceful: TestServer;
  let concurrent: TestServer;
  beforeAll(async () => {
    strict = await startTestServer({ databaseUrl: server.database!.url });
    concurrent = await startTestServer({
      databaseUrl: server.database!.url,
      env: { REFRESH_CONCURRENCY_WINDOW_SECONDS: '2' },
    });
    graceful = await startTestServer({
      databaseUrl: server.database!.url,
      env: { REFRESH_GRACE_SECONDS: '30' },
    });
  });
  afterAll(async () => {
    await strict?.close();
    await graceful?.close();
    await concurrent?.close();
  });

  it('Review #13, OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: at the default settings, presenting a rotated refresh token again right away revokes the whole family', async () => {
    const first = await codeFlow(server, alice, web);
    const rotated = await postForm(
      strict,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: first.refresh_token as string },
      web,
    );
    expect(rotated.status).toBe(200);
    const reuse = await postForm(
      strict,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: first.refresh_token as string },
      web,
    );
    expect(reuse.status).toBe(400);
    expect(reuse.json.error).toBe('invalid_grant');
    expect(await active(rotated.json.access_token as string)).toBe(false);
    const successor = await postForm(
      strict,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: rotated.json.refresh_token as string },
      web,
    );
    expect(successor.json.error).toBe('invalid_grant');
  });

  it('OAuth 2.1 §4.3.1: with REFRESH_CONCURRENCY_WINDOW_SECONDS (opt-in), 20 parallel refreshes of one token: exactly one succeeds, no 5xx, the family stays intact', async () => {
    const first = await codeFlow(server, alice, web);
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        postForm(
          concurrent,
          '/o/token/',
          { grant_type: 'refresh_token', refresh_token: first.refresh_token as string },
          web,
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    for (const r of results) {
      expect(r.status).toBeLessThan(500);
      if (r.status !== 200) expect(r.json.error).toBe('invalid_grant');
    }
    expect(await active(ok[0].json.access_token as string)).toBe(true);
    const after = await postForm(
      concurrent,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: ok[0].json.refresh_token as string },
      web,
    );
    expect(after.status).toBe(200);
  });

  it('REFRESH_GRACE_SECONDS: a retry within the window gets a fresh pair and the unused successor is revoked', async () => {
    const first = await codeFlow(server, alice, web);
    const form = { grant_type: 'refresh_token', refresh_token: first.refresh_token as string };
    const a = await postForm(graceful, '/o/token/', form, web);
    const b = await postForm(graceful, '/o/token/', form, web);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.json.refresh_token).not.toBe(a.json.refresh_token);
    expect(
      (
        await postForm(
          graceful,
          '/o/token/',
          { grant_type: 'refresh_token', refresh_token: a.json.refresh_token as string },
          web,
        )
      ).json.error,
    ).toBe('invalid_grant');
    expect(
      (
        await postForm(
          graceful,
          '/o/token/',
          { grant_type: 'refresh_token', refresh_token: b.json.refresh_token as string },
          web,
        )
      ).status,
    ).toBe(200);
  });
});

describe('client_credentials grant', () => {
  it('RFC 6749 §4.4.3: a confidential client gets an access token and no refresh token', async () => {
    const res = await token({ grant_type: 'client_credentials', scope: 'read' }, cc);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'Bearer', scope: 'read', expires_in: 3600 });
    expect(res.json.refresh_token).toBeUndefined();
  });

  it('RFC 6749 §3.3: no scope means the application default; an unknown scope is invalid_scope', async () => {
    expect((await token({ grant_type: 'client_credentials' }, cc)).json.scope).toBe('read write');
    expect((await token({ grant_type: 'client_credentials', scope: 'admin' }, cc)).json.error).toBe(
      'invalid_scope',
    );
  });

  it('RFC 6749 §5.2: unauthorized_client for a client without the grant, unsupported_grant_type for unknown types', async () => {
    expect((await token({ grant_type: 'client_credentials' }, web)).json.error).toBe('unauthorized_client');
    expect((await token({ grant_type: 'urn:example:magic' }, cc)).json.error).toBe('unsupported_grant_type');
    expect((await token({}, cc)).json.error).toBe('invalid_request');
  });
});

describe('client authentication', () => {
  it('RFC 6749 §2.3.1: HTTP Basic credentials are form-urlencoded before base64 and decoded', async () => {
    const encodeAll = (s: string) =>
      [...s].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
    const header = `Basic ${Buffer.from(`${encodeAll(cc.clientId)}:${encodeAll(cc.clientSecret!)}`).toString('base64')}`;
    const res = await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, undefined, {
      Authorization: header,
    });
    expect(res.status).toBe(200);
  });

  it('RFC 6749 §2.3.1: client_secret_post works too, for a client registered for it', async () => {
    const res = await postForm(server, '/o/token/', {
      grant_type: 'client_credentials',
      client_id: ccPost.clientId,
      client_secret: ccPost.clientSecret!,
    });
    expect(res.status).toBe(200);
  });

  it('RFC 6749 §5.2: a wrong secret is 401 invalid_client, with WWW-Authenticate: Basic only when Basic was used', async () => {
    const viaBasic = await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, undefined, {
      Authorization: basic(cc.clientId, 'lk_cs_wrong'),
    });
    expect(viaBasic.status).toBe(401);
    expect(viaBasic.json.error).toBe('invalid_client');
    expect(viaBasic.headers.get('www-authenticate')).toMatch(/^Basic /);
    const viaPost = await postForm(server, '/o/token/', {
      grant_type: 'client_credentials',
      client_id: ccPost.clientId,
      client_secret: 'nope',
    });
    expect(viaPost.status).toBe(401);
    expect(viaPost.headers.get('www-authenticate')).toBeNull();
    const confidentialWithoutSecret = await postForm(server, '/o/token/', {
      grant_type: 'client_credentials',
      client_id: cc.clientId,
    });
    expect(confidentialWithoutSecret.status).toBe(401);
  });

  it('brute-force limit: failed client authentications per client id and address end in 429 with Retry-After', async () => {
    const victim = await makeClient(server, { grantTypes: ['client_credentials'], redirectUris: [] });
    const wrong = () =>
      postForm(server, '/o/token/', { grant_type: 'client_credentials' }, undefined, {
        Authorization: basic(victim.clientId, 'lk_cs_guess'),
      });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await wrong()).status);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses[3]).toBe(429);
    const blocked = await wrong();
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(blocked.json.error).toBe('invalid_client');
  });
});

describe('password grant (opt-in)', () => {
  it('RFC 6749 §4.3: works only for applications that opt in, with the login limits', async () => {
    const legacy = await makeClient(server, { grantTypes: ['password', 'refresh_token'], redirectUris: [] });
    const ok = await token(
      { grant_type: 'password', username: 'alice', password: 'alice-pass', scope: 'read' },
      legacy,
    );
    expect(ok.status).toBe(200);
    expect(ok.json.refresh_token).toBeTruthy();
    const bad = await token(
      { grant_type: 'password', username: 'alice', password: 'nope', scope: 'read' },
      legacy,
    );
    expect(bad.json.error).toBe('invalid_grant');
    expect(
      (await token({ grant_type: 'password', username: 'alice', password: 'alice-pass' }, web)).json.error,
    ).toBe('unauthorized_client');
  });
});
