import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { authorize, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Two instances on one PostgreSQL, requests alternating between them. */
let a: TestServer;
let b: TestServer;
let web: TestClient;
let adminCookie: string;

beforeAll(async () => {
  a = await startTestServer();
  b = await startTestServer({ databaseUrl: a.database!.url });
  await createUser(a.cli(), { username: 'alice', password: 'alice-pass' });
  await createUser(a.cli(), { username: 'root', password: 'root-password', isAdmin: true });
  web = await makeClient(a, { skipAuthorization: true, scopes: ['read', 'openid'] });
  const admin = new Agent(a.url);
  await admin.login('root', 'root-password');
  adminCookie = admin.cookieHeader();
});
afterAll(async () => {
  await b?.close();
  await a?.stop();
});

describe('two instances on one PostgreSQL', () => {
  it('a code issued by A is redeemed at B, and the refresh works at A', async () => {
    const agent = new Agent(a.url);
    await agent.login('alice', 'alice-pass');
    const { verifier, challenge } = pkce();
    const { location } = await authorize(agent, {
      response_type: 'code',
      client_id: web.clientId,
      redirect_uri: web.redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const tokens = await postForm(
      b,
      '/o/token/',
      {
        grant_type: 'authorization_code',
        code: location.searchParams.get('code')!,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
      },
      web,
    );
    expect(tokens.status).toBe(200);
    const refreshed = await postForm(
      a,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token as string },
      web,
    );
    expect(refreshed.status).toBe(200);
  });

  it('a session made at A is valid at B', async () => {
    const agent = new Agent(a.url);
    await agent.login('alice', 'alice-pass');
    const atB = new Agent(b.url);
    for (const [k, v] of agent.cookies) atB.cookies.set(k, v);
    const home = await atB.get('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('Welcome, alice');
  });

  it('a key rotated via A is in B’s JWKS, and B signs with it', async () => {
    const rotated = await gql(a, { cookie: adminCookie }, 'mutation { rotateSigningKey { kid alg } }');
    const kids = (rotated.data!.rotateSigningKey as Array<{ kid: string; alg: string }>).map((k) => k.kid);
    await expect
      .poll(
        async () =>
          ((await (await fetch(new URL('/o/jwks/', b.url))).json()).keys as Array<{ kid: string }>).map(
            (k) => k.kid,
          ),
        { timeout: 5000 },
      )
      .toEqual(expect.arrayContaining(kids));
    const agent = new Agent(b.url);
    await agent.login('alice', 'alice-pass');
    const { verifier, challenge } = pkce();
    const { location } = await authorize(agent, {
      response_type: 'code',
      client_id: web.clientId,
      redirect_uri: web.redirectUri,
      scope: 'openid',
      nonce: 'n',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    const tokens = await postForm(
      b,
      '/o/token/',
      {
        grant_type: 'authorization_code',
        code: location.searchParams.get('code')!,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
      },
      web,
    );
    await expect.poll(() => kids).toContain(decodeProtectedHeader(tokens.json.id_token as string).kid);
  });

  it('a client secret rotated via A is refused by B at once (B had it cached)', async () => {
    const cc = await makeClient(a, { grantTypes: ['client_credentials'], redirectUris: [] });
    // Warm B's cache with the current secret.
    expect((await postForm(b, '/o/token/', { grant_type: 'client_credentials' }, cc)).status).toBe(200);
    const rotated = await gql(
      a,
      { cookie: adminCookie },
      `mutation { rotateClientSecret(id: "${cc.id}") { clientSecret } }`,
    );
    const fresh = (rotated.data!.rotateClientSecret as { clientSecret: string }).clientSecret;
    // NOTIFY reaches B within milliseconds; allow a short moment, far below CLIENT_CACHE_TTL.
    await expect
      .poll(async () => (await postForm(b, '/o/token/', { grant_type: 'client_credentials' }, cc)).status, {
        timeout: 2000,
        interval: 50,
      })
      .toBe(401);
    expect(
      (
        await postForm(
          b,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId: cc.clientId, clientSecret: fresh },
        )
      ).status,
    ).toBe(200);
  });

  it('login limits are shared: the 6th wrong password at B after 5 at A is 429', async () => {
    for (let i = 0; i < 5; i++)
      await new Agent(a.url).submitForm('/accounts/login/', { username: 'alice', password: `nope-${i}` });
    const sixth = await new Agent(b.url).submitForm('/accounts/login/', {
      username: 'alice',
      password: 'nope-6',
    });
    expect(sixth.status).toBe(429);
  });
});
