import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource } from '../../src/services/resources.js';
import { type Auth, codeOf, gql } from '../helpers/graphql.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { withStatements } from '../helpers/statements.js';

/**
 * RFC 8707 resource indicators: a token requested for a resource is for it alone (JWT `aud`,
 * introspection `aud`), only registered resources are accepted, a refresh narrows to one of
 * the granted resources and never widens.
 */

const R1 = 'https://mcp.example.com/one';
const R2 = 'https://mcp.example.com/two';
const R3 = 'https://mcp.example.com/three';
const RJ = 'https://jwt.example.com/api';
const RW = 'https://write.example.com/';

let server: TestServer;
let machine: TestClient;
let web: TestClient;
let agent: Agent;

beforeAll(async () => {
  server = await startTestServer();
  const cli = server.cli();
  await createResource(cli, { identifier: R1, name: 'First MCP server', scopes: ['read', 'write'] });
  await createResource(cli, { identifier: R2, name: 'Second MCP server', scopes: ['read', 'write'] });
  await createResource(cli, { identifier: R3, name: 'Third MCP server' });
  await createResource(cli, {
    identifier: RJ,
    name: 'JWT API',
    scopes: ['read'],
    accessTokenFormat: 'jwt',
    accessTokenTtl: 120,
  });
  await createResource(cli, { identifier: RW, name: 'Write-only API', scopes: ['write'] });
  machine = await makeClient(server, {
    grantTypes: ['client_credentials'],
    redirectUris: [],
    scopes: ['read', 'write', 'introspection'],
  });
  web = await makeClient(server, {
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['read', 'write'],
  });
  const { createUser } = await import('../../src/services/users.js');
  await createUser(cli, { username: 'rita', password: 'rita-password' });
  agent = new Agent(server.url);
  await agent.login('rita', 'rita-password');
});
afterAll(() => server?.stop());

const cc = (form: Record<string, string>) =>
  postForm(server, '/o/token/', { grant_type: 'client_credentials', ...form }, machine);

/** POSTs a raw body (for repeated parameters) with the machine client's Basic auth. */
async function postRaw(path: string, body: string, client: TestClient) {
  const { basic } = await import('../helpers/http.js');
  const res = await fetch(new URL(path, server.url), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basic(client.clientId, client.clientSecret!),
    },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

async function introspect(token: string) {
  return (await postForm(server, '/o/introspect/', { token }, machine)).json;
}

/** RFC 8707 §2 at the token endpoint: a refresh of `refreshToken` asking for one `resource`. */
const refreshFor = (refreshToken: unknown, resource: string) =>
  postForm(
    server,
    '/o/token/',
    { grant_type: 'refresh_token', refresh_token: String(refreshToken), resource },
    web,
  );

describe('client_credentials with resource (RFC 8707 §2)', () => {
  it('RFC 8707 §2: an unregistered resource is invalid_target', async () => {
    const res = await cc({ resource: 'https://unknown.example.com/' });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_target');
  });

  it('RFC 8707 §2: a relative resource or one with a fragment is invalid_target', async () => {
    for (const resource of ['/relative/path', 'mcp.example.com/one', `${R1}#frag`, 'https://a b.example/']) {
      const res = await cc({ resource });
      expect(res.status, resource).toBe(400);
      expect(res.json.error, resource).toBe('invalid_target');
    }
    const huge = await cc({ resource: `https://x.example/${'a'.repeat(5000)}` });
    expect(huge.json.error).toBe('invalid_target');
  });

  it('RFC 8707 §2: two resources for one access token are refused (one token, one audience)', async () => {
    const body = new URLSearchParams([
      ['grant_type', 'client_credentials'],
      ['resource', R1],
      ['resource', R2],
    ]).toString();
    const res = await postRaw('/o/token/', body, machine);
    expect(res.status).toBe(400);
    expect(res.json.error).toBe('invalid_target');
  });

  it('RFC 8707 §2 / RFC 9068 §3: a JWT resource gets a JWT whose aud is the resource, with its lifetime', async () => {
    const res = await cc({ resource: RJ, scope: 'read' });
    expect(res.status).toBe(200);
    expect(res.json.expires_in).toBe(120);
    const token = String(res.json.access_token);
    expect(token.split('.')).toHaveLength(3);
    const claims = jwtPayload(token);
    expect(claims.aud).toBe(RJ);
    expect((claims.exp as number) - (claims.iat as number)).toBe(120);
    expect((await introspect(token)).aud).toBe(RJ);
  });

  it('RFC 7662 §2.2: introspection names the resource of an opaque token, and none without resource', async () => {
    const res = await cc({ resource: R1, scope: 'read' });
    expect(res.status).toBe(200);
    const info = await introspect(String(res.json.access_token));
    expect(info.active).toBe(true);
    expect(info.aud).toBe(R1);
    const plain = await cc({ scope: 'read' });
    const before = await introspect(String(plain.json.access_token));
    expect(before.active).toBe(true);
    expect(before.aud).toBeUndefined();
  });

  it("RFC 8707 §2.2: the resource's accepted scopes bound the token (invalid_scope beyond them)", async () => {
    const refused = await cc({ resource: RJ, scope: 'write' });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe('invalid_scope');
    // Without a scope parameter the defaults are narrowed to what the resource accepts.
    const narrowed = await cc({ resource: RW });
    expect(narrowed.status).toBe(200);
    expect(narrowed.json.scope).toBe('write');
  });

  it('RFC 8707: parallel requests for a resource not yet cached all get tokens for it (and malformed ones all invalid_target, never a 500)', async () => {
    const id = 'https://parallel.example.com/';
    await createResource(server.cli(), { identifier: id, name: 'Parallel', scopes: ['read'] });
    const results = await Promise.all(Array.from({ length: 20 }, () => cc({ resource: id })));
    for (const r of results) expect(r.status, r.text).toBe(200);
    const infos = await Promise.all(results.map((r) => introspect(String(r.json.access_token))));
    for (const info of infos) expect(info.aud).toBe(id);
    const hostile = await Promise.all(
      ['%00', 'javascript:alert(1)#x', 'https://x/\u0007', `${id}#`, ' ', 'x'.repeat(3000)].map((resource) =>
        cc({ resource }),
      ),
    );
    for (const r of hostile) {
      expect(r.status).toBeLessThan(500);
      expect(['invalid_target', 'invalid_request']).toContain(r.json.error);
    }
  });

  it('RFC 8707: a resource registered after a miss is found at once (the cache drops the miss)', async () => {
    const id = 'https://late.example.com/';
    expect((await cc({ resource: id })).json.error).toBe('invalid_target');
    await createResource(server.cli(), { identifier: id, name: 'Late' });
    expect((await cc({ resource: id, scope: 'read' })).status).toBe(200);
  });
});

/** The authorization URL with several `resource` parameters. */
function authorizeUrl(resources: string[], challenge: string, scope = 'read'): string {
  const q = new URLSearchParams([
    ['response_type', 'code'],
    ['client_id', web.clientId],
    ['redirect_uri', web.redirectUri],
    ['scope', scope],
    ['state', 's'],
    ['code_challenge', challenge],
    ['code_challenge_method', 'S256'],
    ...resources.map((r) => ['resource', r] as [string, string]),
  ]);
  return `/o/authorize/?${q.toString()}`;
}

async function consentAndCode(
  resources: string[],
): Promise<{ code: string; verifier: string; page: string }> {
  const { verifier, challenge } = pkce();
  const page = await agent.get(authorizeUrl(resources, challenge));
  // An earlier consent that covers the scopes and resources skips the page.
  const res =
    page.status === 302
      ? page
      : await agent.post('/o/authorize/', { ...hiddenInputs(page.text, '/o/authorize/'), allow: 'Allow' });
  expect(res.status).toBe(302);
  const code = new URL(res.location!, server.url).searchParams.get('code');
  if (!code) throw new Error(`no code: ${res.location}`);
  return { code, verifier, page: page.text };
}

describe('code flow with resources (RFC 8707 §2.1, §2.2)', () => {
  it('RFC 8707 §2.1: the consent page names every resource asked for', async () => {
    const { challenge } = pkce();
    const page = await agent.get(authorizeUrl([R1, R2], challenge));
    expect(page.status).toBe(200);
    expect(page.text).toContain('First MCP server');
    expect(page.text).toContain(R1);
    expect(page.text).toContain('Second MCP server');
    expect(page.text).toContain(R2);
  });

  it('RFC 8707 §2: an unknown resource at the authorization endpoint is invalid_target at the redirect URI', async () => {
    const { challenge } = pkce();
    const res = await agent.get(authorizeUrl([R1, 'https://nope.example.com/'], challenge));
    expect(res.status).toBe(302);
    const back = new URL(res.location!);
    expect(back.origin + back.pathname).toBe(web.redirectUri);
    expect(back.searchParams.get('error')).toBe('invalid_target');
    const fragment = await agent.get(authorizeUrl([`${R1}#x`], challenge));
    expect(new URL(fragment.location!).searchParams.get('error')).toBe('invalid_target');
  });

  it('RFC 8707 §2.2: the scopes must be ones each requested resource accepts', async () => {
    const { challenge } = pkce();
    const res = await agent.get(authorizeUrl([R1, RW], challenge, 'read'));
    expect(res.status).toBe(302);
    expect(new URL(res.location!).searchParams.get('error')).toBe('invalid_scope');
  });

  it('RFC 8707 §2.2: two resources authorized → a token for one, a refresh narrowing to the other, widening refused', async () => {
    const { code, verifier } = await consentAndCode([R1, R2]);
    const token = await postForm(
      server,
      '/o/token/',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
        resource: R1,
      },
      web,
    );
    expect(token.status, token.text).toBe(200);
    expect((await introspect(String(token.json.access_token))).aud).toBe(R1);

    const toR2 = await refreshFor(token.json.refresh_token, R2);
    expect(toR2.status, toR2.text).toBe(200);
    expect((await introspect(String(toR2.json.access_token))).aud).toBe(R2);

    // The successor still holds both: back to R1 works, R3 (registered, not granted) does not.
    const widen = await refreshFor(toR2.json.refresh_token, R3);
    expect(widen.status).toBe(400);
    expect(widen.json.error).toBe('invalid_target');
    const back = await refreshFor(toR2.json.refresh_token, R1);
    expect(back.status, back.text).toBe(200);
    expect((await introspect(String(back.json.access_token))).aud).toBe(R1);
  });

  it('RFC 8707 §2.2: the code redeems only for a resource the authorization request named', async () => {
    const { code, verifier } = await consentAndCode([R1]);
    const redeem = (resource?: string) =>
      postForm(
        server,
        '/o/token/',
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: web.redirectUri,
          code_verifier: verifier,
          ...(resource ? { resource } : {}),
        },
        web,
      );
    const other = await redeem(R3);
    expect(other.status).toBe(400);
    expect(other.json.error).toBe('invalid_target');
    // The refused attempt did not consume the code.
    const ok = await redeem(R1);
    expect(ok.status, ok.text).toBe(200);
  });

  it('RFC 8707: without resource anywhere, the flow is unchanged (no aud in introspection)', async () => {
    const { code, verifier } = await consentAndCode([]);
    const token = await postForm(
      server,
      '/o/token/',
      { grant_type: 'authorization_code', code, redirect_uri: web.redirectUri, code_verifier: verifier },
      web,
    );
    expect(token.status).toBe(200);
    expect((await introspect(String(token.json.access_token))).aud).toBeUndefined();
    const refused = await refreshFor(token.json.refresh_token, R1);
    expect(refused.json.error).toBe('invalid_target');
  });
});

describe('a token for a resource is for it alone (RFC 8707 §1: audience restriction)', () => {
  it("RFC 8707 §2 / RFC 9068 §4: Latchkey's own APIs (GraphQL, userinfo) refuse a token minted for a resource; the same token without resource works", async () => {
    const app = await makeClient(server, {
      grantTypes: ['authorization_code'],
      scopes: ['read', 'openid', 'graphql'],
    });
    await createResource(server.cli(), { identifier: 'https://any-scope.example/', name: 'Any scope' });
    const flow = async (resources: string[]) => {
      const { verifier, challenge } = pkce();
      const q = new URLSearchParams([
        ['response_type', 'code'],
        ['client_id', app.clientId],
        ['redirect_uri', app.redirectUri],
        ['scope', 'openid graphql'],
        ['code_challenge', challenge],
        ['code_challenge_method', 'S256'],
        ...resources.map((r) => ['resource', r] as [string, string]),
      ]);
      const page = await agent.get(`/o/authorize/?${q.toString()}`);
      const res =
        page.status === 302
          ? page
          : await agent.post('/o/authorize/', {
              ...hiddenInputs(page.text, '/o/authorize/'),
              allow: 'Allow',
            });
      const code = new URL(res.location!, server.url).searchParams.get('code')!;
      const token = await postForm(
        server,
        '/o/token/',
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: app.redirectUri,
          code_verifier: verifier,
          ...(resources[0] ? { resource: resources[0] } : {}),
        },
        app,
      );
      expect(token.status, token.text).toBe(200);
      return String(token.json.access_token);
    };
    const userinfo = (t: string) =>
      fetch(new URL('/o/userinfo/', server.url), { headers: { Authorization: `Bearer ${t}` } });
    const forResource = await flow(['https://any-scope.example/']);
    expect(codeOf(await gql(server, { bearer: forResource }, '{ viewer { username } }'))).toBe(
      'UNAUTHENTICATED',
    );
    expect((await userinfo(forResource)).status).toBe(401);
    const plain = await flow([]);
    expect((await gql(server, { bearer: plain }, '{ viewer { username } }')).data).toEqual({
      viewer: { username: 'rita' },
    });
    expect((await userinfo(plain)).status).toBe(200);
  });

  it('RFC 9068 §3: a code redeemed for a JWT resource gives a JWT with aud = the resource even for an opaque-token application', async () => {
    const { verifier, challenge } = pkce();
    const page = await agent.get(authorizeUrl([RJ], challenge));
    const res =
      page.status === 302
        ? page
        : await agent.post('/o/authorize/', { ...hiddenInputs(page.text, '/o/authorize/'), allow: 'Allow' });
    const code = new URL(res.location!, server.url).searchParams.get('code')!;
    const token = await postForm(
      server,
      '/o/token/',
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
        resource: RJ,
      },
      web,
    );
    expect(token.status, token.text).toBe(200);
    const claims = jwtPayload(String(token.json.access_token));
    expect(claims).toMatchObject({ aud: RJ, scope: 'read', client_id: web.clientId });
    expect(token.json.expires_in).toBe(120);
    const refreshed = await refreshFor(token.json.refresh_token, RJ);
    expect(refreshed.status, refreshed.text).toBe(200);
    expect(jwtPayload(String(refreshed.json.access_token)).aud).toBe(RJ);
  });
});

describe('the hot path with resource (statement counts)', () => {
  it('RFC 8707 / Issue 15: client_credentials with a cached resource is still one statement (the INSERT)', async () => {
    const form = { resource: R1, scope: 'read' };
    await cc(form); // warms the resource cache
    const { result, statements } = await withStatements(server, () => cc(form));
    expect(result.status).toBe(200);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
    expect(statements[0]).toMatch(/insert into access_tokens/);
    // The audience is in the row the one statement wrote.
    expect((await introspect(String(result.json.access_token))).aud).toBe(R1);
  });

  it('RFC 8707 / Issue 15: redeeming a code for a resource (opaque) is still one statement', async () => {
    const { code, verifier } = await consentAndCode([R1, R2]);
    const { result, statements } = await withStatements(server, () =>
      postForm(
        server,
        '/o/token/',
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: web.redirectUri,
          code_verifier: verifier,
          resource: R2,
        },
        web,
      ),
    );
    expect(result.status, result.text).toBe(200);
    expect(statements, statements.join('\n---\n')).toHaveLength(1);
  });
});

describe('device flow with resource (RFC 8628 + RFC 8707)', () => {
  it('RFC 8707 §2: the device authorization request names the resource; the token is for it, another is invalid_target', async () => {
    const device = await makeClient(server, {
      grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
      redirectUris: [],
      scopes: ['read'],
    });
    const unknown = await postForm(
      server,
      '/o/device_authorization/',
      { resource: 'https://no.example/' },
      device,
    );
    expect(unknown.json.error).toBe('invalid_target');
    const start = await postForm(server, '/o/device_authorization/', { resource: R1, scope: 'read' }, device);
    expect(start.status, start.text).toBe(200);
    const consent = await agent.submitForm(
      '/o/device/',
      { user_code: String(start.json.user_code) },
      '/o/device/',
    );
    expect(consent.status).toBe(200);
    expect(consent.text).toContain('First MCP server');
    const approve = await agent.post('/o/device/confirm/', {
      ...hiddenInputs(consent.text, '/o/device/confirm/'),
      allow: 'Allow',
    });
    expect(approve.text).toContain('Device connected');
    const poll = (resource?: string) =>
      postForm(
        server,
        '/o/token/',
        {
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          device_code: String(start.json.device_code),
          ...(resource ? { resource } : {}),
        },
        device,
      );
    const wrong = await poll(R2);
    expect(wrong.json.error).toBe('invalid_target');
    const ok = await poll(R1);
    expect(ok.status, ok.text).toBe(200);
    expect((await introspect(String(ok.json.access_token))).aud).toBe(R1);
  });
});

describe('GraphQL resources (admins only)', () => {
  const FIELDS = 'id identifier name scopes accessTokenFormat accessTokenTtl';
  async function sessionOf(username: string, password: string, isAdmin: boolean): Promise<Auth> {
    const { createUser } = await import('../../src/services/users.js');
    await createUser(server.cli(), { username, password, isAdmin });
    const a = new Agent(server.url);
    await a.login(username, password);
    return { cookie: a.cookieHeader() };
  }

  it('RFC 8707 registration: an admin creates, lists, updates and deletes a resource; invalid identifiers are BAD_USER_INPUT', async () => {
    const admin = await sessionOf('gqladmin', 'gqladmin-password', true);
    const created = await gql(
      server,
      admin,
      `mutation($i: CreateResourceInput!) { createResource(input: $i) { ${FIELDS} } }`,
      {
        i: {
          identifier: 'https://gql.example.com/mcp',
          name: 'GQL',
          scopes: ['read'],
          accessTokenFormat: 'JWT',
        },
      },
    );
    expect(created.errors).toBeUndefined();
    const r = created.data!.createResource as Record<string, unknown>;
    expect(r).toMatchObject({
      identifier: 'https://gql.example.com/mcp',
      accessTokenFormat: 'JWT',
      accessTokenTtl: null,
    });
    const listed = await gql(server, admin, `{ resources { ${FIELDS} } }`);
    expect((listed.data!.resources as Array<{ id: string }>).map((x) => x.id)).toContain(r.id);

    const updated = await gql(
      server,
      admin,
      `mutation($id: ID!) { updateResource(id: $id, input: { accessTokenTtl: 60, accessTokenFormat: OPAQUE }) { ${FIELDS} } }`,
      { id: r.id },
    );
    expect(updated.data!.updateResource).toMatchObject({ accessTokenTtl: 60, accessTokenFormat: 'OPAQUE' });
    // The change reaches the token endpoint at once (the cache entry was dropped).
    const token = await cc({ resource: 'https://gql.example.com/mcp', scope: 'read' });
    expect(token.status).toBe(200);
    expect(token.json.expires_in).toBe(60);
    expect(String(token.json.access_token).split('.')).toHaveLength(1);

    for (const identifier of ['relative/path', 'https://x.example/#frag', '']) {
      const bad = await gql(
        server,
        admin,
        `mutation($i: CreateResourceInput!) { createResource(input: $i) { id } }`,
        { i: { identifier, name: 'Bad' } },
      );
      expect(codeOf(bad), identifier).toBe('BAD_USER_INPUT');
    }
    const dup = await gql(
      server,
      admin,
      `mutation($i: CreateResourceInput!) { createResource(input: $i) { id } }`,
      { i: { identifier: 'https://gql.example.com/mcp', name: 'Again' } },
    );
    expect(codeOf(dup)).toBe('CONFLICT');

    const deleted = await gql(server, admin, 'mutation($id: ID!) { deleteResource(id: $id) }', { id: r.id });
    expect(deleted.data!.deleteResource).toBe(true);
    expect((await cc({ resource: 'https://gql.example.com/mcp' })).json.error).toBe('invalid_target');
  });

  it('Issue 15 / OWASP access control: a non-admin gets FORBIDDEN and an anonymous caller UNAUTHENTICATED for every resource operation', async () => {
    const user = await sessionOf('gqluser', 'gqluser-password', false);
    const ops = [
      '{ resources { id } }',
      'mutation { createResource(input: { identifier: "https://evil.example/", name: "x" }) { id } }',
      'mutation { updateResource(id: "00000000-0000-7000-8000-000000000000", input: { name: "x" }) { id } }',
      'mutation { deleteResource(id: "00000000-0000-7000-8000-000000000000") }',
    ];
    for (const op of ops) {
      expect(codeOf(await gql(server, user, op)), op).toBe('FORBIDDEN');
      expect(codeOf(await gql(server, null, op)), op).toBe('UNAUTHENTICATED');
    }
    expect((await cc({ resource: 'https://evil.example/' })).json.error).toBe('invalid_target');
  });
});

describe('CLI create-resource', () => {
  it('Issue 15 CLI contract: create-resource prints {"id","identifier"}; another process sees it at once (NOTIFY drops the cached miss)', async () => {
    const { runCli } = await import('../helpers/process.js');
    const env = { DATABASE_URL: server.database!.url };
    // A second instance on the same database whose cache would keep the miss for 5 minutes.
    const other = await startTestServer({ databaseUrl: env.DATABASE_URL, env: { CLIENT_CACHE_TTL: '300' } });
    const ccOther = (form: Record<string, string>) =>
      postForm(other, '/o/token/', { grant_type: 'client_credentials', ...form }, machine);
    const identifier = 'https://cli.example.com/mcp';
    // Its LISTEN connection drops every cache when it connects (db/listen.ts onGap): let it connect first.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await ccOther({ resource: identifier })).json.error).toBe('invalid_target'); // cached as unknown
    const made = await runCli(
      [
        'create-resource',
        '--identifier',
        identifier,
        '--name',
        'CLI MCP',
        '--scopes',
        'read',
        '--jwt-access-tokens',
      ],
      env,
    );
    expect(made.code, made.stderr).toBe(0);
    const out = JSON.parse(made.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['id', 'identifier']);
    expect(out.identifier).toBe(identifier);
    let token: Awaited<ReturnType<typeof cc>> | undefined;
    for (let i = 0; i < 50; i++) {
      token = await ccOther({ resource: identifier, scope: 'read' });
      if (token.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(token!.status).toBe(200);
    expect(jwtPayload(String(token!.json.access_token)).aud).toBe(identifier);

    const bad = await runCli(['create-resource', '--identifier', 'no-scheme/path', '--name', 'x'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim()).toMatch(/^error: The identifier must be an absolute URI/);
    const dup = await runCli(['create-resource', '--identifier', identifier, '--name', 'again'], env);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr.trim()).toBe(`error: A resource with identifier "${identifier}" already exists.`);
    await other.close();
  });
});

describe('the /o/resources/ page (admins)', () => {
  it('Issue 15 page: an admin registers a resource through the form (CSRF-checked); a bad identifier is shown next to its field', async () => {
    const { createUser } = await import('../../src/services/users.js');
    await createUser(server.cli(), { username: 'pageadmin', password: 'pageadmin-password', isAdmin: true });
    const admin = new Agent(server.url);
    await admin.login('pageadmin', 'pageadmin-password');
    const page = await admin.get('/o/resources/');
    expect(page.status).toBe(200);
    expect(page.text).toContain(R1);

    const bad = await admin.submitForm(
      '/o/resources/',
      { identifier: 'https://page.example/#frag', name: '', access_token_ttl: 'soon' },
      '/o/resources/',
    );
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/id="accessTokenTtl-error"[^>]*>[^<]*number of seconds/);
    const again = await admin.submitForm(
      '/o/resources/',
      { identifier: 'https://page.example/#frag', name: '' },
      '/o/resources/',
    );
    expect(again.text).toMatch(/id="identifier-error"[^>]*>[^<]*fragment/);
    expect(again.text).toMatch(/id="name-error"/);
    expect(again.text).toContain('value="https://page.example/#frag"');

    const noCsrf = await admin.post('/o/resources/', {
      identifier: 'https://page.example/api',
      name: 'Page API',
    });
    expect(noCsrf.status).toBe(403);

    const ok = await admin.submitForm(
      '/o/resources/',
      { identifier: 'https://page.example/api', name: 'Page API', scopes: 'read', jwt_access_tokens: 'on' },
      '/o/resources/',
    );
    expect(ok.status).toBe(303);
    const token = await cc({ resource: 'https://page.example/api', scope: 'read' });
    expect(jwtPayload(String(token.json.access_token)).aud).toBe('https://page.example/api');

    const list = await admin.get('/o/resources/');
    const row = list.text.split('<tr>').find((r) => r.includes('https://page.example/api'))!;
    const id = row.match(/action="\/o\/resources\/([0-9a-f-]{36})\/delete\/"/)![1];
    const deleted = await admin.post(`/o/resources/${id}/delete/`, hiddenInputs(row));
    expect(deleted.status).toBe(303);
    expect((await cc({ resource: 'https://page.example/api' })).json.error).toBe('invalid_target');
  });

  it('Issue 15 / OWASP access control: a non-admin sees a 403 page and cannot register or delete; anonymous goes to login', async () => {
    const page = await agent.get('/o/resources/');
    expect(page.status).toBe(403);
    expect(page.text).toContain('Administrators only');
    // A valid CSRF token of this session, from another page with a form.
    const csrf = hiddenInputs((await agent.get('/o/authorized_tokens/')).text).csrf_token;
    expect(csrf).toBeTruthy();
    const create = await agent.post('/o/resources/', {
      csrf_token: csrf,
      identifier: 'https://rita.example/',
      name: 'Rita',
    });
    expect(create.status).toBe(403);
    expect((await cc({ resource: 'https://rita.example/' })).json.error).toBe('invalid_target');
    const del = await agent.post('/o/resources/00000000-0000-7000-8000-000000000000/delete/', {
      csrf_token: csrf,
    });
    expect(del.status).toBe(403);
    const anon = await new Agent(server.url).get('/o/resources/');
    expect(anon.status).toBe(303);
    expect(anon.location).toMatch(/^\/accounts\/login\//);
  });
});
