import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/http/outbound.js';
import { ValidationError } from '../../src/services/errors.js';
import { createUser } from '../../src/services/users.js';
import { codeOf, gql } from '../helpers/graphql.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { runCli } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { selfSignedCertificate } from '../helpers/tls.js';

/**
 * private_key_jwt client authentication (RFC 7523 §2.2, §3; OIDC Core §9) against real servers:
 * keys registered inline (jwks) or served from an https jwks_uri (a local server with a
 * self-signed certificate for keys.test, reached through the SSRF-safe outbound client), driven by
 * openid-client at default strictness and by hand-made hostile assertions.
 */

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const resolve: Resolver = async (name) => (name === 'keys.test' ? [{ address: '127.0.0.1', family: 4 }] : []);

interface Key {
  privateKey: CryptoKey;
  jwk: JWK;
  kid: string;
  alg: string;
}

async function newKey(alg = 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { privateKey, kid, alg, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

let keyHost: https.Server;
let keyPort: number;
let served: { keys: JWK[] } = { keys: [] };
let keyFetches = 0;
let server: TestServer;
let second: TestServer;
let issuer: string;
let inlineKey: Key;
let inline: TestClient;

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate(['keys.test']);
  keyHost = https.createServer({ key, cert }, (_req, res) => {
    keyFetches++;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify(served));
  });
  await new Promise<void>((r) => keyHost.listen(0, '127.0.0.1', r));
  keyPort = (keyHost.address() as AddressInfo).port;
  const env = {
    OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true',
    DYNAMIC_REGISTRATION: 'open',
    CLIENT_AUTH_MAX_FAILURES: '20',
  };
  server = await startTestServer({ env, outbound: { resolve, ca: cert } });
  // A second instance on the same database: replays must be refused across instances.
  second = await startTestServer({
    env: { ...env, ISSUER: server.runtime.config.issuer },
    databaseUrl: server.database!.url,
    outbound: { resolve, ca: cert },
  });
  issuer = server.runtime.config.issuer;
});

// A fresh client per test: refused assertions count towards its brute-force limit.
beforeEach(async () => {
  inlineKey = await newKey('ES256');
  inline = await keyClient({ jwks: { keys: [inlineKey.jwk] } });
});

afterAll(async () => {
  await second?.close();
  await server?.stop();
  keyHost.closeAllConnections();
  await new Promise((r) => keyHost.close(r));
});

function keyClient(keys: { jwks?: unknown; jwksUri?: string }): Promise<TestClient> {
  return makeClient(server, {
    grantTypes: ['authorization_code', 'client_credentials'],
    scopes: ['read', 'write', 'openid'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    ...keys,
  });
}

/** An assertion per RFC 7523 §3, with any claim or header overridden (undefined removes it). */
async function assertion(
  key: Key,
  clientId: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: issuer,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
    ...claims,
  };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

function withAssertion(jwt: string, form: Record<string, string> = {}) {
  return { client_assertion_type: JWT_BEARER, client_assertion: jwt, ...form };
}

const CC = { grant_type: 'client_credentials', scope: 'read' };

async function expectInvalidClient(res: { status: number; json: Record<string, unknown> }, why?: RegExp) {
  expect(res.status).toBe(401);
  expect(res.json.error).toBe('invalid_client');
  if (why) expect(String(res.json.error_description)).toMatch(why);
}

describe('private_key_jwt (RFC 7523)', () => {
  it('RFC 8414 §2: metadata lists private_key_jwt with asymmetric signing algorithms for token, revocation and introspection', async () => {
    const meta = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
    for (const endpoint of ['token', 'revocation', 'introspection']) {
      expect(meta[`${endpoint}_endpoint_auth_methods_supported`]).toContain('private_key_jwt');
      expect(meta[`${endpoint}_endpoint_auth_signing_alg_values_supported`]).toEqual([
        'RS256',
        'PS256',
        'ES256',
        'EdDSA',
      ]);
    }
  });

  it('RFC 7523 §2.2 / OIDC Core §9: openid-client with PrivateKeyJwt gets tokens, introspects and revokes (jwks)', async () => {
    const config = await oidc.discovery(
      new URL(issuer),
      inline.clientId,
      undefined,
      oidc.PrivateKeyJwt({ key: inlineKey.privateKey, kid: inlineKey.kid }),
      { execute: [oidc.allowInsecureRequests] },
    );
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, tokens.access_token);
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('RFC 7523 §3 item 3: aud may be the issuer, the endpoint’s own URL, or the token endpoint URL (OIDC Core §9) — at token, PAR, introspection and revocation', async () => {
    const token = await postForm(
      server,
      '/o/token/',
      withAssertion(await assertion(inlineKey, inline.clientId, { aud: `${issuer}/o/token/` }), CC),
    );
    expect(token.status).toBe(200);
    const accessToken = String(token.json.access_token);
    const introspect = await postForm(
      server,
      '/o/introspect/',
      withAssertion(await assertion(inlineKey, inline.clientId, { aud: `${issuer}/o/introspect/` }), {
        token: accessToken,
      }),
    );
    expect(introspect.json.active).toBe(true);
    const par = await postForm(
      server,
      '/o/par/',
      withAssertion(
        await assertion(inlineKey, inline.clientId, {
          aud: [`${issuer}/o/token/`, 'https://elsewhere.example'],
        }),
        {
          response_type: 'code',
          redirect_uri: inline.redirectUri,
          scope: 'read',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        },
      ),
    );
    expect(par.status).toBe(201);
    expect(String(par.json.request_uri)).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const revoke = await postForm(
      server,
      '/o/revoke_token/',
      withAssertion(await assertion(inlineKey, inline.clientId), { token: accessToken }),
    );
    expect(revoke.status).toBe(200);
    const after = await postForm(
      server,
      '/o/introspect/',
      withAssertion(await assertion(inlineKey, inline.clientId), { token: accessToken }),
    );
    expect(after.json.active).toBe(false);
  });

  it('RFC 7523 §3 item 3: an aud naming another endpoint of this server, or another server, is invalid_client', async () => {
    for (const aud of [`${issuer}/o/introspect/`, 'https://other.example', `${issuer}/o/token`]) {
      const res = await postForm(
        server,
        '/o/token/',
        withAssertion(await assertion(inlineKey, inline.clientId, { aud }), CC),
      );
      await expectInvalidClient(res, /aud/);
    }
  });

  it('RFC 7523 §3: a wrong key, an expired assertion, a long-lived one, iss ≠ sub, no jti, a future iat are invalid_client, never 500', async () => {
    const stranger = await newKey('ES256');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Promise<string>, RegExp][] = [
      ['wrong key, same kid', assertion({ ...stranger, kid: inlineKey.kid }, inline.clientId), /signature/],
      ['unknown kid', assertion(stranger, inline.clientId), /no registered key/],
      [
        'expired (§3 item 4)',
        assertion(inlineKey, inline.clientId, { iat: now - 600, exp: now - 120 }),
        /expired/,
      ],
      ['valid for an hour', assertion(inlineKey, inline.clientId, { exp: now + 3600 }), /300 seconds/],
      [
        'long-lived, no iat',
        assertion(inlineKey, inline.clientId, { iat: undefined, exp: now + 3600 }),
        /300 seconds/,
      ],
      ['no exp', assertion(inlineKey, inline.clientId, { exp: undefined }), /exp/],
      ['iss ≠ sub (§3 items 1–2)', assertion(inlineKey, inline.clientId, { iss: 'someone-else' }), /iss/],
      ['no jti (§3 item 7)', assertion(inlineKey, inline.clientId, { jti: undefined }), /jti/],
      ['iat in the future', assertion(inlineKey, inline.clientId, { iat: now + 600, exp: now + 660 }), /iat/],
      ['nbf in the future', assertion(inlineKey, inline.clientId, { nbf: now + 600 }), /nbf/],
    ];
    for (const [name, jwt, why] of cases) {
      const res = await postForm(server, '/o/token/', withAssertion(await jwt, CC));
      expect(res.status, name).toBe(401);
      expect(res.json.error, name).toBe('invalid_client');
      expect(String(res.json.error_description), name).toMatch(why);
    }
  });

  it('RFC 7523 §3 item 9 / RFC 8725 §3.1: HS256 with a shared secret and alg "none" are invalid_client', async () => {
    const secretClient = await makeClient(server, { grantTypes: ['client_credentials'] });
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: inline.clientId,
      sub: inline.clientId,
      aud: issuer,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
    };
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secretClient.clientSecret!));
    await expectInvalidClient(await postForm(server, '/o/token/', withAssertion(hs256, CC)), /algorithm/);
    const none = new UnsecuredJWT(claims).encode();
    await expectInvalidClient(await postForm(server, '/o/token/', withAssertion(none, CC)), /algorithm/);
    // A secret client cannot switch to assertions either: the registered method is the only one.
    const own = await new SignJWT({ ...claims, iss: secretClient.clientId, sub: secretClient.clientId })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secretClient.clientSecret!));
    await expectInvalidClient(
      await postForm(server, '/o/token/', withAssertion(own, CC)),
      /registered for client_secret_basic/,
    );
  });

  it('RFC 7523 §3 item 7: a replayed assertion is invalid_client, on the same instance and on another one', async () => {
    const jwt = await assertion(inlineKey, inline.clientId);
    expect((await postForm(server, '/o/token/', withAssertion(jwt, CC))).status).toBe(200);
    await expectInvalidClient(await postForm(server, '/o/token/', withAssertion(jwt, CC)), /already used/);
    await expectInvalidClient(await postForm(second, '/o/token/', withAssertion(jwt, CC)), /already used/);
    // Fresh assertions work on the second instance.
    expect(
      (await postForm(second, '/o/token/', withAssertion(await assertion(inlineKey, inline.clientId), CC)))
        .status,
    ).toBe(200);
  });

  it('RFC 7523 §3 item 7: of 10 parallel requests with one assertion, exactly one is accepted, across two instances', async () => {
    const jwt = await assertion(inlineKey, inline.clientId);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        postForm(i % 2 ? second : server, '/o/token/', withAssertion(jwt, CC)),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401 && r.json.error === 'invalid_client')).toHaveLength(9);
  });

  it('RFC 6749 §2.3: refused assertions count towards the client-authentication brute-force limit, like wrong secrets', async () => {
    const key = await newKey('ES256');
    const client = await keyClient({ jwks: { keys: [key.jwk] } });
    const stranger = await newKey('ES256');
    const max = server.runtime.config.limits.clientAuthMaxFailures;
    for (let i = 0; i < max; i++) {
      const res = await postForm(
        server,
        '/o/token/',
        withAssertion(await assertion({ ...stranger, kid: key.kid }, client.clientId), CC),
      );
      expect([401, 429]).toContain(res.status);
    }
    const good = await postForm(
      server,
      '/o/token/',
      withAssertion(await assertion(key, client.clientId), CC),
    );
    expect(good.status).toBe(429);
    expect(good.json.error).toBe('invalid_client');
  });

  it('RFC 7521 §4.2: client_id is optional with an assertion, but must match it when sent; one method per request', async () => {
    const res = await postForm(
      server,
      '/o/token/',
      withAssertion(await assertion(inlineKey, inline.clientId), { ...CC, client_id: inline.clientId }),
    );
    expect(res.status).toBe(200);
    const other = await makeClient(server, { grantTypes: ['client_credentials'] });
    await expectInvalidClient(
      await postForm(
        server,
        '/o/token/',
        withAssertion(await assertion(inlineKey, inline.clientId), { ...CC, client_id: other.clientId }),
      ),
    );
    const both = await postForm(
      server,
      '/o/token/',
      withAssertion(await assertion(inlineKey, inline.clientId), { ...CC, client_secret: 'x' }),
    );
    expect(both.status).toBe(400);
    expect(both.json.error).toBe('invalid_request');
    const wrongType = await postForm(server, '/o/token/', {
      ...CC,
      client_assertion_type: 'urn:example:saml',
      client_assertion: 'x',
    });
    await expectInvalidClient(wrongType);
    const garbage = await postForm(server, '/o/token/', withAssertion('not.a.jwt', CC));
    await expectInvalidClient(garbage);
  });

  it('RFC 7523 §2.2 with jwks_uri: keys fetched over https, a rotated key (unknown kid) is fetched again and accepted, a flood of unknown kids costs at most one fetch', async () => {
    const first = await newKey('RS256');
    served = { keys: [first.jwk] };
    const client = await keyClient({ jwksUri: `https://keys.test:${keyPort}/jwks.json` });
    const before = keyFetches;
    expect(
      (await postForm(server, '/o/token/', withAssertion(await assertion(first, client.clientId), CC)))
        .status,
    ).toBe(200);
    expect(
      (await postForm(server, '/o/token/', withAssertion(await assertion(first, client.clientId), CC)))
        .status,
    ).toBe(200);
    expect(keyFetches - before).toBe(1); // cached

    const rotated = await newKey('PS256');
    served = { keys: [rotated.jwk] };
    const res = await postForm(
      server,
      '/o/token/',
      withAssertion(await assertion(rotated, client.clientId), CC),
    );
    expect(res.status).toBe(200);
    expect(keyFetches - before).toBe(2);

    // Unknown kids now: refused, and the key host sees no more than the cooldown allows (none).
    const floods = await Promise.all(
      Array.from({ length: 8 }, async () =>
        postForm(
          server,
          '/o/token/',
          withAssertion(await assertion(await newKey('ES256'), client.clientId), CC),
        ),
      ),
    );
    for (const f of floods) await expectInvalidClient(f, /no registered key/);
    expect(keyFetches - before).toBe(2);
  });

  it('RFC 7591 §2: a jwks_uri that does not answer with a usable key set is invalid_client, not 500', async () => {
    const key = await newKey('ES256');
    const client = await keyClient({ jwksUri: `https://keys.test:${keyPort + 1}/nothing-here` });
    const res = await postForm(server, '/o/token/', withAssertion(await assertion(key, client.clientId), CC));
    await expectInvalidClient(res, /jwks_uri/);
    const unroutable = await keyClient({ jwksUri: 'https://unknown.test/jwks.json' });
    await expectInvalidClient(
      await postForm(server, '/o/token/', withAssertion(await assertion(key, unroutable.clientId), CC)),
      /jwks_uri/,
    );
  });

  it('RFC 7591 §2: registration refuses private keys, symmetric keys, both jwks and jwks_uri, or neither', async () => {
    const key = await newKey('ES256');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['private key', { jwks: { keys: [privateJwk] } }, /private key material/],
      ['symmetric key', { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /symmetric/],
      ['both', { jwks: { keys: [key.jwk] }, jwksUri: 'https://keys.test/jwks.json' }, /not both/],
      ['neither', {}, /jwks or jwksUri/],
      ['too many', { jwks: { keys: Array.from({ length: 11 }, () => key.jwk) } }, /1 to 10 keys/],
      ['http jwks_uri', { jwksUri: 'http://keys.test/jwks.json' }, /https/],
      ['not a set', { jwks: 'hello' }, /JWK Set/],
    ];
    for (const [name, input, why] of cases) {
      const err = await keyClient(input as { jwks?: unknown }).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ValidationError);
      expect((err as Error).message, name).toMatch(why);
    }
  });

  it('RFC 7591 §3.2.1: dynamic registration with private_key_jwt and jwks returns the keys and no client_secret; the client then authenticates with them', async () => {
    const key = await newKey('EdDSA');
    const res = await fetch(`${issuer}/o/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'Keyed',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key.jwk] },
      }),
    });
    const body = await res.json();
    expect(res.status).toBe(201);
    expect(body.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(body.jwks.keys[0].kid).toBe(key.kid);
    expect(body.client_secret).toBeUndefined();
    const token = await postForm(
      server,
      '/o/token/',
      withAssertion(await assertion(key, body.client_id), { grant_type: 'client_credentials' }),
    );
    expect(token.status).toBe(200);
    const bad = await fetch(`${issuer}/o/register/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty: 'oct', k: 'AAAA' }] },
      }),
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toBe('invalid_client_metadata');
  });

  it('CLI: create-application --token-endpoint-auth-method private_key_jwt --jwks-file registers the keys (no secret printed)', async () => {
    const key = await newKey('ES256');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-jwks-'));
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [key.jwk] }));
    try {
      const env = { DATABASE_URL: server.database!.url, ISSUER: issuer };
      const args = [
        'create-application',
        '--owner',
        'owner',
        '--name',
        'CLI keyed',
        '--client-type',
        'confidential',
      ].concat(['--grant-types', 'client_credentials', '--token-endpoint-auth-method', 'private_key_jwt']);
      const made = await runCli([...args, '--jwks-file', file, '--require-par'], env);
      expect(made.code, made.stderr).toBe(0);
      const out = JSON.parse(made.stdout.trim().split('\n').pop()!);
      expect(out.client_secret).toBeNull();
      expect(out.jwks.keys[0].kid).toBe(key.kid);
      expect(out.require_pushed_authorization_requests).toBe(true);
      const token = await postForm(
        server,
        '/o/token/',
        withAssertion(await assertion(key, out.client_id), CC),
      );
      expect(token.status).toBe(200);
      const both = await runCli([...args, '--jwks-file', file, '--jwks-uri', 'https://keys.test/x'], env);
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/not both/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000); // two CLI processes (tsx start-up): slow on a loaded machine

  it('GraphQL and the application form register PRIVATE_KEY_JWT with jwks / jwksUri and requirePar; no secret; bad keys are typed errors', async () => {
    await createUser(server.cli(), { username: 'dora', password: 'dora-password' });
    const agent = new Agent(server.url);
    await agent.login('dora', 'dora-password');
    const auth = { cookie: agent.cookieHeader() };
    const key = await newKey('ES256');
    const create = `mutation($input: CreateApplicationInput!) { createApplication(input: $input) {
      clientSecret application { id clientId tokenEndpointAuthMethod jwks jwksUri requirePar } } }`;
    const input = { name: 'Keyed API', clientType: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'] };
    const made = await gql(server, auth, create, {
      input: {
        ...input,
        tokenEndpointAuthMethod: 'PRIVATE_KEY_JWT',
        jwks: { keys: [key.jwk] },
        requirePar: true,
      },
    });
    expect(made.errors).toBeUndefined();
    const payload = made.data!.createApplication as {
      clientSecret: string | null;
      application: Record<string, unknown>;
    };
    expect(payload.clientSecret).toBeNull();
    expect(payload.application).toMatchObject({
      tokenEndpointAuthMethod: 'private_key_jwt',
      jwksUri: null,
      requirePar: true,
    });
    const clientId = String(payload.application.clientId);
    expect(
      (await postForm(server, '/o/token/', withAssertion(await assertion(key, clientId), CC))).status,
    ).toBe(200);
    // Setting jwksUri replaces jwks.
    const update = `mutation($id: ID!, $input: UpdateApplicationInput!) { updateApplication(id: $id, input: $input) { jwks jwksUri } }`;
    const moved = await gql(server, auth, update, {
      id: payload.application.id,
      input: { jwksUri: 'https://keys.test/jwks.json' },
    });
    expect(moved.data?.updateApplication).toEqual({ jwks: null, jwksUri: 'https://keys.test/jwks.json' });
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const refused = await gql(server, auth, create, {
      input: {
        ...input,
        tokenEndpointAuthMethod: 'PRIVATE_KEY_JWT',
        jwks: { keys: [await exportJWK(privateKey)] },
      },
    });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');

    // The form: the method, a pasted JWK Set and the PAR checkbox.
    const page = await agent.get('/o/applications/register/');
    expect(page.text).toContain('name="jwks"');
    expect(page.text).toContain('value="private_key_jwt"');
    const posted = await agent.post('/o/applications/register/', {
      ...hiddenInputs(page.text, '/o/applications/register/'),
      name: 'Form keyed',
      client_type: 'confidential',
      grant_types: 'client_credentials',
      scopes: 'read',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: JSON.stringify({ keys: [key.jwk] }),
      require_par: 'on',
    });
    expect(posted.status, posted.text.slice(0, 500)).toBe(303);
    const detail = await agent.get(posted.location!);
    expect(detail.text).toContain('1 registered (private_key_jwt)');
    expect(detail.text).toContain('required (RFC 9126)');
    expect(detail.text).not.toContain('Rotate secret');
    expect(detail.text).not.toContain('id="client-secret"');
    const bad = await agent.post('/o/applications/register/', {
      ...hiddenInputs(page.text, '/o/applications/register/'),
      name: 'Form keyed',
      client_type: 'confidential',
      grant_types: 'client_credentials',
      scopes: 'read',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: '{not json',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('JWK Set');
  });
});
