import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { gql } from '../helpers/graphql.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import {
  authorize,
  authorizePath,
  codeFlow,
  makeClient,
  pkce,
  postForm,
  type TestClient,
} from '../helpers/oauth.js';
import { type Backend, startTestServer, type TestServer } from '../helpers/server.js';

for (const backend of ['postgresql', 'pglite'] as Backend[]) {
  describe(`races on ${backend}`, () => {
    let server: TestServer;
    let web: TestClient;
    let resource: TestClient;
    let alice: Agent;
    beforeAll(async () => {
      // The parallel-refresh case is what the opt-in concurrency window is for (off by default).
      // 30 s, not a realistic 2: on a loaded 2-core machine the last of 50 parallel refreshes on
      // PGlite's one connection can be answered seconds after the rotation, and this test is
      // about atomicity (one winner, no 5xx), not about where the window ends.
      server = await startTestServer({ backend, env: { REFRESH_CONCURRENCY_WINDOW_SECONDS: '30' } });
      await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
      web = await makeClient(server, { skipAuthorization: true });
      resource = await makeClient(server, {
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scopes: ['introspection'],
      });
      alice = new Agent(server.url);
      await alice.login('alice', 'alice-pass');
    });
    afterAll(() => server?.stop());

    const active = async (token: string) =>
      (await postForm(server, '/o/introspect/', { token }, resource)).json.active;

    it('RFC 6749 §4.1.2: 50 parallel redemptions of one code → exactly one token, the rest invalid_grant, no 5xx', async () => {
      const { verifier, challenge } = pkce();
      const { location } = await authorize(alice, {
        response_type: 'code',
        client_id: web.clientId,
        redirect_uri: web.redirectUri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      const form = {
        grant_type: 'authorization_code',
        code: location.searchParams.get('code')!,
        redirect_uri: web.redirectUri,
        code_verifier: verifier,
      };
      const results = await Promise.all(
        Array.from({ length: 50 }, () => postForm(server, '/o/token/', form, web)),
      );
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of results)
        if (r.status !== 200) expect([400, r.json.error]).toEqual([400, 'invalid_grant']);
      const issued = await server.runtime.db.sql.query<{ n: number }>(
        'select count(*)::int as n from access_tokens where application_id = $1 and family_id = (select id from authorization_codes order by created_at desc limit 1)',
        [web.id],
      );
      expect(issued[0].n).toBe(1);
    });

    it('OAuth 2.1 §4.3.1: 50 parallel refreshes of one token → exactly one fresh pair, family intact, no 5xx', async () => {
      const first = await codeFlow(server, alice, web);
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          postForm(
            server,
            '/o/token/',
            { grant_type: 'refresh_token', refresh_token: first.refresh_token as string },
            web,
          ),
        ),
      );
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      expect(results.every((r) => r.status === 200 || r.json.error === 'invalid_grant')).toBe(true);
      expect(await active(winners[0].json.access_token as string)).toBe(true);
      const next = await postForm(
        server,
        '/o/token/',
        { grant_type: 'refresh_token', refresh_token: winners[0].json.refresh_token as string },
        web,
      );
      expect(next.status).toBe(200);
    });

    it('parallel rotateClientSecret → exactly one of the returned secrets works afterwards', async () => {
      const owner = await createUser(server.cli(), {
        username: `rot-${backend}`,
        password: 'rotate-pass',
        isAdmin: false,
      });
      const agent = new Agent(server.url);
      await agent.login(owner.username, 'rotate-pass');
      const auth = { cookie: agent.cookieHeader() };
      const created = await gql(
        server,
        auth,
        'mutation { createApplication(input: {name: "R", clientType: CONFIDENTIAL, grantTypes: [CLIENT_CREDENTIALS]}) { clientSecret application { id clientId } } }',
      );
      const app = (created.data!.createApplication as { application: { id: string; clientId: string } })
        .application;
      const rotations = await Promise.all(
        Array.from({ length: 10 }, () =>
          gql(server, auth, `mutation { rotateClientSecret(id: "${app.id}") { clientSecret } }`),
        ),
      );
      const secrets = rotations.map(
        (r) => (r.data!.rotateClientSecret as { clientSecret: string }).clientSecret,
      );
      expect(new Set(secrets).size).toBe(10);
      const working = [];
      for (const secret of secrets) {
        const res = await postForm(
          server,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId: app.clientId, clientSecret: secret },
        );
        if (res.status === 200) working.push(secret);
      }
      expect(working).toHaveLength(1);
    });

    it('RFC 6749 §4.4: 200 concurrent client_credentials requests (batched writes) each get a distinct token that introspects active', async () => {
      const cc = await makeClient(server, {
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scopes: ['read'],
      });
      const issued = await Promise.all(
        Array.from({ length: 200 }, () =>
          postForm(server, '/o/token/', { grant_type: 'client_credentials' }, cc),
        ),
      );
      expect(issued.every((r) => r.status === 200)).toBe(true);
      const tokens = issued.map((r) => r.json.access_token as string);
      expect(new Set(tokens).size).toBe(200);
      const checks = await Promise.all(
        tokens.map((t) => postForm(server, '/o/introspect/', { token: t }, cc)),
      );
      expect(checks.every((r) => r.json.active === true && r.json.client_id === cc.clientId)).toBe(true);
    });

    it('parallel consent submissions → one grant', async () => {
      const app = await makeClient(server);
      const page = await alice.get(
        authorizePath({
          response_type: 'code',
          client_id: app.clientId,
          redirect_uri: app.redirectUri,
          code_challenge: pkce().challenge,
          code_challenge_method: 'S256',
        }),
      );
      const hidden = hiddenInputs(page.text, '/o/authorize/');
      const results = await Promise.all(
        Array.from({ length: 20 }, () => alice.post('/o/authorize/', { ...hidden, allow: 'Allow' })),
      );
      expect(results.every((r) => r.status === 302)).toBe(true);
      const grants = await server.runtime.db.sql.query<{ n: number }>(
        'select count(*)::int as n from grants where application_id = $1',
        [app.id],
      );
      expect(grants[0].n).toBe(1);
    });
  });
}
