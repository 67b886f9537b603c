import fs from 'node:fs';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLatchkeySchema } from '../../src/graphql/schema.js';
import { createUser } from '../../src/services/users.js';
import { codeOf, gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
/** The same database at default settings: what an operator gets out of the box. */
let defaults: TestServer;
let cookie: string;
beforeAll(async () => {
  server = await startTestServer({
    env: { GRAPHQL_MAX_DEPTH: '4', GRAPHQL_MAX_COST: '400', GRAPHQL_MAX_FIELDS: '50' },
  });
  defaults = await startTestServer({ databaseUrl: server.database!.url });
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  const agent = new Agent(server.url);
  await agent.login('alice', 'alice-pass');
  cookie = agent.cookieHeader();
});
afterAll(async () => {
  await defaults?.close();
  await server?.stop();
});

/** `count` aliases of one selection, with an optional fragment: a small document, a wide query. */
function aliased(count: number, selection: string, fragment = ''): string {
  return `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${selection}`).join(' ')} } ${fragment}`;
}

describe('schema', () => {
  it('schema/schema.graphql is the SDL the code emits (run `npm run schema:emit` after changing the API)', () => {
    expect(fs.readFileSync('schema/schema.graphql', 'utf8')).toBe(printLatchkeySchema());
  });

  it('keeps the contract names of DESIGN.md', () => {
    const sdl = printLatchkeySchema();
    for (const name of [
      'viewer: User',
      'applications(after: String, filter: ApplicationFilter, first: Int): ApplicationConnection!',
      'application(id: ID!): Application',
      'applicationByClientId(clientId: String!): Application',
      'createApplication(input: CreateApplicationInput!): CreateApplicationPayload!',
      'updateApplication(id: ID!, input: UpdateApplicationInput!): Application!',
      'deleteApplication(id: ID!)',
      'rotateClientSecret(id: ID!)',
      'tokens(after: String, filter: TokenFilter, first: Int): TokenConnection!',
      'revokeToken(id: ID!)',
      'revokeTokens(filter: TokenFilter!): Int!',
      'authorizations: [Authorization!]!',
      'revokeAuthorization(applicationId: ID!)',
      'users(after: String, filter: UserFilter, first: Int): UserConnection!',
      'createUser(input: CreateUserInput!): User!',
      'updateUser(id: ID!, input: UpdateUserInput!): User!',
      'deleteUser(id: ID!)',
      'rotateSigningKey',
    ]) {
      expect(sdl).toContain(name);
    }
    for (const value of [
      'AUTHORIZATION_CODE',
      'CLIENT_CREDENTIALS',
      'REFRESH_TOKEN',
      'PASSWORD',
      'DEVICE_CODE',
      'IMPLICIT',
    ]) {
      expect(sdl).toMatch(new RegExp(`enum GrantType \\{[^}]*${value}`));
    }
  });
});

describe('limits', () => {
  it('Relay connections: first above 100 is BAD_USER_INPUT', async () => {
    expect(codeOf(await gql(server, { cookie }, '{ applications(first: 101) { totalCount } }'))).toBe(
      'BAD_USER_INPUT',
    );
    expect(codeOf(await gql(server, { cookie }, '{ applications(first: -1) { totalCount } }'))).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('a query deeper than GRAPHQL_MAX_DEPTH is refused before it runs', async () => {
    const deep = '{ tokens { edges { node { application { owner { id } } } } } }';
    const res = await gql(server, { cookie }, deep);
    expect(res.errors?.[0].message).toMatch(/exceeds maximum operation depth/);
    expect(res.data).toBeUndefined();
  });

  it('a query costlier than GRAPHQL_MAX_COST is refused before it runs', async () => {
    const res = await gql(
      server,
      { cookie },
      '{ applications(first: 100) { edges { node { id name owner { id } activeTokenCount } } } }',
    );
    expect(res.errors?.[0].message).toMatch(/too expensive/);
    expect(res.status).toBe(400);
  });

  it('Issue 13 #1 (OWASP API4:2023): 1,000 aliases are refused by the field limit with a typed 400, not run unpriced', async () => {
    // 12 nodes an alias: past graphql-query-complexity's node cap, which used to switch pricing off.
    const query = aliased(
      1000,
      'viewer { ...U }',
      'fragment U on User { id username email isAdmin isActive createdAt id username email isActive }',
    );
    for (const auth of [null, { cookie }]) {
      const res = await gql(server, auth, query);
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.errors?.[0].message).toMatch(/fields/);
      expect(res.data).toBeUndefined();
    }
  });

  it('Issue 13 #1 (OWASP API4:2023): aliased tokens(first: 100) by a logged-in user are refused before any resolver runs', async () => {
    // 106 nodes an alias, 10,600 in all: past graphql-query-complexity's node cap, so this ran
    // unpriced (100 × 2 database queries of 100 rows at once).
    const wide = aliased(
      100,
      'tokens(first: 100) { ...T }',
      `fragment T on TokenConnection { totalCount edges { node { ...N } } } fragment N on Token { ${'id kind active scopes clientId createdAt expiresAt revokedAt id active '.repeat(10)} }`,
    );
    const res = await gql(defaults, { cookie }, wide);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    // Few fields but many rows: the cost limit (5000 by default) refuses it.
    const deep = aliased(20, 'tokens(first: 100) { edges { node { id } } }');
    const priced = await gql(defaults, { cookie }, deep);
    expect(priced.status).toBe(400);
    expect(codeOf(priced)).toBe('BAD_REQUEST');
    expect(priced.errors?.[0].message).toMatch(/too expensive: cost 6020 /);
  });

  it('Issue 13 #1: a connection without first is priced at the page it returns (DEFAULT_PAGE), not at one row', async () => {
    const node = 'id kind active scopes clientId createdAt expiresAt revokedAt id kind active scopes';
    // edges { node { 12 fields } } costs 14: 15 for one row, 1 + 20 × 14 = 281 for the default page.
    const one = await gql(
      server,
      { cookie },
      `{ tokens(first: 1) { edges { node { ${node} } } } a: tokens(first: 1) { edges { node { ${node} } } } }`,
    );
    expect(one.status).toBe(200);
    expect(one.errors).toBeUndefined();
    const unpaged = await gql(
      server,
      { cookie },
      `{ tokens { edges { node { ${node} } } } a: tokens { edges { node { ${node} } } } }`,
    );
    expect(unpaged.status).toBe(400);
    expect(unpaged.errors?.[0].message).toMatch(/too expensive: cost 562 /);
    const nullFirst = await gql(
      server,
      { cookie },
      `query($n: Int) { tokens(first: $n) { edges { node { ${node} } } } a: tokens(first: $n) { edges { node { ${node} } } } }`,
      { n: null },
    );
    expect(nullFirst.errors?.[0].message).toMatch(/too expensive: cost 562 /);
  });

  it('Issue 13 #1: a query costing exactly GRAPHQL_MAX_COST runs, one more is refused', async () => {
    // 1 + 100 × 3 = 301, plus 1 + n × 1.
    const at = await gql(
      server,
      { cookie },
      '{ tokens(first: 100) { edges { node { id } } } applications(first: 98) { totalCount } }',
    );
    expect(at.status).toBe(200);
    expect(at.errors).toBeUndefined();
    const over = await gql(
      server,
      { cookie },
      '{ tokens(first: 100) { edges { node { id } } } applications(first: 99) { totalCount } }',
    );
    expect(over.status).toBe(400);
    expect(over.errors?.[0].message).toMatch(/cost 401 exceeds the limit of 400/);
  });

  it('Issue 13 #1: a query of exactly GRAPHQL_MAX_FIELDS fields (fragments expanded) runs, one more is refused', async () => {
    const fragment = 'fragment U on User { id username }';
    // 16 × (viewer + 2) + 2 = 50.
    const at = await gql(
      server,
      { cookie },
      `${aliased(16, 'viewer { ...U }', fragment).replace('{ a0', '{ __typename b: __typename a0')}`,
    );
    expect(at.status).toBe(200);
    expect(at.errors).toBeUndefined();
    const over = await gql(server, { cookie }, `${aliased(17, 'viewer { ...U }', fragment)}`);
    expect(over.status).toBe(400);
    expect(codeOf(over)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(over.errors?.[0].message).toMatch(/selects 51 fields, more than the limit of 50/);
  });

  it('Issue 13 #1: fragment cycles and fragment bombs get a typed 400, quickly, never a 500', async () => {
    const cycle = await gql(
      server,
      null,
      '{ ...A } fragment A on Query { viewer { id } ...B } fragment B on Query { ...A }',
    );
    expect(cycle.status).toBe(400);
    expect(codeOf(cycle)).toBe('GRAPHQL_VALIDATION_FAILED');
    // 2^40 fields once expanded: counting must not expand them.
    let bomb = '{ ...F40 } fragment F0 on Query { viewer { id } }';
    for (let i = 1; i <= 40; i++) bomb += ` fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`;
    const res = await gql(server, null, bomb);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('Issue 13 #1 (OWASP API4:2023): a query the estimator cannot price is refused with a typed 400, never run unpriced', async () => {
    // 50 fields (the limit here) under 200 inline fragments each: 10,050 selections, past the
    // estimator's node cap, so it cannot be priced.
    const wrapped = Array.from(
      { length: 50 },
      (_, i) => `${'...{'.repeat(200)}a${i}: __typename${'}'.repeat(200)}`,
    );
    const res = await gql(server, null, `{ ${wrapped.join(' ')} }`);
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('BAD_REQUEST');
    expect(res.errors?.[0].message).toMatch(/cannot be priced/);
    expect(res.data).toBeUndefined();
  });

  it('Issue 13 #1: variables that do not coerce are still BAD_USER_INPUT', async () => {
    const res = await gql(server, { cookie }, 'query($n: Int) { tokens(first: $n) { totalCount } }', {
      n: 'many',
    });
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
  });

  it('batched operations are not accepted', async () => {
    const res = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: cookie },
      body: JSON.stringify([{ query: '{ viewer { id } }' }, { query: '{ viewer { id } }' }]),
    });
    expect(res.status).toBe(400);
  });

  it('the body size is limited', async () => {
    const res = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: cookie },
      body: JSON.stringify({ query: `{ viewer { id } } # ${'x'.repeat(200_000)}` }),
    });
    expect(res.status).toBe(413);
    expect((await res.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('malformed JSON gets a GraphQL error, not a page or a 500', async () => {
    const res = await fetch(new URL('/graphql', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('introspection can be switched off with GRAPHQL_INTROSPECTION=false', async () => {
    const closed = await startTestServer({
      databaseUrl: server.database!.url,
      env: { GRAPHQL_INTROSPECTION: 'false' },
    });
    try {
      const res = await gql(closed, null, '{ __schema { types { name } } }');
      expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect((await gql(server, null, '{ __schema { queryType { name } } }')).errors).toBeUndefined();
    } finally {
      await closed.close();
    }
  });

  it("Issue 14: GraphiQL's introspection query (and the one with every option) runs at default settings", async () => {
    // GraphiQL 3.8 calls getIntrospectionQuery({ inputValueDeprecation, schemaDescription }) with
    // both props unset; the second form is what other tools send with everything switched on.
    const graphiql = getIntrospectionQuery({
      inputValueDeprecation: undefined,
      schemaDescription: undefined,
    });
    const everything = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      oneOf: true,
    });
    for (const query of [graphiql, everything]) {
      for (const auth of [null, { cookie }]) {
        const res = await gql(defaults, auth, query);
        expect(res.errors).toBeUndefined();
        expect(res.status).toBe(200);
        const schema = res.data?.__schema as { types: Array<{ name: string }> } | undefined;
        const types = schema?.types.map((t) => t.name);
        expect(types).toContain('Application');
      }
    }
  });

  it('Issue 14: introspection still counts toward depth outside the ofType chain', async () => {
    const res = await gql(server, null, '{ __schema { types { fields { type { fields { name } } } } } }');
    expect(res.errors?.[0].message).toMatch(/exceeds maximum operation depth/);
  });
});
