import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { makeClient, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * DPoP (RFC 9449) with panva's openid-client at its default strictness: the library makes the
 * proofs, binds the code with dpop_jkt, reads token_type DPoP, presents the token at userinfo
 * with the DPoP scheme, and retries on use_dpop_nonce by itself. The only option set is
 * allowInsecureRequests (the test servers speak plain http on 127.0.0.1).
 */

interface Setup {
  server: TestServer;
  agent: Agent;
  userId: string;
}

async function setUp(env: Record<string, string> = {}): Promise<Setup> {
  const server = await startTestServer({ env });
  const userId = (await createUser(server.cli(), { username: 'dpop-user', password: 'dpop-password' })).id;
  const agent = new Agent(server.url);
  await agent.login('dpop-user', 'dpop-password');
  return { server, agent, userId };
}

function discover(server: TestServer, client: TestClient) {
  return oidc.discovery(
    new URL(server.runtime.config.issuer),
    client.clientId,
    client.clientSecret ?? undefined,
    client.clientSecret ? oidc.ClientSecretBasic(client.clientSecret) : oidc.None(),
    { execute: [oidc.allowInsecureRequests] },
  );
}

/** Plays the browser: the application skips consent, so the authorization request redirects at once. */
async function browse(agent: Agent, url: URL): Promise<URL> {
  const res = await agent.get(url.pathname + url.search);
  expect(res.status).toBe(302);
  return new URL(res.location!);
}

/** The code flow with DPoP, dpop_jkt included; then userinfo and a refresh with the same handle. */
async function dpopCodeFlow(setup: Setup, client: TestClient) {
  const config = await discover(setup.server, client);
  const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: client.redirectUri,
    scope: 'openid profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    dpop_jkt: await DPoP.calculateThumbprint(),
  });
  const tokens = await oidc.authorizationCodeGrant(
    config,
    await browse(setup.agent, url),
    { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  expect(tokens.token_type).toBe('dpop');
  const info = await oidc.fetchUserInfo(config, tokens.access_token, setup.userId, { DPoP });
  expect(info.sub).toBe(setup.userId);
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
  expect(refreshed.token_type).toBe('dpop');
  expect((await oidc.fetchUserInfo(config, refreshed.access_token, setup.userId, { DPoP })).sub).toBe(
    setup.userId,
  );
  return { config, DPoP, tokens, refreshed };
}

const app = {
  skipAuthorization: true,
  scopes: ['openid', 'profile', 'read'],
  redirectUris: ['https://rp.example.com/callback'],
  grantTypes: ['authorization_code' as const, 'refresh_token' as const, 'client_credentials' as const],
};

describe('openid-client DPoP interop (RFC 9449)', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp();
  });
  afterAll(() => setup?.server.stop());

  it('RFC 9449 §5, §7, §10: code flow with dpop_jkt, userinfo with the DPoP scheme, refresh, client_credentials', async () => {
    const rp = await makeClient(setup.server, app);
    const { config, DPoP, tokens } = await dpopCodeFlow(setup, rp);
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected.token_type).toBe('DPoP');
    expect((introspected.cnf as { jkt?: string }).jkt).toBe(await DPoP.calculateThumbprint());
    const cc = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
    expect(cc.token_type).toBe('dpop');
  });

  it('RFC 9449 §7.2: the bound access token used as a Bearer token is refused', async () => {
    const rp = await makeClient(setup.server, app);
    const { config, tokens } = await dpopCodeFlow(setup, rp);
    await expect(oidc.fetchUserInfo(config, tokens.access_token, setup.userId)).rejects.toMatchObject({
      status: 401,
    });
  });

  it('RFC 9449 §5: a public client (no secret) gets a DPoP-bound refresh token and refreshes with its key', async () => {
    const spa = await makeClient(setup.server, {
      ...app,
      clientType: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
    });
    const { config, tokens } = await dpopCodeFlow(setup, spa);
    // Another key cannot use the refresh token (it was rotated once already: use the newest).
    const thief = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const latest = await oidc
      .refreshTokenGrant(config, tokens.refresh_token!, undefined, {
        DPoP: thief,
      })
      .catch((err: unknown) => err);
    expect(latest).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('openid-client DPoP interop with server nonces (RFC 9449 §8, §9)', () => {
  let setup: Setup;
  beforeAll(async () => {
    setup = await setUp({ DPOP_NONCES: 'true' });
  });
  afterAll(() => setup?.server.stop());

  it('RFC 9449 §8, §9: openid-client answers use_dpop_nonce by retrying with the nonce, at the token endpoint and at userinfo', async () => {
    const rp = await makeClient(setup.server, app);
    const { config, DPoP } = await dpopCodeFlow(setup, rp);
    const cc = await oidc.clientCredentialsGrant(config, { scope: 'read' }, { DPoP });
    expect(cc.token_type).toBe('dpop');
  });
});
