import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { codeFlow, makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let web: TestClient;
let other: TestClient;
let resourceServer: TestClient;
let alice: Agent;

beforeAll(async () => {
  server = await startTestServer();
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  web = await makeClient(server, {
    skipAuthorization: true,
    grantTypes: ['authorization_code', 'client_credentials'],
  });
  other = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read'],
  });
  resourceServer = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'introspection'],
  });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

const introspect = (value: string, as: TestClient = resourceServer, extra: Record<string, string> = {}) =>
  postForm(server, '/o/introspect/', { token: value, ...extra }, as);
const revoke = (value: string, as: TestClient, extra: Record<string, string> = {}) =>
  postForm(server, '/o/revoke_token/', { token: value, ...extra }, as);

describe('RFC 7009 revocation', () => {
  it('§2.2: revoking an access token answers 200 with an empty body; the token is inactive', async () => {
    const body = await codeFlow(server, alice, web);
    const res = await revoke(body.access_token as string, web);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect((await introspect(body.access_token as string)).json).toEqual({ active: false });
    // The refresh token was not revoked by revoking the access token.
    expect((await introspect(body.refresh_token as string)).json.active).toBe(true);
  });

  it('§2.1: revoking a refresh token revokes the access tokens issued from it', async () => {
    const body = await codeFlow(server, alice, web);
    expect((await revoke(body.refresh_token as string, web)).status).toBe(200);
    expect((await introspect(body.access_token as string)).json.active).toBe(false);
    const refresh = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      web,
    );
    expect(refresh.json.error).toBe('invalid_grant');
  });

  it('§2.1: token_type_hint is only a hint: a wrong hint still revokes', async () => {
    const body = await codeFlow(server, alice, web);
    expect(
      (await revoke(body.access_token as string, web, { token_type_hint: 'refresh_token' })).status,
    ).toBe(200);
    expect((await introspect(body.access_token as string)).json.active).toBe(false);
  });

  it('§2.2: an unknown token answers 200', async () => {
    expect((await revoke('lk_at_unknown', web)).status).toBe(200);
  });

  it('§2.1: a token of another client is not revoked (and the answer is still 200)', async () => {
    const body = await codeFlow(server, alice, web);
    expect((await revoke(body.access_token as string, other)).status).toBe(200);
    expect((await introspect(body.access_token as string)).json.active).toBe(true);
  });

  it('§2.1: the client must authenticate; the token parameter is required', async () => {
    const noAuth = await postForm(server, '/o/revoke_token/', { token: 'x' });
    expect(noAuth.status).toBe(401);
    expect(noAuth.json.error).toBe('invalid_client');
    const missing = await postForm(server, '/o/revoke_token/', {}, web);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe('invalid_request');
  });
});

describe('RFC 7662 introspection', () => {
  it('§2.2: an active access token shows active, scope, client_id, username, sub, token_type, exp, iat, iss', async () => {
    const body = await codeFlow(server, alice, web);
    const res = await introspect(body.access_token as string);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const info = res.json;
    expect(info).toMatchObject({
      active: true,
      scope: 'read write profile email',
      client_id: web.clientId,
      username: 'alice',
      token_type: 'Bearer',
      iss: server.runtime.config.issuer,
    });
    expect(info.sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(info.exp as number).toBeGreaterThan(info.iat as number);
  });

  it('§2.2: an inactive token shows only {"active": false}', async () => {
    expect((await introspect('lk_at_never-issued')).json).toEqual({ active: false });
    const body = await codeFlow(server, alice, web);
    await server.runtime.db.sql.execute(
      "update access_tokens set expires_at = now() - interval '1 second' where id = (select id from access_tokens order by created_at desc limit 1)",
    );
    expect((await introspect(body.access_token as string)).json).toEqual({ active: false });
  });

  it('§2.1: a caller must authenticate: no credentials or a public client get 401', async () => {
    const body = await codeFlow(server, alice, web);
    const anonymous = await postForm(server, '/o/introspect/', { token: body.access_token as string });
    expect(anonymous.status).toBe(401);
    const spa = await makeClient(server, { clientType: 'public' });
    const pub = await postForm(server, '/o/introspect/', { token: body.access_token as string }, spa);
    expect(pub.status).toBe(401);
  });

  it('§2.1: a Bearer token with the introspection scope may introspect; without it: 403 insufficient_scope (RFC 6750 §3.1)', async () => {
    const body = await codeFlow(server, alice, web);
    const withScope = await postForm(
      server,
      '/o/token/',
      { grant_type: 'client_credentials', scope: 'introspection' },
      resourceServer,
    );
    const res = await postForm(server, '/o/introspect/', { token: body.access_token as string }, undefined, {
      Authorization: `Bearer ${withScope.json.access_token}`,
    });
    expect(res.json.active).toBe(true);
    const withoutScope = await postForm(
      server,
      '/o/token/',
      { grant_type: 'client_credentials', scope: 'read' },
      other,
    );
    const refused = await postForm(
      server,
      '/o/introspect/',
      { token: body.access_token as string },
      undefined,
      {
        Authorization: `Bearer ${withoutScope.json.access_token}`,
      },
    );
    expect(refused.status).toBe(403);
    expect(refused.json.error).toBe('insufficient_scope');
    const bogus = await postForm(
      server,
      '/o/introspect/',
      { token: body.access_token as string },
      undefined,
      {
        Authorization: 'Bearer lk_at_bogus',
      },
    );
    expect(bogus.status).toBe(401);
    expect(bogus.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it("§4: a client sees its own tokens; other clients' tokens only with the introspection scope", async () => {
    const own = await postForm(
      server,
      '/o/token/',
      { grant_type: 'client_credentials', scope: 'read' },
      other,
    );
    expect((await introspect(own.json.access_token as string, other)).json.active).toBe(true);
    const body = await codeFlow(server, alice, web);
    expect((await introspect(body.access_token as string, other)).json).toEqual({ active: false });
    expect((await introspect(body.access_token as string, resourceServer)).json.active).toBe(true);
  });

  it('§2.2: refresh tokens can be introspected too', async () => {
    const body = await codeFlow(server, alice, web);
    const res = await introspect(body.refresh_token as string);
    expect(res.json).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      username: 'alice',
      client_id: web.clientId,
    });
  });

  it("a disabled user's tokens are inactive", async () => {
    const { updateUser } = await import('../../src/services/users.js');
    const carol = await createUser(server.cli(), { username: 'carol', password: 'carol-pass' });
    const agent = new Agent(server.url);
    await agent.login('carol', 'carol-pass');
    const body = await codeFlow(server, agent, web);
    await updateUser(server.cli(), carol.id, { isActive: false });
    expect((await introspect(body.access_token as string)).json.active).toBe(false);
  });
});
