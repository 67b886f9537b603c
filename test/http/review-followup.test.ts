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

describe('review follow-up: GraphQL pricing', () => {
  // Known hole, not fixed here: a connection is priced 1 + rows × children, so `first: 0` with
  // only totalCount costs 2 although it is two database round trips (page + count(*)). 240
  // aliases (13 KB, cost 480, 480 fields) run 480 queries; 30 such requests in parallel made a
  // client_credentials token request take 2.4 s instead of milliseconds (pool 10, acquire
  // timeout 5 s: more parallel requests give 503). `it.fails` documents it until it is fixed.
  it.fails('Review follow-up (OWASP API4:2023, issue 13 #1): 240 aliased tokens(first: 0) { totalCount } — 480 database queries — are refused before any resolver runs', async () => {
    const query = `{ ${Array.from({ length: 240 }, (_, i) => `a${i}: tokens(first: 0) { totalCount }`).join(' ')} }`;
    const res = await gql(server, { cookie }, query);
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
  });
});
