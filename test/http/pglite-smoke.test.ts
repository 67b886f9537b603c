import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { codeFlow, makeClient, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ backend: 'pglite' });
});
afterAll(() => server?.stop());

describe('smoke run on embedded PGlite', () => {
  it('RFC 6749 §4.1, §4.4, §6, RFC 7009, RFC 7662: the core flows work on PGlite as on PostgreSQL', async () => {
    await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
    const web = await makeClient(server, { skipAuthorization: true });
    const cc = await makeClient(server, {
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scopes: ['read', 'introspection'],
    });

    const issued = await postForm(
      server,
      '/o/token/',
      { grant_type: 'client_credentials', scope: 'read' },
      cc,
    );
    expect(issued.status).toBe(200);

    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const tokens = await codeFlow(server, agent, web);
    const refreshed = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string },
      web,
    );
    expect(refreshed.status).toBe(200);
    const parallel = await Promise.all(
      Array.from({ length: 10 }, () =>
        postForm(
          server,
          '/o/token/',
          { grant_type: 'refresh_token', refresh_token: refreshed.json.refresh_token as string },
          web,
        ),
      ),
    );
    expect(parallel.filter((r) => r.status === 200)).toHaveLength(1);
    expect(parallel.every((r) => r.status < 500)).toBe(true);

    const info = await postForm(server, '/o/introspect/', { token: issued.json.access_token as string }, cc);
    expect(info.json.active).toBe(true);
    expect(
      (await postForm(server, '/o/revoke_token/', { token: issued.json.access_token as string }, cc)).status,
    ).toBe(200);
    expect(
      (await postForm(server, '/o/introspect/', { token: issued.json.access_token as string }, cc)).json,
    ).toEqual({ active: false });
  });
});
