import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJws } from '../../src/services/jws.js';
import { createUser } from '../../src/services/users.js';
import { codeOf, gql } from '../helpers/graphql.js';
import { Agent, basic } from '../helpers/http.js';
import { authorize, codeFlow, makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { runCli } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let alice: Agent;
let aliceId: string;
let rp: TestClient;
let jwtApp: TestClient;
const LOGGED_OUT = 'https://client.example.com/logged-out';

beforeAll(async () => {
  server = await startTestServer();
  aliceId = (await createUser(server.cli(), { username: 'alice', password: 'alice-pass' })).id;
  rp = await makeClient(server, {
    skipAuthorization: true,
    scopes: ['openid', 'read'],
    postLogoutRedirectUris: [LOGGED_OUT],
  });
  jwtApp = await makeClient(server, {
    skipAuthorization: true,
    scopes: ['openid', 'read'],
    accessTokenFormat: 'jwt',
    postLogoutRedirectUris: [LOGGED_OUT],
  });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

const token = (form: Record<string, string>, client?: TestClient) =>
  postForm(server, '/o/token/', form, client);

describe('Review #3: login redirect target', () => {
  it('Review #3, OWASP Unvalidated Redirects: GET /accounts/login/?next=/..//evil.example/x with a session does not send the browser to //evil.example', async () => {
    const res = await alice.get('/accounts/login/?next=/..//evil.example/x');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/');
  });

  it('Review #3, OWASP Unvalidated Redirects: the login form’s next=/..//evil.example/x lands on /', async () => {
    const agent = new Agent(server.url);
    const res = await agent.submitForm(
      '/accounts/login/',
      { username: 'alice', password: 'alice-pass', next: '/..//evil.example/x' },
      '/accounts/login/',
    );
    expect(res.status).toBe(303);
    expect(res.location).toBe('/');
  });
});

describe('Review #5: a malformed code_verifier for a code issued without a challenge', () => {
  for (const format of ['opaque', 'jwt'] as const) {
    it(`Review #5, OAuth 2.1 §4.1.3 / RFC 7636 §4.1: code_verifier=x is refused with invalid_grant and no tokens (${format} access tokens)`, async () => {
      const client = format === 'jwt' ? jwtApp : rp;
      const { location } = await authorize(alice, {
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        scope: 'read',
        state: 's',
      });
      const code = location.searchParams.get('code')!;
      const base = { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri };
      const refused = await token({ ...base, code_verifier: 'x' }, client);
      expect(refused.status).toBe(400);
      expect(refused.json.error).toBe('invalid_grant');
      expect(refused.json.access_token).toBeUndefined();
      const rows = await server.runtime.db.sql.query<{ n: number }>(
        'select count(*)::int as n from access_tokens where family_id = (select id from authorization_codes where application_id = $1 order by created_at desc limit 1)',
        [client.id],
      );
      expect(rows[0].n).toBe(0);
      // The refusal is about the verifier: the code itself was not spent.
      expect((await token(base, client)).status).toBe(200);
    });
  }
});

describe('Review #6 and #8: RP-initiated logout', () => {
  const logoutPath = `/o/logout/?client_id=${'CLIENT'}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}&state=s1`;
  const pathFor = (client: TestClient) => logoutPath.replace('CLIENT', client.clientId);

  it('Review #6, OIDC RP-Initiated Logout §2 / OWASP Unvalidated Redirects: with nobody logged in and no hint, a confirmation page comes before the redirect', async () => {
    const browser = new Agent(server.url);
    const page = await browser.get(pathFor(rp));
    expect(page.status).toBe(200);
    expect(page.location).toBeUndefined();
    expect(page.text).toContain('You are not logged in');
    // Confirming without the form's CSRF token changes nothing and goes nowhere.
    const forged = await new Agent(server.url).post('/o/logout/', {
      confirm: '1',
      client_id: rp.clientId,
      post_logout_redirect_uri: LOGGED_OUT,
    });
    expect(forged.status).toBe(403);
    expect(forged.location).toBeUndefined();
    const done = await browser.submitForm(pathFor(rp), {}, '/o/logout/');
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${LOGGED_OUT}?state=s1`);
  });

  it('Review #6: a valid id_token_hint does not skip the confirmation when nobody is logged in (the hint names no session here)', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const body = await codeFlow(server, agent, rp, { scope: 'openid', nonce: 'n' });
    const res = await new Agent(server.url).get(
      `/o/logout/?id_token_hint=${body.id_token}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`,
    );
    expect(res.status).toBe(200);
    expect(res.location).toBeUndefined();
    expect(res.text).toContain('name="confirm"');
  });

  it('Review #8, OIDC RP-Initiated Logout §2 / RFC 9068 §4: an RFC 9068 JWT access token is not an id_token_hint', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const body = await codeFlow(server, agent, jwtApp, { scope: 'openid', nonce: 'n' });
    const res = await agent.get(
      `/o/logout/?id_token_hint=${body.access_token}&client_id=${jwtApp.clientId}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`,
    );
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(res.text).toContain('not issued by this server');
    expect((await agent.get('/')).status).toBe(200);
  });

  it('Review #8: a hint signed by our key is accepted only with typ JWT and an audience that is one of our applications', async () => {
    const signer = server.runtime.keyStore.signer('RS256');
    const now = Math.floor(Date.now() / 1000);
    const claims = (aud: string) => ({
      iss: server.runtime.config.issuer,
      sub: aliceId,
      aud,
      iat: now,
      exp: now + 600,
    });
    const attempt = async (typ: string, aud: string) => {
      const agent = new Agent(server.url);
      await agent.login('alice', 'alice-pass');
      const hint = signJws(signer, typ, claims(aud));
      const res = await agent.get(
        `/o/logout/?id_token_hint=${hint}&post_logout_redirect_uri=${encodeURIComponent(LOGGED_OUT)}`,
      );
      return { res, stillLoggedIn: (await agent.get('/')).status === 200 };
    };
    const accessToken = await attempt('at+jwt', rp.clientId);
    expect(accessToken.res.status).toBe(400);
    expect(accessToken.stillLoggedIn).toBe(true);
    const stranger = await attempt('JWT', 'no-such-client');
    expect(stranger.res.status).toBe(400);
    expect(stranger.stillLoggedIn).toBe(true);
    // The same token as an ID Token for a real application is a current hint: out at once.
    const idToken = await attempt('JWT', rp.clientId);
    expect(idToken.res.status).toBe(302);
    expect(idToken.res.location).toBe(LOGGED_OUT);
    expect(idToken.stillLoggedIn).toBe(false);
  });
});

describe('Review #10: CSRF token comparison', () => {
  it('Review #10, OWASP CSRF Prevention: a csrf_token of 43 non-ASCII characters is a 403 page, not a 500', async () => {
    const agent = new Agent(server.url);
    await agent.get('/accounts/login/'); // the pre-session cookie the token is bound to
    const res = await agent.post('/accounts/login/', {
      csrf_token: 'é'.repeat(43),
      username: 'alice',
      password: 'alice-pass',
    });
    expect(res.status).toBe(403);
    expect(res.text).toContain('This form has expired');
    const loggedIn = await alice.post('/accounts/logout/', { csrf_token: 'ü'.repeat(43) });
    expect(loggedIn.status).toBe(403);
  });
});

describe('Review #11: the registered token_endpoint_auth_method is enforced', () => {
  let basicClient: TestClient;
  let postClient: TestClient;
  beforeAll(async () => {
    const cc = { grantTypes: ['client_credentials' as const], redirectUris: [], scopes: ['read'] };
    basicClient = await makeClient(server, cc);
    postClient = await makeClient(server, { ...cc, tokenEndpointAuthMethod: 'client_secret_post' });
  });
  const post = (client: TestClient, path = '/o/token/', form: Record<string, string> = {}) =>
    postForm(server, path, {
      grant_type: 'client_credentials',
      ...form,
      client_id: client.clientId,
      client_secret: client.clientSecret!,
    });

  it('Review #11, OIDC Core §9 / RFC 7591 §2: a client_secret_basic client sending its secret in the body is invalid_client (401)', async () => {
    const res = await post(basicClient);
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_client');
    expect(res.json.error_description).toBe('This client is registered for client_secret_basic.');
    expect(res.json.access_token).toBeUndefined();
    expect((await token({ grant_type: 'client_credentials' }, basicClient)).status).toBe(200);
  });

  it('Review #11, OIDC Core §9 / RFC 7591 §2: a client_secret_post client using HTTP Basic is invalid_client (401, WWW-Authenticate); in the body it works', async () => {
    const viaBasic = await token({ grant_type: 'client_credentials' }, postClient);
    expect(viaBasic.status).toBe(401);
    expect(viaBasic.json.error).toBe('invalid_client');
    expect(viaBasic.json.error_description).toBe('This client is registered for client_secret_post.');
    expect(viaBasic.headers.get('www-authenticate')).toMatch(/^Basic /);
    const viaBody = await post(postClient);
    expect(viaBody.status).toBe(200);
    expect(viaBody.json.access_token).toMatch(/^lk_at_/);
  });

  it('Review #11, OIDC Core §9: the same rule holds at introspection and revocation (RFC 7662 §2.1, RFC 7009 §2.1)', async () => {
    const issued = (await token({ grant_type: 'client_credentials' }, basicClient)).json
      .access_token as string;
    for (const path of ['/o/introspect/', '/o/revoke_token/']) {
      const res = await postForm(server, path, {
        token: issued,
        client_id: basicClient.clientId,
        client_secret: basicClient.clientSecret!,
      });
      expect(res.status, path).toBe(401);
      expect(res.json.error, path).toBe('invalid_client');
    }
  });

  it('Review #11, RFC 7591 §2: the method is set through GraphQL and the CLI (--token-endpoint-auth-method), and unknown methods are refused', async () => {
    const cookie = { cookie: alice.cookieHeader() };
    const create = (method: string) =>
      gql(
        server,
        cookie,
        `mutation { createApplication(input: {name: "m2m", clientType: CONFIDENTIAL, grantTypes: [CLIENT_CREDENTIALS], tokenEndpointAuthMethod: ${method}}) { clientSecret application { clientId tokenEndpointAuthMethod } } }`,
      );
    const created = await create('CLIENT_SECRET_POST');
    expect(created.errors).toBeUndefined();
    const app = (created.data!.createApplication as { application: Record<string, string> }).application;
    expect(app.tokenEndpointAuthMethod).toBe('client_secret_post');
    const bad = await create('NONE');
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');

    const env = { DATABASE_URL: server.database!.url };
    const args = [
      'create-application',
      '--owner',
      'alice',
      '--name',
      'cli m2m',
      '--client-type',
      'confidential',
    ];
    const cli = await runCli(
      [...args, '--grant-types', 'client_credentials', '--token-endpoint-auth-method', 'client_secret_post'],
      env,
    );
    expect(cli.code, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout.trim().split('\n').at(-1)!) as Record<string, string>;
    expect(out.token_endpoint_auth_method).toBe('client_secret_post');
    const viaBody = await postForm(server, '/o/token/', {
      grant_type: 'client_credentials',
      client_id: out.client_id,
      client_secret: out.client_secret,
    });
    expect(viaBody.status).toBe(200);
    const wrong = await runCli(
      [...args, '--grant-types', 'client_credentials', '--token-endpoint-auth-method', 'private_key'],
      env,
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('--token-endpoint-auth-method');
  });
});

describe('Review #12: static vendor files and HSTS', () => {
  it('Review #12, DESIGN Security baseline (never a 500): /static/vendor/constructor and other Object.prototype names are a 404', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const page = await alice.get(`/static/vendor/${name}`);
      expect(page.status, name).toBe(404);
      const json = await fetch(new URL(`/static/vendor/${name}`, server.url), {
        headers: { Accept: 'application/json' },
      });
      expect(json.status, name).toBe(404);
    }
    expect((await alice.get('/static/vendor/react.js')).status).toBe(200);
  });

  it('Review #12, RFC 6797 §7.1: with an https issuer every response carries Strict-Transport-Security (protocol door, discovery, pages, assets, errors)', async () => {
    const https = await startTestServer({
      databaseUrl: server.database!.url,
      env: { ISSUER: 'https://auth.example.test' },
    });
    try {
      const hsts = 'max-age=63072000; includeSubDomains';
      const at = (path: string, init: RequestInit = {}) => fetch(new URL(path, https.url), init);
      const responses: Record<string, Response> = {
        'token error': await at('/o/token/', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials',
        }),
        'token, authenticated': await at('/o/token/', {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Authorization: basic(rp.clientId, rp.clientSecret!),
          },
          body: 'grant_type=nope',
        }),
        discovery: await at('/.well-known/openid-configuration'),
        jwks: await at('/o/jwks/'),
        page: await at('/accounts/login/', { headers: { Accept: 'text/html' } }),
        asset: await at('/static/style.css'),
        'html 404': await at('/no-such-page', { headers: { Accept: 'text/html' } }),
        'json 404': await at('/no-such-page', { headers: { Accept: 'application/json' } }),
        graphql: await at('/graphql', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{',
        }),
      };
      for (const [what, res] of Object.entries(responses))
        expect(res.headers.get('strict-transport-security'), what).toBe(hsts);
      expect(responses.discovery.status).toBe(200);
      expect(responses['html 404'].status).toBe(404);
    } finally {
      await https.close();
    }
    // Over a plain-http issuer (local development) there is none.
    const plain = await fetch(new URL('/.well-known/openid-configuration', server.url));
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });
});
