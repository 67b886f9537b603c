import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApplication } from '../../src/services/applications.js';
import { ValidationError } from '../../src/services/errors.js';
import { createUser, findUserByUsername } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { authorizePath, makeClient, pkce, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The FAPI 2.0 Security Profile (final, 2025) for one application (`profile: 'fapi2'`), driven by
 * panva's openid-client at its default strictness: private_key_jwt, PAR, PKCE S256, DPoP, PS256
 * signatures, 60-second codes and refresh without rotation, all together. The server runs with
 * AUTHORIZATION_CODE_TTL=600 and no server-wide PAR or DPoP, so each rule shown comes from the
 * profile.
 */

let server: TestServer;
let agent: Agent;
let userId: string;
const REDIRECT = 'https://fapi.example.com/callback';

beforeAll(async () => {
  server = await startTestServer({ env: { AUTHORIZATION_CODE_TTL: '600' } });
  userId = (await createUser(server.cli(), { username: 'fapi-user', password: 'fapi-password' })).id;
  agent = new Agent(server.url);
  await agent.login('fapi-user', 'fapi-password');
});

afterAll(async () => {
  await server?.stop();
});

async function fapiClient(): Promise<{ client: TestClient; key: CryptoKey; kid: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256' };
  const client = await makeClient(server, {
    profile: 'fapi2',
    scopes: ['openid', 'read'],
    redirectUris: [REDIRECT],
    tokenEndpointAuthMethod: 'private_key_jwt',
    jwks: { keys: [jwk] },
    accessTokenFormat: 'jwt',
    skipAuthorization: true,
  });
  return { client, key: privateKey, kid };
}

/** openid-client's view of the server, authenticating with the client's key (RFC 7523). */
function discover(client: TestClient, key: CryptoKey, kid: string) {
  return oidc.discovery(
    new URL(server.runtime.config.issuer),
    client.clientId,
    undefined,
    oidc.PrivateKeyJwt({ key, kid }),
    { execute: [oidc.allowInsecureRequests] },
  );
}

describe('FAPI 2.0 Security Profile per application', () => {
  it('FAPI 2.0 §5.3.1–5.3.2, §5.4: openid-client pushes with private_key_jwt, authorizes with PKCE S256 and dpop_jkt, gets DPoP-bound tokens signed PS256 (id_token and JWT access token), and refreshes twice with the same refresh token (§5.3.2.1: no rotation)', async () => {
    const { client, key, kid } = await fapiClient();
    const config = await discover(client, key, kid);
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: 'openid read',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      dpop_jkt: await DPoP.calculateThumbprint(),
    });
    const res = await agent.get(url.pathname + url.search);
    expect(res.status).toBe(302);
    const callback = new URL(res.location!);
    expect(callback.searchParams.get('iss')).toBe(server.runtime.config.issuer);
    const code = callback.searchParams.get('code')!;
    const stored = await server.runtime.db.sql.query<{ seconds: number }>(
      `select extract(epoch from expires_at - now())::float8 as seconds from authorization_codes
        where application_id = $1`,
      [client.id],
    );
    expect(code).toBeTruthy();
    expect(stored[0].seconds).toBeLessThanOrEqual(60);

    const tokens = await oidc.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
      undefined,
      { DPoP },
    );
    expect(tokens.token_type).toBe('dpop');
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('PS256');
    expect(decodeProtectedHeader(tokens.access_token).alg).toBe('PS256');
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt: await DPoP.calculateThumbprint() });
    expect(tokens.claims()?.sub).toBe(userId);
    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId, { DPoP });
    expect(info.sub).toBe(userId);

    const refreshToken = tokens.refresh_token!;
    expect(refreshToken).toBeTruthy();
    for (let i = 0; i < 2; i++) {
      const refreshed = await oidc.refreshTokenGrant(config, refreshToken, undefined, { DPoP });
      expect(refreshed.token_type).toBe('dpop');
      expect(refreshed.refresh_token).toBeUndefined();
      expect(decodeProtectedHeader(refreshed.access_token).alg).toBe('PS256');
    }
  });

  it('FAPI 2.0 §5.3.2.2 (PAR, DPoP, PKCE): for a FAPI2 application a request that is not pushed is refused, a pushed one without PKCE S256 is refused at /o/par/, and a token request without a DPoP proof is refused', async () => {
    const { client, key, kid } = await fapiClient();
    const { challenge } = pkce();
    const direct = await agent.get(
      authorizePath({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: REDIRECT,
        scope: 'read',
        state: 's',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(direct.status).toBe(302);
    expect(new URL(direct.location!).searchParams.get('error')).toBe('invalid_request');
    expect(new URL(direct.location!).searchParams.get('code')).toBeNull();

    const stored = await server.runtime.db.sql.query<{ require_par: boolean; require_dpop: boolean }>(
      'select require_par, require_dpop, rotate_refresh_tokens from applications where id = $1',
      [client.id],
    );
    expect(stored[0]).toMatchObject({ require_par: true, require_dpop: true, rotate_refresh_tokens: false });

    const config = await discover(client, key, kid);
    const noPkce = await oidc
      .buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'read', state: 's' })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(noPkce).toBeInstanceOf(oidc.ResponseBodyError);
    expect((noPkce as oidc.ResponseBodyError).error).toBe('invalid_request');

    const verifier = oidc.randomPKCECodeVerifier();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: REDIRECT,
      scope: 'read',
      state: 's',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const res = await agent.get(url.pathname + url.search);
    const withoutProof = await oidc
      .authorizationCodeGrant(config, new URL(res.location!), {
        pkceCodeVerifier: verifier,
        expectedState: 's',
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(withoutProof).toBeInstanceOf(oidc.ResponseBodyError);
    expect((withoutProof as oidc.ResponseBodyError).error).toBe('invalid_request');
  });

  it('FAPI 2.0 §5.3.2.1, §5.4.1: a FAPI2 application must be a private_key_jwt client of the code flow signing with PS256 or ES256; the service says which rule each refusal breaks', async () => {
    const owner = (await findUserByUsername(server.cli(), 'owner'))!;
    const base = {
      name: 'FAPI misfit',
      clientType: 'confidential' as const,
      grantTypes: ['authorization_code' as const],
      redirectUris: [REDIRECT],
      profile: 'fapi2' as const,
    };
    const fieldsOf = async (input: Parameters<typeof createApplication>[2]) => {
      try {
        await createApplication(server.cli(), owner, input);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return (err as ValidationError).issues.map((i) => i.field);
      }
    };
    expect(await fieldsOf({ ...base, tokenEndpointAuthMethod: 'client_secret_basic' })).toContain(
      'tokenEndpointAuthMethod',
    );
    const jwks = { keys: [{ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k' }] };
    const keyed = { ...base, tokenEndpointAuthMethod: 'private_key_jwt' as const, jwks };
    expect(await fieldsOf({ ...keyed, idTokenSignedResponseAlg: 'RS256' })).toEqual([
      'idTokenSignedResponseAlg',
    ]);
    expect(await fieldsOf({ ...keyed, grantTypes: ['authorization_code', 'password'] })).toEqual([
      'grantTypes',
    ]);
    expect(await fieldsOf({ ...keyed, clientType: 'public', tokenEndpointAuthMethod: 'none' })).toContain(
      'tokenEndpointAuthMethod',
    );
    expect(await fieldsOf({ ...keyed, idTokenSignedResponseAlg: 'ES256' })).toEqual([]);
  });
});
