import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { makeClient, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Interoperability with panva's openid-client (a certified relying-party library), with its
 * default validation. The only option set is allowInsecureRequests: the test server speaks plain
 * http on 127.0.0.1, which the library otherwise refuses on principle.
 */
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
    skipAuthorization: false,
    scopes: ['openid', 'profile', 'email', 'read'],
    redirectUris: ['https://rp.example.com/callback'],
    postLogoutRedirectUris: ['https://rp.example.com/bye'],
    grantTypes: ['authorization_code', 'client_credentials'],
  });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

async function discover() {
  // The application is registered for client_secret_basic (the default), and only that is accepted.
  return oidc.discovery(
    new URL(server.runtime.config.issuer),
    rp.clientId,
    rp.clientSecret!,
    oidc.ClientSecretBasic(rp.clientSecret!),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** Plays the browser: follows the authorization URL with the logged-in agent and approves consent. */
async function browse(url: URL): Promise<URL> {
  let res = await alice.get(url.pathname + url.search);
  if (res.status === 200 && res.text.includes('consent_request')) {
    res = await alice.submitForm(url.pathname + url.search, { allow: 'Allow' }, '/o/authorize/');
  }
  expect(res.status).toBe(302);
  return new URL(res.location!);
}

describe('openid-client interop (OIDC Core, RFC 7636, RFC 9207)', () => {
  it('discovery, code flow with PKCE and nonce, id_token validation, userinfo, refresh, end-session URL', async () => {
    const config = await discover();
    expect(config.serverMetadata().issuer).toBe(server.runtime.config.issuer);

    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'https://rp.example.com/callback',
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    });
    const callback = await browse(url);
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedNonce: nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(aliceId);
    expect(claims.nonce).toBe(nonce);

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ sub: aliceId, email: 'alice@example.com', preferred_username: 'alice' });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()!.sub).toBe(aliceId);

    const endSession = oidc.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'https://rp.example.com/bye',
      state: 'bye-state',
    });
    expect(endSession.href.startsWith(`${server.runtime.config.issuer}/o/logout/`)).toBe(true);
    const out = await alice.get(endSession.pathname + endSession.search);
    expect(out.status).toBe(302);
    expect(out.location).toBe('https://rp.example.com/bye?state=bye-state');
  });

  it('client credentials, introspection and revocation through the library', async () => {
    const config = await discover();
    const cc = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    const info = await oidc.tokenIntrospection(config, cc.access_token);
    expect(info.active).toBe(true);
    await oidc.tokenRevocation(config, cc.access_token);
    expect((await oidc.tokenIntrospection(config, cc.access_token)).active).toBe(false);
  });

  it('RFC 9207: a response whose iss is not the issuer is rejected by the library (so Latchkey must send the right one)', async () => {
    alice = new Agent(server.url);
    await alice.login('alice', 'alice-pass');
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'https://rp.example.com/callback',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce: 'n',
    });
    const callback = await browse(url);
    callback.searchParams.set('iss', 'https://attacker.example');
    await expect(
      oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedNonce: 'n' }),
    ).rejects.toThrow();
  });
});
