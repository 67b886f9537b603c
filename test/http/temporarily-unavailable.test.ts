import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { type Auth, gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// One rule decides "temporarily unavailable" (database outage or a full argon2 gate) for every
// door; the PostgreSQL outage is covered by test/reliability/crash-outage.test.ts, the busy gate
// on pages and the token endpoint by test/http/brute-force.test.ts. This file covers the door
// where the copies disagreed: GraphQL answered a resolver's BusyError with HTTP 200.
describe('a full argon2 gate on the GraphQL door', () => {
  let server: TestServer;
  let admin: Auth;
  beforeAll(async () => {
    server = await startTestServer({
      env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1' },
    });
    await createUser(server.cli(), { username: 'root', password: 'root-password', isAdmin: true });
    const agent = new Agent(server.url);
    await agent.login('root', 'root-password');
    admin = { cookie: agent.cookieHeader() };
  }, 120_000);
  afterAll(() => server?.stop());

  it('RFC 9110 §15.6.4 / §10.2.3: a createUser flood past the gate gets 503 with Retry-After and SERVICE_UNAVAILABLE, like the OAuth and page doors, never 200 or 500', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        gql(
          server,
          admin,
          `mutation { createUser(input: {username: "flood${i}", password: "flood-password-${i}"}) { id } }`,
        ),
      ),
    );
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === 'SERVICE_UNAVAILABLE');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    for (const r of results.filter((r) => !refused.includes(r))) {
      expect(r.status).toBe(200);
      expect(r.errors).toBeUndefined();
    }
  });
});
