import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { type Auth, codeOf, gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { codeFlow, makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let alice: Auth;
let bob: Auth;
let admin: Auth;
let aliceBearer: Auth;
let aliceBearerNoScope: Auth;
let clientBearer: Auth;
let aliceId: string;
let aliceApp: { id: string; clientId: string; clientSecret: string };
let aliceTokenId: string;
let web: TestClient;

async function session(username: string, password: string): Promise<Auth> {
  const agent = new Agent(server.url);
  await agent.login(username, password);
  return { cookie: agent.cookieHeader() };
}

const CREATE = `mutation($input: CreateApplicationInput!) {
  createApplication(input: $input) { clientSecret application { id clientId name clientType grantTypes redirectUris scopes owner { username } } }
}`;

beforeAll(async () => {
  server = await startTestServer();
  const cli = server.cli();
  aliceId = (await createUser(cli, { username: 'alice', password: 'alice-pass', email: 'alice@example.com' }))
    .id;
  await createUser(cli, { username: 'bob', password: 'bob-password', email: 'bob@example.com' });
  await createUser(cli, { username: 'root', password: 'root-password', isAdmin: true });
  [alice, bob, admin] = await Promise.all([
    session('alice', 'alice-pass'),
    session('bob', 'bob-password'),
    session('root', 'root-password'),
  ]);
  const created = await gql(server, alice, CREATE, {
    input: {
      name: 'Alice App',
      clientType: 'CONFIDENTIAL',
      grantTypes: ['CLIENT_CREDENTIALS'],
      scopes: ['read', 'graphql'],
    },
  });
  const payload = created.data!.createApplication as {
    clientSecret: string;
    application: { id: string; clientId: string };
  };
  aliceApp = {
    id: payload.application.id,
    clientId: payload.application.clientId,
    clientSecret: payload.clientSecret,
  };

  // Bearer tokens: a user's token with and without the graphql scope, and a client_credentials token.
  const scripts = await makeClient(server, { skipAuthorization: true, scopes: ['read', 'graphql'] });
  web = scripts;
  const agent = new Agent(server.url);
  await agent.login('alice', 'alice-pass');
  const withScope = await codeFlow(server, agent, scripts, { scope: 'read graphql' });
  const withoutScope = await codeFlow(server, agent, scripts, { scope: 'read' });
  aliceBearer = { bearer: withScope.access_token as string };
  aliceBearerNoScope = { bearer: withoutScope.access_token as string };
  const cc = await postForm(
    server,
    '/o/token/',
    { grant_type: 'client_credentials', scope: 'graphql' },
    {
      clientId: aliceApp.clientId,
      clientSecret: aliceApp.clientSecret,
    },
  );
  clientBearer = { bearer: cc.json.access_token as string };
  const tokens = await gql(
    server,
    alice,
    '{ tokens(first: 100, filter: {kind: ACCESS}) { edges { node { id } } } }',
  );
  aliceTokenId = (tokens.data!.tokens as { edges: Array<{ node: { id: string } }> }).edges[0].node.id;
});
afterAll(() => server?.stop());

describe('authentication', () => {
  it('viewer: null when anonymous, the user for a session or a Bearer token with the graphql scope', async () => {
    expect((await gql(server, null, '{ viewer { id } }')).data!.viewer).toBeNull();
    expect((await gql(server, alice, '{ viewer { username email } }')).data!.viewer as object).toEqual({
      username: 'alice',
      email: 'alice@example.com',
    });
    expect(((await gql(server, aliceBearer, '{ viewer { id } }')).data!.viewer as { id: string }).id).toBe(
      aliceId,
    );
  });

  it('RFC 6750 §3.1: a Bearer token without the graphql scope, revoked or unknown is UNAUTHENTICATED with HTTP 401 and a Bearer challenge', async () => {
    for (const auth of [aliceBearerNoScope, { bearer: 'lk_at_unknown' }]) {
      const res = await gql(server, auth, '{ viewer { id } }');
      expect(res.status).toBe(401);
      expect(codeOf(res)).toBe('UNAUTHENTICATED');
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('a client_credentials token has no user: viewer is null and user operations are FORBIDDEN', async () => {
    expect((await gql(server, clientBearer, '{ viewer { id } }')).data!.viewer).toBeNull();
    expect(codeOf(await gql(server, clientBearer, '{ applications { totalCount } }'))).toBe('FORBIDDEN');
  });

  it('Apollo CSRF prevention stays on: a simple (text/plain) POST with the session cookie is refused', async () => {
    const res = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', Cookie: (alice as { cookie: string }).cookie },
      body: JSON.stringify({ query: 'mutation { deleteApplication(id: "x") }' }),
    });
    expect(res.status).toBe(400);
  });
});

describe('authorization matrix: every operation, every kind of caller', () => {
  type Expect = 'ok' | 'null' | 'empty' | 'zero' | string;
  interface Row {
    name: string;
    query: () => string;
    expect: Record<'anonymous' | 'alice' | 'bob' | 'admin' | 'aliceBearer' | 'client', Expect>;
  }
  const rows: Row[] = [
    {
      name: 'applications',
      query: () => '{ applications { totalCount edges { node { id } } } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'ok',
        bob: 'empty',
        admin: 'ok',
        aliceBearer: 'ok',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'application(id)',
      query: () => `{ application(id: "${aliceApp.id}") { id } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'ok',
        bob: 'null',
        admin: 'ok',
        aliceBearer: 'ok',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'applicationByClientId',
      query: () => `{ applicationByClientId(clientId: "${aliceApp.clientId}") { id } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'ok',
        bob: 'null',
        admin: 'ok',
        aliceBearer: 'ok',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'tokens of alice’s application',
      query: () =>
        `{ tokens(filter: {applicationId: "${aliceApp.id}"}) { totalCount edges { node { id } } } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'ok',
        bob: 'empty',
        admin: 'ok',
        aliceBearer: 'ok',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'authorizations',
      query: () => '{ authorizations { applicationId } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'ok',
        bob: 'empty',
        admin: 'empty',
        aliceBearer: 'ok',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'users',
      query: () => '{ users { totalCount } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'ok',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'auditEvents',
      query: () => '{ auditEvents { totalCount } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'ok',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'signingKeys',
      query: () => '{ signingKeys { kid } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'ok',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'updateApplication',
      query: () => `mutation { updateApplication(id: "${aliceApp.id}", input: {name: "Alice App"}) { id } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'ok',
        bob: 'NOT_FOUND',
        admin: 'ok',
        aliceBearer: 'ok',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'deleteApplication (of someone else)',
      query: () => `mutation { deleteApplication(id: "${aliceApp.id}") }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'skip',
        bob: 'NOT_FOUND',
        admin: 'skip',
        aliceBearer: 'skip',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'rotateClientSecret (of someone else)',
      query: () => `mutation { rotateClientSecret(id: "${aliceApp.id}") { clientSecret } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'skip',
        bob: 'NOT_FOUND',
        admin: 'skip',
        aliceBearer: 'skip',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'revokeToken (of someone else)',
      query: () => `mutation { revokeToken(id: "${aliceTokenId}") { id } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'skip',
        bob: 'NOT_FOUND',
        admin: 'skip',
        aliceBearer: 'skip',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'revokeTokens (of someone else’s application)',
      query: () => `mutation { revokeTokens(filter: {applicationId: "${aliceApp.id}"}) }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'skip',
        bob: 'zero',
        admin: 'skip',
        aliceBearer: 'skip',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'createUser',
      query: () => 'mutation { createUser(input: {username: "mallory", password: "mallory-pass"}) { id } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'skip',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'updateUser',
      query: () => `mutation { updateUser(id: "${aliceId}", input: {isAdmin: true}) { id } }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'skip',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'deleteUser',
      query: () => `mutation { deleteUser(id: "${aliceId}") }`,
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'skip',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
    {
      name: 'rotateSigningKey',
      query: () => 'mutation { rotateSigningKey { kid } }',
      expect: {
        anonymous: 'UNAUTHENTICATED',
        alice: 'FORBIDDEN',
        bob: 'FORBIDDEN',
        admin: 'skip',
        aliceBearer: 'FORBIDDEN',
        client: 'FORBIDDEN',
      },
    },
  ];
  const callers = () =>
    ({ anonymous: null, alice, bob, admin, aliceBearer, client: clientBearer }) as Record<string, Auth>;

  for (const row of rows) {
    it(`${row.name}: ${Object.entries(row.expect)
      .map(([k, v]) => `${k}→${v}`)
      .join(', ')}`, async () => {
      for (const [caller, expected] of Object.entries(row.expect)) {
        if (expected === 'skip') continue;
        const res = await gql(server, callers()[caller], row.query());
        const label = `${row.name} as ${caller}`;
        if (expected === 'ok' || expected === 'null' || expected === 'empty' || expected === 'zero') {
          expect(res.errors, label).toBeUndefined();
          const value = Object.values(res.data!)[0] as
            | { totalCount?: number; edges?: unknown[] }
            | unknown[]
            | number
            | null;
          if (expected === 'null') expect(value, label).toBeNull();
          if (expected === 'zero') expect(value, label).toBe(0);
          if (expected === 'empty') {
            if (Array.isArray(value)) expect(value, label).toEqual([]);
            else expect((value as { totalCount: number }).totalCount, label).toBe(0);
          }
          if (expected === 'ok') {
            expect(value, label).not.toBeNull();
            if (Array.isArray(value)) expect(value.length, label).toBeGreaterThan(0);
            else if (typeof value === 'object' && value && 'totalCount' in value)
              expect(value.totalCount, label).toBeGreaterThan(0);
          }
        } else {
          expect(codeOf(res), `${label}: ${JSON.stringify(res.errors)}`).toBe(expected);
        }
      }
    });
  }

  it('the answer does not reveal whether an id exists: a foreign id and an unknown id look the same', async () => {
    const foreign = await gql(
      server,
      bob,
      `mutation { updateApplication(id: "${aliceApp.id}", input: {name: "x"}) { id } }`,
    );
    const unknown = await gql(
      server,
      bob,
      'mutation { updateApplication(id: "01a21fa8-0000-7000-8000-000000000000", input: {name: "x"}) { id } }',
    );
    expect(foreign.errors![0].message).toBe(unknown.errors![0].message);
    expect(codeOf(foreign)).toBe(codeOf(unknown));
  });

  it('email is visible to the user themself and to admins only', async () => {
    const res = await gql(server, admin, `{ users(first: 10) { edges { node { username email } } } }`);
    const users = (
      res.data!.users as { edges: Array<{ node: { username: string; email: string | null } }> }
    ).edges.map((e) => e.node);
    expect(users.find((u) => u.username === 'bob')!.email).toBe('bob@example.com');
    const asBob = await gql(server, bob, '{ viewer { email } }');
    expect((asBob.data!.viewer as { email: string }).email).toBe('bob@example.com');
  });
});

describe('applications', () => {
  it('createApplication shows the client secret once; it is never readable again', async () => {
    const res = await gql(server, alice, CREATE, {
      input: {
        name: 'Once',
        clientType: 'CONFIDENTIAL',
        grantTypes: ['AUTHORIZATION_CODE'],
        redirectUris: ['https://once.example/cb'],
      },
    });
    const payload = res.data!.createApplication as {
      clientSecret: string;
      application: { id: string; grantTypes: string[]; owner: { username: string } };
    };
    expect(payload.clientSecret).toMatch(/^lk_cs_/);
    expect(payload.application.grantTypes).toEqual(['AUTHORIZATION_CODE', 'REFRESH_TOKEN']);
    expect(payload.application.owner.username).toBe('alice');
    const schema = await gql(server, alice, '{ __type(name: "Application") { fields { name } } }');
    const fields = (schema.data!.__type as { fields: Array<{ name: string }> }).fields.map((f) => f.name);
    expect(fields).not.toContain('clientSecret');
    expect(fields.some((f) => /secret/i.test(f))).toBe(false);
    const audit = await gql(server, admin, '{ auditEvents(first: 100) { edges { node { details } } } }');
    expect(JSON.stringify(audit.data)).not.toContain(payload.clientSecret.slice(6));
  });

  it('public clients get a null secret', async () => {
    const res = await gql(server, alice, CREATE, {
      input: {
        name: 'SPA',
        clientType: 'PUBLIC',
        grantTypes: ['AUTHORIZATION_CODE'],
        redirectUris: ['https://spa.example/cb'],
      },
    });
    expect((res.data!.createApplication as { clientSecret: null }).clientSecret).toBeNull();
  });

  it.each([
    [{ name: '', clientType: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'] }, 'name'],
    [{ name: 'x', clientType: 'PUBLIC', grantTypes: ['CLIENT_CREDENTIALS'] }, 'grantTypes'],
    [{ name: 'x', clientType: 'CONFIDENTIAL', grantTypes: ['AUTHORIZATION_CODE'] }, 'redirectUris'],
    [
      {
        name: 'x',
        clientType: 'CONFIDENTIAL',
        grantTypes: ['AUTHORIZATION_CODE'],
        redirectUris: ['http://evil.example/cb'],
      },
      'redirectUris',
    ],
    [
      {
        name: 'x',
        clientType: 'CONFIDENTIAL',
        grantTypes: ['AUTHORIZATION_CODE'],
        redirectUris: ['https://a.example/cb#x'],
      },
      'redirectUris',
    ],
    [
      {
        name: 'x',
        clientType: 'CONFIDENTIAL',
        grantTypes: ['CLIENT_CREDENTIALS'],
        allowedOrigins: ['https://a.example/path'],
      },
      'allowedOrigins',
    ],
    [
      { name: 'x', clientType: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'], scopes: ['nope'] },
      'scopes',
    ],
    [
      { name: 'x', clientType: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'], skipAuthorization: true },
      'skipAuthorization',
    ],
  ])('validation: %o → BAD_USER_INPUT naming %s, and nothing is created', async (input, field) => {
    const before = (
      (await gql(server, alice, '{ applications { totalCount } }')).data!.applications as {
        totalCount: number;
      }
    ).totalCount;
    const res = await gql(server, alice, CREATE, { input });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors![0].extensions!.field).toBe(field);
    const after = (
      (await gql(server, alice, '{ applications { totalCount } }')).data!.applications as {
        totalCount: number;
      }
    ).totalCount;
    expect(after).toBe(before);
  });

  it('Review 13.16: BAD_USER_INPUT lists every invalid field in extensions.fields (extensions.field is the first), and nothing is created', async () => {
    const res = await gql(server, alice, CREATE, {
      input: {
        name: ' ',
        clientType: 'CONFIDENTIAL',
        grantTypes: ['AUTHORIZATION_CODE'],
        redirectUris: ['view-source:https://a.example/cb'],
        allowedOrigins: ['http://spa.example'],
        scopes: ['nope'],
      },
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    const ext = res.errors![0].extensions!;
    expect(ext.field).toBe('name');
    expect(ext.fields!.map((f) => f.field)).toEqual(['name', 'redirectUris', 'allowedOrigins', 'scopes']);
    for (const f of ext.fields!) expect(f.message.length, f.field).toBeGreaterThan(0);
    expect(res.data).toBeNull();
  });

  it('Review 13.7, RFC 7662 §4: a non-admin cannot give an application the introspection scope (BAD_USER_INPUT on scopes); an admin can', async () => {
    const input = {
      name: 'Snoop',
      clientType: 'CONFIDENTIAL',
      grantTypes: ['CLIENT_CREDENTIALS'],
      scopes: ['read', 'introspection'],
    };
    const refused = await gql(server, alice, CREATE, { input });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0].extensions!.field).toBe('scopes');
    const updated = await gql(
      server,
      alice,
      'mutation($id: ID!) { updateApplication(id: $id, input: {scopes: ["read", "introspection"]}) { scopes } }',
      { id: aliceApp.id },
    );
    expect(codeOf(updated)).toBe('BAD_USER_INPUT');
    const ok = await gql(server, admin, CREATE, { input });
    expect(ok.errors).toBeUndefined();
    expect(
      (ok.data!.createApplication as { application: { scopes: string[] } }).application.scopes,
    ).toContain('introspection');
  });

  it('applications: admins see all, with a filter by name and client type; first is capped at 100', async () => {
    const all = await gql(server, admin, '{ applications(first: 100) { totalCount } }');
    const mine = await gql(server, alice, '{ applications(first: 100) { totalCount } }');
    expect((all.data!.applications as { totalCount: number }).totalCount).toBeGreaterThan(
      (mine.data!.applications as { totalCount: number }).totalCount,
    );
    const filtered = await gql(
      server,
      alice,
      '{ applications(filter: {name: "alice", clientType: CONFIDENTIAL}) { edges { node { name } } } }',
    );
    expect(
      (filtered.data!.applications as { edges: Array<{ node: { name: string } }> }).edges.map(
        (e) => e.node.name,
      ),
    ).toEqual(['Alice App']);
    expect(codeOf(await gql(server, alice, '{ applications(first: 101) { totalCount } }'))).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('Relay pagination: first/after walk every application exactly once', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const res = await gql(
        server,
        admin,
        'query($after: String) { applications(first: 2, after: $after) { edges { node { id } cursor } pageInfo { hasNextPage endCursor } totalCount } }',
        { after },
      );
      const conn = res.data!.applications as {
        edges: Array<{ node: { id: string } }>;
        pageInfo: { hasNextPage: boolean; endCursor: string };
        totalCount: number;
      };
      seen.push(...conn.edges.map((e) => e.node.id));
      if (!conn.pageInfo.hasNextPage) {
        expect(seen.length).toBe(conn.totalCount);
        break;
      }
      after = conn.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('rotateClientSecret: the old secret is invalid_client at once, the new one works', async () => {
    const res = await gql(server, alice, CREATE, {
      input: { name: 'Rotating', clientType: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'] },
    });
    const p = res.data!.createApplication as {
      clientSecret: string;
      application: { id: string; clientId: string };
    };
    const old = { clientId: p.application.clientId, clientSecret: p.clientSecret };
    expect((await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, old)).status).toBe(200);
    const rotated = await gql(
      server,
      alice,
      `mutation { rotateClientSecret(id: "${p.application.id}") { clientSecret } }`,
    );
    const fresh = (rotated.data!.rotateClientSecret as { clientSecret: string }).clientSecret;
    expect((await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, old)).json.error).toBe(
      'invalid_client',
    );
    expect(
      (
        await postForm(
          server,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId: old.clientId, clientSecret: fresh },
        )
      ).status,
    ).toBe(200);
  });

  it('deleteApplication: its tokens die with it and its client_credentials fail', async () => {
    const res = await gql(server, alice, CREATE, {
      input: { name: 'Doomed', clientType: 'CONFIDENTIAL', grantTypes: ['CLIENT_CREDENTIALS'] },
    });
    const p = res.data!.createApplication as {
      clientSecret: string;
      application: { id: string; clientId: string };
    };
    const creds = { clientId: p.application.clientId, clientSecret: p.clientSecret };
    const issued = await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, creds);
    expect(
      (await gql(server, alice, `mutation { deleteApplication(id: "${p.application.id}") }`)).data!
        .deleteApplication,
    ).toBe(true);
    expect(
      (await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, creds)).json.error,
    ).toBe('invalid_client');
    const introspected = await postForm(
      server,
      '/o/introspect/',
      { token: issued.json.access_token as string },
      { clientId: aliceApp.clientId, clientSecret: aliceApp.clientSecret },
    );
    expect(introspected.json).toEqual({ active: false });
  });

  it('listing 50 applications with owner and token counts runs a small, fixed number of SQL statements', async () => {
    const owner = await createUser(server.cli(), {
      username: 'many',
      password: 'many-password',
      isAdmin: false,
    });
    const { createApplication } = await import('../../src/services/applications.js');
    for (let i = 0; i < 50; i++) {
      await createApplication(server.cli(), owner, {
        name: `Bulk ${i}`,
        clientType: 'confidential',
        grantTypes: ['client_credentials'],
      });
    }
    const many = await session('many', 'many-password');
    const statements: string[] = [];
    const stop = server.runtime.db.observer.watch((s) => statements.push(s));
    const res = await gql(
      server,
      many,
      '{ applications(first: 50) { totalCount edges { node { id name owner { username } activeTokenCount } } } }',
    );
    stop();
    expect((res.data!.applications as { edges: unknown[] }).edges).toHaveLength(50);
    // session lookup, page, count, owners, token counts: a handful, independent of the 50 rows.
    expect(statements.length).toBeGreaterThanOrEqual(4); // the observer does see them
    expect(statements.length, statements.join('\n')).toBeLessThanOrEqual(8);
  });
});

describe('tokens and authorizations', () => {
  it('tokens: metadata only, never the token value; revokeToken makes introspection inactive', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const body = await codeFlow(server, agent, web, { scope: 'read' });
    const list = await gql(
      server,
      alice,
      `{ tokens(first: 100, filter: {applicationId: "${web.id}", active: true, kind: ACCESS}) { edges { node { id kind scopes active user { username } application { id } clientId } } } }`,
    );
    expect(JSON.stringify(list.data)).not.toContain((body.access_token as string).slice(6));
    const nodes = (
      list.data!.tokens as {
        edges: Array<{
          node: { id: string; user: { username: string }; application: unknown; clientId: string };
        }>;
      }
    ).edges.map((e) => e.node);
    expect(nodes.length).toBeGreaterThan(0);
    expect(nodes[0].user.username).toBe('alice');
    // alice is the token's user but not the application's owner: the application itself is hidden.
    expect(nodes[0].application).toBeNull();
    expect(nodes[0].clientId).toBe(web.clientId);
    const introspector = { clientId: web.clientId, clientSecret: web.clientSecret };
    const active = await postForm(
      server,
      '/o/introspect/',
      { token: body.access_token as string },
      introspector,
    );
    expect(active.json.active).toBe(true);
    const target = (
      await gql(
        server,
        alice,
        `{ tokens(first: 100, filter: {kind: ACCESS, active: true}) { edges { node { id createdAt } } } }`,
      )
    ).data!.tokens as { edges: Array<{ node: { id: string } }> };
    for (const { node } of target.edges)
      await gql(server, alice, `mutation { revokeToken(id: "${node.id}") { active revokedAt } }`);
    expect(
      (await postForm(server, '/o/introspect/', { token: body.access_token as string }, introspector)).json,
    ).toEqual({ active: false });
  });

  it('revokeTokens revokes every matching visible token and returns the count', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    await codeFlow(server, agent, web, { scope: 'read' });
    const count = await gql(server, alice, `mutation { revokeTokens(filter: {applicationId: "${web.id}"}) }`);
    expect(count.data!.revokeTokens as number).toBeGreaterThan(0);
    const left = await gql(
      server,
      alice,
      `{ tokens(filter: {applicationId: "${web.id}", active: true}) { totalCount } }`,
    );
    expect((left.data!.tokens as { totalCount: number }).totalCount).toBe(0);
  });

  it('authorizations lists the applications the viewer granted; revokeAuthorization revokes the grant and all its tokens', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const body = await codeFlow(server, agent, web, { scope: 'read' });
    const list = await gql(server, alice, '{ authorizations { applicationId applicationName scopes } }');
    expect(
      (list.data!.authorizations as Array<{ applicationId: string }>).some((a) => a.applicationId === web.id),
    ).toBe(true);
    expect(
      (await gql(server, alice, `mutation { revokeAuthorization(applicationId: "${web.id}") }`)).data!
        .revokeAuthorization,
    ).toBe(true);
    const refresh = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: body.refresh_token as string },
      web,
    );
    expect(refresh.json.error).toBe('invalid_grant');
    expect(
      codeOf(await gql(server, alice, `mutation { revokeAuthorization(applicationId: "${web.id}") }`)),
    ).toBe('NOT_FOUND');
  });
});

describe('users (admin)', () => {
  it('createUser, updateUser (disable ends sessions and revokes tokens), deleteUser', async () => {
    const created = await gql(
      server,
      admin,
      'mutation { createUser(input: {username: "carol", password: "carol-pass", email: "carol@example.com"}) { id username email } }',
    );
    const carolId = (created.data!.createUser as { id: string }).id;
    const dup = await gql(
      server,
      admin,
      'mutation { createUser(input: {username: "carol", password: "carol-pass"}) { id } }',
    );
    expect(codeOf(dup)).toBe('CONFLICT');
    expect(JSON.stringify(dup)).not.toMatch(/argon2|\$argon/);
    const weak = await gql(
      server,
      admin,
      'mutation { createUser(input: {username: "dan", password: "short"}) { id } }',
    );
    expect(codeOf(weak)).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(weak)).not.toContain('short"');

    const carol = await session('carol', 'carol-pass');
    const agent = new Agent(server.url);
    await agent.login('carol', 'carol-pass');
    const body = await codeFlow(server, agent, web, { scope: 'read' });
    await gql(
      server,
      admin,
      `mutation { updateUser(id: "${carolId}", input: {isActive: false}) { isActive } }`,
    );
    expect((await gql(server, carol, '{ viewer { id } }')).data!.viewer).toBeNull();
    const introspect = await postForm(
      server,
      '/o/introspect/',
      { token: body.access_token as string },
      { clientId: web.clientId, clientSecret: web.clientSecret },
    );
    expect(introspect.json.active).toBe(false);
    expect((await gql(server, admin, `mutation { deleteUser(id: "${carolId}") }`)).data!.deleteUser).toBe(
      true,
    );
  });
});

describe('audit events', () => {
  it('every mutation writes an audit event with actor, action, target, time and IP; admins query them', async () => {
    await gql(
      server,
      alice,
      `mutation { updateApplication(id: "${aliceApp.id}", input: {name: "Alice App"}) { id } }`,
    );
    const res = await gql(
      server,
      admin,
      '{ auditEvents(first: 100, filter: {action: "application.update"}) { edges { node { actor actorId action targetType targetId ip createdAt } } } }',
    );
    const events = (res.data!.auditEvents as { edges: Array<{ node: Record<string, string> }> }).edges.map(
      (e) => e.node,
    );
    const mine = events.find((e) => e.targetId === aliceApp.id && e.actor === 'alice')!;
    expect(mine).toMatchObject({ actorId: aliceId, action: 'application.update', targetType: 'application' });
    expect(mine.ip).toMatch(/127\.0\.0\.1/);
    const actions = new Set(
      (
        (await gql(server, admin, '{ auditEvents(first: 100) { edges { node { action } } } }')).data!
          .auditEvents as { edges: Array<{ node: { action: string } }> }
      ).edges.map((e) => e.node.action),
    );
    for (const a of [
      'application.create',
      'application.update',
      'application.rotate_secret',
      'application.delete',
      'token.revoke',
      'token.revoke_many',
      'authorization.revoke',
      'user.create',
      'user.update',
      'user.delete',
    ]) {
      expect(actions, a).toContain(a);
    }
  });
});
