import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpired } from '../../src/services/cleanup.js';
import {
  createInitialAccessToken,
  revokeInitialAccessToken,
} from '../../src/services/initial-access-tokens.js';
import { createUser } from '../../src/services/users.js';
import { type Auth, codeOf, gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { remember } from '../helpers/ledger.js';
import { codeFlow, postForm } from '../helpers/oauth.js';
import { runCli } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * RFC 7591 dynamic client registration and RFC 7592 management at /o/register/, under the three
 * DYNAMIC_REGISTRATION policies, against real servers on PostgreSQL.
 */

let open: TestServer;
let tokenServer: TestServer;
let limited: TestServer;
let off: TestServer;

type Json = Record<string, unknown>;

async function register(
  server: TestServer,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Json; text: string }> {
  const res = await fetch(new URL('/o/register/', server.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // not JSON: the assertion on the status says what went wrong
  }
  remember('client_secret', json.client_secret);
  remember('registration_access_token', json.registration_access_token);
  return { status: res.status, headers: res.headers, json, text };
}

async function manage(server: TestServer, uri: string, method: string, token: string, body?: unknown) {
  const res = await fetch(new URL(uri, server.url), {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Json) : {} };
}

const CALLBACK = 'https://mcp-client.example/callback';
const publicClient = {
  client_name: 'MCP desktop agent',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
};
const confidentialClient = {
  client_name: 'MCP web client',
  redirect_uris: [CALLBACK],
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'openid read',
};

let admin: Auth;
let user: Auth;

beforeAll(async () => {
  const many = { DYNAMIC_REGISTRATION_MAX_PER_HOUR: '1000' };
  [open, tokenServer, limited, off] = await Promise.all([
    startTestServer({ env: { DYNAMIC_REGISTRATION: 'open', ...many } }),
    startTestServer({ env: { DYNAMIC_REGISTRATION: 'token', ...many } }),
    startTestServer({ env: { DYNAMIC_REGISTRATION: 'open', DYNAMIC_REGISTRATION_MAX_PER_HOUR: '3' } }),
    startTestServer(),
  ]);
  await createUser(open.cli(), { username: 'root', password: 'root-password', isAdmin: true });
  await createUser(open.cli(), { username: 'alice', password: 'alice-password' });
  const session = async (u: string, p: string) => {
    const agent = new Agent(open.url);
    await agent.login(u, p);
    return { cookie: agent.cookieHeader() };
  };
  [admin, user] = await Promise.all([session('root', 'root-password'), session('alice', 'alice-password')]);
});

afterAll(async () => {
  await Promise.all([open, tokenServer, limited, off].filter(Boolean).map((s) => s.stop()));
});

/** Alice logs in and runs a PKCE code flow with a registered public client (RFC 6749 §4.1). */
async function aliceCodeFlow(clientId: string, redirectUri: string) {
  const agent = new Agent(open.url);
  await agent.login('alice', 'alice-password');
  const tokens = await codeFlow(open, agent, { id: '', clientId, clientSecret: null, redirectUri });
  return { agent, tokens };
}

describe('RFC 7591 dynamic registration, DYNAMIC_REGISTRATION=open', () => {
  it('RFC 8414 §2 / RFC 7591 §3: registration_endpoint is advertised; a public native client registers (RFC 7591 §3.2.1 response) and completes a PKCE code flow with a loopback redirect on another port (RFC 8252 §7.3)', async () => {
    const meta = (await (
      await fetch(new URL('/.well-known/oauth-authorization-server', open.url))
    ).json()) as Json;
    expect(meta.registration_endpoint).toBe(`${open.url.replace(/\/$/, '')}/o/register/`);

    const res = await register(open, publicClient);
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json).toMatchObject({
      client_name: 'MCP desktop agent',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    expect(res.json.client_secret).toBeUndefined();
    expect(typeof res.json.client_id_issued_at).toBe('number');
    expect(res.json.registration_client_uri).toMatch(/\/o\/register\/[\w-]+$/);
    expect(res.json.registration_access_token).toMatch(/^lk_ra_/);
    // Privileged scopes are not given by default.
    expect(String(res.json.scope).split(' ')).not.toContain('graphql');

    const { tokens } = await aliceCodeFlow(res.json.client_id as string, 'http://127.0.0.1:54321/callback');
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('RFC 7591 §3.2.1: a confidential client gets a client_secret (client_secret_expires_at 0) that works at the token endpoint (client_credentials and a code flow)', async () => {
    const res = await register(open, confidentialClient);
    expect(res.status).toBe(201);
    expect(res.json.client_secret).toMatch(/^lk_cs_/);
    expect(res.json.client_secret_expires_at).toBe(0);
    expect(res.json.scope).toBe('openid read');
    const client = { clientId: res.json.client_id as string, clientSecret: res.json.client_secret as string };
    const cc = await postForm(open, '/o/token/', { grant_type: 'client_credentials', scope: 'read' }, client);
    expect(cc.status).toBe(200);
    const agent = new Agent(open.url);
    await agent.login('alice', 'alice-password');
    const tokens = await codeFlow(
      open,
      agent,
      { id: '', ...client, redirectUri: CALLBACK },
      { scope: 'openid' },
    );
    expect(tokens.id_token).toBeTruthy();
  });

  it('RFC 7591 §3.2.2: malformed bodies are invalid_client_metadata (bad JSON, an array, a wrong type), bad redirect URIs invalid_redirect_uri, both 400 JSON; an oversized body is 413 JSON', async () => {
    for (const body of ['{not json', '[]', '"x"', '']) {
      const res = await register(open, body);
      expect(res.status, body).toBe(400);
      expect(res.json.error, body).toBe('invalid_client_metadata');
    }
    expect((await register(open, { ...publicClient, client_name: 42 })).json.error).toBe(
      'invalid_client_metadata',
    );
    for (const redirect_uris of [
      ['https://app.example/cb#fragment'],
      ['http://app.example/cb'],
      ['javascript:alert(1)'],
      'https://app.example/cb',
      [7],
      [],
    ]) {
      const res = await register(open, { ...publicClient, redirect_uris });
      expect(res.status, JSON.stringify(redirect_uris)).toBe(400);
      expect(res.json.error, JSON.stringify(redirect_uris)).toBe('invalid_redirect_uri');
    }
    // NUL bytes and other control characters never reach the database as a 500.
    for (const body of [
      { ...publicClient, client_name: 'a\u0000b' },
      { ...publicClient, redirect_uris: ['https://app.example/\u0000cb'] },
      { ...publicClient, scope: 'read\u0000' },
      { ...publicClient, grant_types: ['authorization_code\u0000'] },
      { ...publicClient, token_endpoint_auth_method: 'none\u0000' },
    ]) {
      const res = await register(open, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(['invalid_client_metadata', 'invalid_redirect_uri']).toContain(res.json.error);
    }
    const big = await register(open, { ...publicClient, client_name: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.json.error).toBe('invalid_request');
  });

  it('RFC 7591 §3.2.2 / RFC 9700 §2.4: what a dynamically registered client may ask for is bounded — password, implicit, device grants, response_type token, privileged or admin-only scopes and client_credentials without a secret are refused with invalid_client_metadata (not silently dropped)', async () => {
    const refused: Json[] = [
      { ...publicClient, grant_types: ['password'] },
      { ...publicClient, grant_types: ['implicit'], response_types: ['token'] },
      { ...publicClient, response_types: ['code', 'token'] },
      { ...publicClient, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: [] },
      { ...publicClient, grant_types: ['client_credentials'], response_types: [] },
      { ...publicClient, grant_types: ['no_such_grant'] },
      { ...publicClient, scope: 'read graphql' },
      { ...confidentialClient, scope: 'introspection' },
      { ...publicClient, scope: 'no-such-scope' },
      { ...publicClient, token_endpoint_auth_method: 'private_key_jwt' },
      { ...publicClient, grant_types: ['refresh_token'], response_types: ['code'] },
    ];
    for (const body of refused) {
      const res = await register(open, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error, JSON.stringify(body)).toBe('invalid_client_metadata');
    }
    // No RFC 7591 member reaches skip_authorization; Latchkey's own names are not read either.
    const res = await register(open, { ...publicClient, skip_authorization: true, skipAuthorization: true });
    expect(res.status).toBe(201);
    const rows = await open.runtime.db.sql.query<{ skip_authorization: boolean; owner_id: string | null }>(
      'select skip_authorization, owner_id from applications where client_id = $1',
      [res.json.client_id],
    );
    expect(rows[0]).toEqual({ skip_authorization: false, owner_id: null });
  });

  it('RFC 7592 §2: the registration access token reads, replaces (through the same validation) and deletes its registration; a wrong token or another client’s is 401 invalid_token (RFC 6750 §3.1)', async () => {
    const a = await register(open, confidentialClient);
    const b = await register(open, publicClient);
    const uri = a.json.registration_client_uri as string;
    const token = a.json.registration_access_token as string;

    const read = await manage(open, uri, 'GET', token);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ client_id: a.json.client_id, client_name: 'MCP web client' });
    expect(read.json.client_secret).toBeUndefined();

    for (const wrong of [
      'lk_ra_wrong',
      b.json.registration_access_token as string,
      a.json.client_secret as string,
    ]) {
      const res = await manage(open, uri, 'GET', wrong);
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_token');
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
      expect((await manage(open, uri, 'DELETE', wrong)).status).toBe(401);
    }
    expect((await manage(open, '/o/register/unknown-client', 'GET', token)).status).toBe(401);

    const replaced = await manage(open, uri, 'PUT', token, {
      ...confidentialClient,
      client_id: a.json.client_id,
      client_name: 'Renamed',
      redirect_uris: ['https://mcp-client.example/other'],
    });
    expect(replaced.status).toBe(200);
    expect(replaced.json).toMatchObject({
      client_name: 'Renamed',
      redirect_uris: ['https://mcp-client.example/other'],
    });
    const bounded = await manage(open, uri, 'PUT', token, {
      ...confidentialClient,
      client_id: a.json.client_id,
      scope: 'graphql',
    });
    expect(bounded.status).toBe(400);
    expect(bounded.json.error).toBe('invalid_client_metadata');
    const badUri = await manage(open, uri, 'PUT', token, {
      ...confidentialClient,
      client_id: a.json.client_id,
      redirect_uris: ['http://evil.example/cb'],
    });
    expect(badUri.json.error).toBe('invalid_redirect_uri');
    const otherId = await manage(open, uri, 'PUT', token, {
      ...confidentialClient,
      client_id: b.json.client_id,
    });
    expect(otherId.status).toBe(400);

    expect((await manage(open, uri, 'DELETE', token)).status).toBe(204);
    expect((await manage(open, uri, 'GET', token)).status).toBe(401);
    const cc = await postForm(
      open,
      '/o/token/',
      { grant_type: 'client_credentials' },
      { clientId: a.json.client_id as string, clientSecret: a.json.client_secret as string },
    );
    expect(cc.status).toBe(401);
    // b is untouched by a's token.
    expect(
      (
        await manage(
          open,
          b.json.registration_client_uri as string,
          'GET',
          b.json.registration_access_token as string,
        )
      ).status,
    ).toBe(200);
  });

  it('Issue 15: dynamically registered applications are visible to admins in GraphQL as such, with no owner; a user does not see them', async () => {
    const res = await register(open, { ...publicClient, client_name: 'Visible to admins' });
    const q = `{ applications(first: 100, filter: { name: "Visible to admins" }) { edges { node { clientId dynamicallyRegistered owner { username } } } } }`;
    const asAdmin = await gql(open, admin, q);
    expect(asAdmin.errors).toBeUndefined();
    const nodes = (asAdmin.data!.applications as { edges: { node: Json }[] }).edges.map((e) => e.node);
    expect(nodes).toEqual([{ clientId: res.json.client_id, dynamicallyRegistered: true, owner: null }]);
    const asUser = await gql(open, user, q);
    expect((asUser.data!.applications as { edges: unknown[] }).edges).toEqual([]);
  });

  it('Issue 15: the consent page says a dynamically registered client is vouched for by nobody, and the admin’s /o/applications/ pages mark it as dynamically registered with no owner', async () => {
    const res = await register(open, { ...publicClient, client_name: 'Marked on pages' });
    const agent = new Agent(open.url);
    await agent.login('alice', 'alice-password');
    const consent = await agent.get(
      `/o/authorize/?response_type=code&client_id=${res.json.client_id}&redirect_uri=${encodeURIComponent('http://127.0.0.1/callback')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
    );
    expect(consent.status).toBe(200);
    expect(consent.text).toContain('Registered dynamically');
    const adminAgent = new Agent(open.url);
    await adminAgent.login('root', 'root-password');
    const list = await adminAgent.get('/o/applications/');
    expect(list.status).toBe(200);
    expect(list.text).toMatch(/Marked on pages<\/a> <span class="tag">dynamically registered<\/span>/);
    const id = (
      await open.runtime.db.sql.query<{ id: string }>('select id from applications where client_id = $1', [
        res.json.client_id,
      ])
    )[0].id;
    const detail = await adminAgent.get(`/o/applications/${id}/`);
    expect(detail.status).toBe(200);
    expect(detail.text).toContain('dynamically registered');
  });

  it('RFC 7591 §2 / §3.2.1: client_uri, logo_uri and contacts are stored and returned (and by RFC 7592 §2.1 reads); the consent page shows the logo marked unverified; bad values are invalid_client_metadata; a replacement without them clears them (RFC 7592 §2.2); admins see them in GraphQL', async () => {
    const presented = {
      ...publicClient,
      client_name: 'Presentation metadata',
      client_uri: 'https://agent.example/',
      logo_uri: 'https://cdn.agent.example/logo.png',
      contacts: ['ops@agent.example', 'security@agent.example'],
    };
    const res = await register(open, presented);
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      client_uri: presented.client_uri,
      logo_uri: presented.logo_uri,
      contacts: presented.contacts,
    });
    const token = res.json.registration_access_token as string;
    const uri = res.json.registration_client_uri as string;
    const read = await manage(open, uri, 'GET', token);
    expect(read.json).toMatchObject({ logo_uri: presented.logo_uri, contacts: presented.contacts });

    const agent = new Agent(open.url);
    await agent.login('alice', 'alice-password');
    const consent = await agent.get(
      `/o/authorize/?response_type=code&client_id=${res.json.client_id}&redirect_uri=${encodeURIComponent('http://127.0.0.1/callback')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
    );
    expect(consent.status).toBe(200);
    expect(consent.text).toContain('src="https://cdn.agent.example/logo.png"');
    expect(consent.text).toMatch(
      /Its logo comes from the application itself <span class="tag">unverified<\/span>/,
    );
    expect(consent.headers.get('content-security-policy')).toContain(
      "img-src 'self' https://cdn.agent.example",
    );

    const listed = await gql(
      open,
      admin,
      '{ applications(first: 10, filter: { name: "Presentation metadata" }) { edges { node { clientId clientUri logoUri contacts } } } }',
    );
    expect(listed.errors).toBeUndefined();
    const nodes = (listed.data!.applications as { edges: { node: Json }[] }).edges.map((e) => e.node);
    expect(nodes.find((a) => a.clientId === res.json.client_id)).toEqual({
      clientId: res.json.client_id,
      clientUri: presented.client_uri,
      logoUri: presented.logo_uri,
      contacts: presented.contacts,
    });

    for (const bad of [
      { logo_uri: 'javascript:alert(1)' },
      { logo_uri: 'http://agent.example/logo.png' },
      { client_uri: 'https://user:pw@agent.example/' },
      { contacts: ['a@x', 'b@x', 'c@x', 'd@x', 'e@x', 'f@x'] },
      { contacts: ['line\nbreak@agent.example'] },
      { contacts: 'ops@agent.example' },
    ]) {
      const refused = await register(open, { ...publicClient, ...bad });
      expect(refused.status, JSON.stringify(bad)).toBe(400);
      expect(refused.json.error).toBe('invalid_client_metadata');
    }

    const { client_uri: _c, logo_uri: _l, contacts: _k, ...without } = presented;
    const replaced = await manage(open, uri, 'PUT', token, { ...without, client_id: res.json.client_id });
    expect(replaced.status).toBe(200);
    expect(replaced.json).not.toHaveProperty('logo_uri');
    expect(replaced.json).not.toHaveProperty('contacts');
    expect(replaced.json).not.toHaveProperty('client_uri');
  });

  it('Fetch Standard CORS: /o/register/ answers any origin without credentials (preflight and responses, errors included), since a browser-based client registers before any origin is known; the registered redirect origins may then call the token endpoint for that client, and no other origin may', async () => {
    const origin = 'https://inspector.example';
    const preflight = await fetch(new URL('/o/register/', open.url), {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type/i);
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();

    const ok = await register(open, confidentialClient, { Origin: origin });
    expect(ok.status).toBe(201);
    expect(ok.headers.get('access-control-allow-origin')).toBe('*');
    expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
    const refused = await register(open, '[]', { Origin: origin });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
    const read = await fetch(new URL(ok.json.registration_client_uri as string), {
      headers: { Origin: origin, Authorization: `Bearer ${ok.json.registration_access_token}` },
    });
    expect(read.status).toBe(200);
    expect(read.headers.get('access-control-allow-origin')).toBe('*');

    const client = { clientId: ok.json.client_id as string, clientSecret: ok.json.client_secret as string };
    const fromRedirectOrigin = await fetch(new URL('/o/token/', open.url), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Origin: new URL(CALLBACK).origin,
        Authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials&scope=read',
    });
    expect(fromRedirectOrigin.status).toBe(200);
    expect(fromRedirectOrigin.headers.get('access-control-allow-origin')).toBe(new URL(CALLBACK).origin);
    const fromElsewhere = await postForm(open, '/o/token/', { grant_type: 'client_credentials' }, client, {
      Origin: origin,
    });
    expect(fromElsewhere.status).toBe(200);
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('Hostile input at RFC 7592 paths: malformed percent-encoding, other methods, a user’s access token or session instead of the registration access token — RFC errors, never a 500', async () => {
    const reg = await register(open, publicClient);
    const token = reg.json.registration_access_token as string;
    for (const path of ['/o/register/%E0%A4%A', `/o/register/${'x'.repeat(5000)}`, '/o/register/%00']) {
      const res = await manage(open, path, 'GET', token);
      expect(res.status, path).toBe(401);
      expect(res.json.error, path).toBe('invalid_token');
    }
    const postOnItem = await fetch(new URL(reg.json.registration_client_uri as string), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(postOnItem.status).toBe(405);
    const patch = await fetch(new URL(reg.json.registration_client_uri as string), { method: 'PATCH' });
    expect(patch.status).toBe(405);
    expect(((await patch.json()) as Json).error).toBe('invalid_request');
    // Alice's own access token is not a registration access token.
    const { agent, tokens } = await aliceCodeFlow(reg.json.client_id as string, 'http://127.0.0.1/callback');
    const withAccessToken = await manage(
      open,
      reg.json.registration_client_uri as string,
      'DELETE',
      tokens.access_token as string,
    );
    expect(withAccessToken.status).toBe(401);
    const withCookie = await fetch(new URL(reg.json.registration_client_uri as string), {
      method: 'DELETE',
      headers: { Cookie: agent.cookieHeader() },
    });
    expect(withCookie.status).toBe(401);
    expect((await manage(open, reg.json.registration_client_uri as string, 'GET', token)).status).toBe(200);
  });

  it('Issue 15: the cleanup deletes a dynamic registration never used within DYNAMIC_REGISTRATION_ABANDONED_AFTER, and keeps a used one and any ordinary application', async () => {
    const unused = await register(open, { ...confidentialClient, client_name: 'Abandoned' });
    const used = await register(open, { ...confidentialClient, client_name: 'Used' });
    const cc = await postForm(
      open,
      '/o/token/',
      { grant_type: 'client_credentials' },
      { clientId: used.json.client_id as string, clientSecret: used.json.client_secret as string },
    );
    expect(cc.status).toBe(200);
    const sql = open.runtime.db.sql;
    // The used client's token expired long ago and is swept in the same run: still "used".
    await sql.execute(
      `update access_tokens set expires_at = now() - interval '1 hour'
        where application_id = (select id from applications where client_id = $1)`,
      [used.json.client_id],
    );
    await sql.execute(`update applications set created_at = now() - interval '2 days'`);
    const counts = await deleteExpired(sql, 1000, { abandonedAfter: 86_400 });
    expect(counts.abandoned_registrations).toBeGreaterThanOrEqual(1);
    const left = await sql.query<{ client_id: string }>(
      'select client_id from applications where client_id = any($1)',
      [[unused.json.client_id, used.json.client_id]],
    );
    expect(left.map((r) => r.client_id)).toEqual([used.json.client_id]);
    // Apps registered by people (an owner, no dynamic flag) are never swept.
    const owned = await sql.query<{ n: number }>(
      'select count(*)::int as n from applications where not dynamically_registered',
    );
    const again = await deleteExpired(sql, 1000, { abandonedAfter: 86_400 });
    expect(again.abandoned_registrations).toBe(0);
    expect(
      (
        await sql.query<{ n: number }>(
          'select count(*)::int as n from applications where not dynamically_registered',
        )
      )[0].n,
    ).toBe(owned[0].n);
  });
});

describe('DYNAMIC_REGISTRATION=token: initial access tokens (RFC 7591 §3)', () => {
  it('RFC 7591 §3 / RFC 6750 §3.1: a missing, wrong, expired, revoked or used-up initial access token is 401 invalid_token; a valid one registers', async () => {
    const cli = tokenServer.cli();
    const missing = await register(tokenServer, publicClient);
    expect(missing.status).toBe(401);
    expect(missing.json.error).toBe('invalid_token');
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await register(tokenServer, publicClient, { Authorization: 'Bearer lk_ia_wrong' })).status).toBe(
      401,
    );

    const expiring = await createInitialAccessToken(cli, { expiresIn: 60 });
    await tokenServer.runtime.db.sql.execute(
      `update initial_access_tokens set expires_at = now() - interval '1 second' where id = $1`,
      [expiring.record.id],
    );
    const revoked = await createInitialAccessToken(cli, {});
    await revokeInitialAccessToken(cli, revoked.record.id);
    const once = await createInitialAccessToken(cli, { uses: 1 });
    const first = await register(tokenServer, publicClient, { Authorization: `Bearer ${once.token}` });
    expect(first.status).toBe(201);
    for (const t of [expiring.token, revoked.token, once.token]) {
      const res = await register(tokenServer, publicClient, { Authorization: `Bearer ${t}` });
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('invalid_token');
    }
  });

  it('RFC 7591 §3: 10 parallel registrations with a one-use initial access token — exactly one succeeds (one conditional UPDATE)', async () => {
    const { token } = await createInitialAccessToken(tokenServer.cli(), { uses: 1 });
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        register(tokenServer, publicClient, { Authorization: `Bearer ${token}` }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(9);
  });

  it('RFC 7591 §3.2.2: a registration refused for its metadata does not use up the initial access token', async () => {
    const { token } = await createInitialAccessToken(tokenServer.cli(), { uses: 1 });
    const bad = await register(
      tokenServer,
      { ...publicClient, grant_types: ['password'] },
      { Authorization: `Bearer ${token}` },
    );
    expect(bad.json.error).toBe('invalid_client_metadata');
    expect((await register(tokenServer, publicClient, { Authorization: `Bearer ${token}` })).status).toBe(
      201,
    );
  });

  it('CLI: create-initial-access-token [--expires-in S] [--uses N] prints {"initial_access_token": …} on its last line, and that token registers once; bad options exit 2', async () => {
    const env = { DATABASE_URL: tokenServer.database!.url };
    const out = await runCli(['create-initial-access-token', '--expires-in', '600', '--uses', '1'], env);
    expect(out.code).toBe(0);
    const printed = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Json;
    expect(printed.initial_access_token).toMatch(/^lk_ia_/);
    remember('initial_access_token', printed.initial_access_token);
    const auth = { Authorization: `Bearer ${printed.initial_access_token}` };
    expect((await register(tokenServer, publicClient, auth)).status).toBe(201);
    expect((await register(tokenServer, publicClient, auth)).status).toBe(401);
    const bad = await runCli(['create-initial-access-token', '--uses', '0'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('error: --uses must be a whole number of at least 1');
  });

  it('GraphQL: createInitialAccessToken returns the token once, initialAccessTokens lists metadata only, revokeInitialAccessToken stops it — all admins only (FORBIDDEN for a user, UNAUTHENTICATED anonymous)', async () => {
    // These GraphQL calls go to the open server's API (its admin); the token table is the same code.
    const create =
      'mutation { createInitialAccessToken(input: { uses: 2, expiresIn: 3600 }) { token initialAccessToken { id uses usesLeft expiresAt } } }';
    expect(codeOf(await gql(open, user, create))).toBe('FORBIDDEN');
    expect(codeOf(await gql(open, null, create))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(open, user, '{ initialAccessTokens { id } }'))).toBe('FORBIDDEN');
    const created = await gql(open, admin, create);
    expect(created.errors).toBeUndefined();
    const payload = created.data?.createInitialAccessToken as { token: string; initialAccessToken: Json };
    remember('initial_access_token', payload.token);
    expect(payload.token).toMatch(/^lk_ia_/);
    expect(payload.initialAccessToken).toMatchObject({ uses: 2, usesLeft: 2 });
    const listed = await gql(open, admin, '{ initialAccessTokens { id uses usesLeft revokedAt createdBy } }');
    const rows = listed.data?.initialAccessTokens as Json[];
    expect(rows.find((r) => r.id === payload.initialAccessToken.id)).toMatchObject({
      createdBy: 'root',
      revokedAt: null,
    });
    expect(JSON.stringify(listed)).not.toContain(payload.token);
    const revoke = `mutation { revokeInitialAccessToken(id: "${payload.initialAccessToken.id}") { id revokedAt } }`;
    expect(codeOf(await gql(open, user, revoke))).toBe('FORBIDDEN');
    const revoked = await gql(open, admin, revoke);
    expect((revoked.data!.revokeInitialAccessToken as Json).revokedAt).toBeTruthy();
  });
});

describe('Registration limits and the off policy', () => {
  it('Issue 15 / OWASP ASVS V2.2.1: registrations are rate-limited per address — past DYNAMIC_REGISTRATION_MAX_PER_HOUR, 429 with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await register(limited, publicClient)).status);
    expect(statuses).toEqual([201, 201, 201]);
    const over = await register(limited, publicClient);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.json.error).toBe('invalid_request');
  });

  it('DYNAMIC_REGISTRATION=off (the default): no registration_endpoint in RFC 8414 / OIDC discovery, and /o/register/ is 404', async () => {
    for (const doc of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const meta = (await (await fetch(new URL(doc, off.url))).json()) as Json;
      expect(meta.registration_endpoint).toBeUndefined();
    }
    const res = await register(off, publicClient);
    expect(res.status).toBe(404);
  });
});
