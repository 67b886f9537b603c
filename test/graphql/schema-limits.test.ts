import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLatchkeySchema } from '../../src/graphql/schema.js';
import { createUser } from '../../src/services/users.js';
import { codeOf, gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let cookie: string;
beforeAll(async () => {
  server = await startTestServer({ env: { GRAPHQL_MAX_DEPTH: '4', GRAPHQL_MAX_COST: '400' } });
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  const agent = new Agent(server.url);
  await agent.login('alice', 'alice-pass');
  cookie = agent.cookieHeader();
});
afterAll(() => server?.stop());

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
});
