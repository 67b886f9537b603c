import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let cookie: string;
beforeAll(async () => {
  server = await startTestServer();
  await createUser(server.cli(), { username: 'mallory', password: 'mallory-pass' });
  const agent = new Agent(server.url);
  await agent.login('mallory', 'mallory-pass');
  cookie = agent.cookieHeader();
});
afterAll(async () => {
  await server?.stop();
});

describe('review follow-up: GraphQL database round trips and introspection', () => {
  it('Review follow-up (OWASP API4:2023, issue 13 #1): 240 aliased tokens(first: 0) { totalCount } — 480 database queries at cost 480 — are refused by the round-trip limit before any resolver runs', async () => {
    const query = `{ ${Array.from({ length: 240 }, (_, i) => `a${i}: tokens(first: 0) { totalCount }`).join(' ')} }`;
    const res = await gql(server, { cookie }, query);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].message).toMatch(/needs 480 database queries, more than the limit of 20/);
    expect(res.data).toBeUndefined();
  });

  it('Review follow-up (OWASP API4:2023): GRAPHQL_MAX_ROUND_TRIPS root fields and totalCounts run, one more is refused', async () => {
    // 10 × (tokens + totalCount) = 20 round trips; viewer is answered from the request's context.
    const at = `{ viewer { id } ${Array.from({ length: 10 }, (_, i) => `a${i}: tokens(first: 1) { totalCount }`).join(' ')} }`;
    const ok = await gql(server, { cookie }, at);
    expect(ok.status).toBe(200);
    expect(ok.errors).toBeUndefined();
    const over = await gql(
      server,
      { cookie },
      at.replace('{ viewer', '{ x: applications(first: 1) { edges { node { id } } } viewer'),
    );
    expect(over.status).toBe(400);
    expect(over.errors?.[0].message).toMatch(/needs 21 database queries/);
  });

  it('Review follow-up (OWASP API4:2023): one schema introspection per operation; aliases of __schema are refused, anonymous or not', async () => {
    const twice = '{ a: __schema { types { name } } b: __schema { types { name } } }';
    for (const auth of [null, { cookie }]) {
      const res = await gql(server, auth, twice);
      expect(res.status).toBe(400);
      expect(res.errors?.[0].message).toMatch(/introspects the schema 2 times/);
    }
    const once = await gql(server, null, '{ __schema { types { name } } }');
    expect(once.status).toBe(200);
  });
});
