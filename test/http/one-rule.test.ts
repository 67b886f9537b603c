import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeGrantById, upsertGrant } from '../../src/services/grants.js';
import { startSession } from '../../src/services/sessions.js';
import { createUser } from '../../src/services/users.js';
import { cookieName } from '../../src/web/cookies.js';
import { gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { authorizePath, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { withStatements } from '../helpers/statements.js';

/**
 * Issue 14: each protocol decision exists once. The same table of cases goes through every
 * entry point that makes the decision, and every entry point must give the same answer.
 */

let server: TestServer;
let consenting: TestClient;
let trusted: TestClient;
let users = 0;

beforeAll(async () => {
  server = await startTestServer();
  consenting = await makeClient(server, { scopes: ['read', 'write'] });
  trusted = await makeClient(server, { scopes: ['read', 'write'], skipAuthorization: true });
});
afterAll(() => server?.stop());

const sql = () => server.runtime.db.sql;

/** A fresh user with a live session; returns an Agent carrying its cookie. */
async function loggedIn(): Promise<{ agent: Agent; userId: string; sessionId: string }> {
  const ctx = server.cli();
  const user = await createUser(ctx, { username: `one-rule-${++users}`, password: 'one-rule-password' });
  const { cookieValue, session } = await startSession(server.cli(), user.id);
  const agent = new Agent(server.url);
  agent.cookies.set(cookieName(server.runtime.config, 'session'), cookieValue);
  return { agent, userId: user.id, sessionId: session.id };
}

type Outcome = 'code' | 'consent' | 'login';

function outcomeOf(res: { status: number; text: string; location?: string }): Outcome | string {
  if (res.status === 302 && res.location) {
    const to = new URL(res.location, server.url);
    if (to.pathname === '/accounts/login/') return 'login';
    if (to.searchParams.get('code')) return 'code';
  }
  if (res.status === 200 && res.text.includes('name="consent_request"')) return 'consent';
  return `unexpected ${res.status} ${res.location ?? res.text.slice(0, 120)}`;
}

function request(client: TestClient, scope: string, extra: Record<string, string> = {}) {
  return authorizePath({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    state: 's',
    scope,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
}

/**
 * The fast path (src/oauth/authorize-fast.ts) answers a GET without prompt and max_age in one
 * statement, or passes it on. Its decision is "issued" exactly when the answer is a code after a
 * single statement (client-cache loads aside); anything else was decided by the page path behind it.
 */
async function viaFastPath(agent: Agent, path: string): Promise<{ fast: Outcome | 'pass'; final: string }> {
  const { result, statements } = await withStatements(server, () => agent.get(path));
  const final = outcomeOf(result);
  return { fast: final === 'code' && statements.length === 1 ? 'code' : 'pass', final };
}

/**
 * The page path (src/oauth/authorize.ts): a max_age no session can exceed sends the request past
 * the fast path without changing the decision.
 */
async function viaPagePath(agent: Agent, path: string): Promise<string> {
  return outcomeOf(await agent.get(`${path}&max_age=999999999`));
}

interface AuthorizationCase {
  name: string;
  client: () => TestClient;
  scope: string;
  arrange: (who: { userId: string; sessionId: string }) => Promise<void>;
  expected: Outcome;
}

const grantFor = (userId: string, client: TestClient, scopes: string[]) =>
  upsertGrant(sql(), userId, client.id, scopes);

const authorizationCases: AuthorizationCase[] = [
  {
    name: 'a live session and a grant covering the scopes',
    client: () => consenting,
    scope: 'read write',
    arrange: async ({ userId }) => void (await grantFor(userId, consenting, ['read', 'write'])),
    expected: 'code',
  },
  {
    name: 'a grant covering fewer scopes than asked',
    client: () => consenting,
    scope: 'read write',
    arrange: async ({ userId }) => void (await grantFor(userId, consenting, ['read'])),
    expected: 'consent',
  },
  {
    name: 'no grant at all',
    client: () => consenting,
    scope: 'read',
    arrange: async () => {},
    expected: 'consent',
  },
  {
    name: 'a covering grant that was revoked',
    client: () => consenting,
    scope: 'read',
    arrange: async ({ userId }) => {
      const grant = await grantFor(userId, consenting, ['read', 'write']);
      await revokeGrantById(sql(), grant.id);
    },
    expected: 'consent',
  },
  {
    name: 'skipAuthorization without any grant',
    client: () => trusted,
    scope: 'read write',
    arrange: async () => {},
    expected: 'code',
  },
  {
    name: 'a session expired by idleness',
    client: () => trusted,
    scope: 'read',
    arrange: async ({ sessionId }) => {
      await sql().execute("update sessions set expires_at = now() - interval '1 second' where id = $1", [
        sessionId,
      ]);
    },
    expected: 'login',
  },
  {
    name: 'a session past its absolute expiry (idle expiry still ahead)',
    client: () => trusted,
    scope: 'read',
    arrange: async ({ sessionId }) => {
      await sql().execute(
        "update sessions set absolute_expires_at = now() - interval '1 second', expires_at = now() + interval '1 hour' where id = $1",
        [sessionId],
      );
    },
    expected: 'login',
  },
  {
    name: 'a disabled user (session rows still present)',
    client: () => trusted,
    scope: 'read',
    arrange: async ({ userId }) => {
      await sql().execute('update users set is_active = false where id = $1', [userId]);
    },
    expected: 'login',
  },
];

describe('Issue 14: the authorization endpoint decides once (fast path = page path)', () => {
  for (const c of authorizationCases) {
    it(`RFC 6749 §4.1.1 / OIDC Core §3.1.2.3: ${c.name} → ${c.expected} on the fast path and the page path`, async () => {
      const fastWho = await loggedIn();
      await c.arrange(fastWho);
      const fast = await viaFastPath(fastWho.agent, request(c.client(), c.scope));

      const pageWho = await loggedIn();
      await c.arrange(pageWho);
      const page = await viaPagePath(pageWho.agent, request(c.client(), c.scope));

      expect(page).toBe(c.expected);
      expect(fast.final).toBe(c.expected);
      expect(fast.fast).toBe(c.expected === 'code' ? 'code' : 'pass');
    });
  }

  it('OWASP session management: the idle expiry moves on after a minute of quiet, on both paths, never past the absolute expiry', async () => {
    const idle = server.runtime.config.session.idleTimeout;
    for (const via of ['fast', 'page'] as const) {
      const who = await loggedIn();
      const expiry = async () =>
        (
          await sql().query<{ left: number }>(
            'select extract(epoch from expires_at - now())::float8 as left from sessions where id = $1',
            [who.sessionId],
          )
        )[0].left;
      // Seen 30 s ago: within the minute, nothing is written.
      await sql().execute(
        "update sessions set last_seen_at = now() - interval '30 seconds', expires_at = now() + interval '100 seconds' where id = $1",
        [who.sessionId],
      );
      const path = request(trusted, 'read');
      if (via === 'fast') await viaFastPath(who.agent, path);
      else await viaPagePath(who.agent, path);
      expect(await expiry(), via).toBeLessThan(101);
      // Seen 2 minutes ago: the idle expiry is pushed to a full idle timeout.
      await sql().execute(
        "update sessions set last_seen_at = now() - interval '2 minutes', expires_at = now() + interval '100 seconds' where id = $1",
        [who.sessionId],
      );
      if (via === 'fast') await viaFastPath(who.agent, path);
      else await viaPagePath(who.agent, path);
      expect(await expiry(), via).toBeGreaterThan(idle - 10);
    }
  });
});

interface RedemptionCase {
  name: string;
  /** Changes the request (or the stored state) before the token request; returns the form. */
  run: (
    c: { client: TestClient; other: TestClient; code: string; verifier: string; userId: string },
    form: Record<string, string>,
  ) => Promise<{ form: Record<string, string>; as?: TestClient }>;
  /** Issue the code without PKCE. */
  noPkce?: boolean;
}

const redemptionCases: RedemptionCase[] = [
  { name: 'the right client, URI and verifier (control)', run: async (_c, form) => ({ form }) },
  { name: 'another client', run: async (c, form) => ({ form, as: c.other }) },
  {
    name: 'another registered redirect_uri',
    run: async (_c, form) => ({ form: { ...form, redirect_uri: 'https://client.example.com/other' } }),
  },
  {
    name: 'a wrong code_verifier',
    run: async (_c, form) => ({ form: { ...form, code_verifier: pkce().verifier } }),
  },
  {
    name: 'no code_verifier for a code with a challenge',
    run: async (_c, form) => {
      const { code_verifier: _dropped, ...rest } = form;
      return { form: rest };
    },
  },
  {
    name: 'a code_verifier for a code without a challenge (PKCE downgrade)',
    noPkce: true,
    run: async (c, form) => ({ form: { ...form, code_verifier: c.verifier } }),
  },
  {
    name: 'an expired code',
    run: async (c, form) => {
      await sql().execute(
        "update authorization_codes set expires_at = now() - interval '1 second' where user_id = $1",
        [c.userId],
      );
      return { form };
    },
  },
  {
    name: 'a replayed code',
    run: async (c, form) => {
      const first = await postForm(server, '/o/token/', form, c.client);
      expect(first.status).toBe(200);
      return { form };
    },
  },
  {
    name: 'a code whose grant was revoked (the code itself untouched)',
    run: async (c, form) => {
      await sql().execute('update grants set revoked_at = now() where user_id = $1', [c.userId]);
      return { form };
    },
  },
  {
    name: 'a code of a user disabled since',
    run: async (c, form) => {
      await sql().execute('update users set is_active = false where id = $1', [c.userId]);
      return { form };
    },
  },
];

describe('Issue 14: code redemption decides once (opaque = JWT access tokens)', () => {
  const apps = new Map<'opaque' | 'jwt', { client: TestClient; other: TestClient }>();
  beforeAll(async () => {
    for (const format of ['opaque', 'jwt'] as const) {
      const input = {
        scopes: ['read'],
        skipAuthorization: true,
        accessTokenFormat: format,
        redirectUris: ['https://client.example.com/cb', 'https://client.example.com/other'],
      };
      apps.set(format, { client: await makeClient(server, input), other: await makeClient(server, input) });
    }
  });

  async function attempt(format: 'opaque' | 'jwt', c: RedemptionCase) {
    const { client, other } = apps.get(format)!;
    const who = await loggedIn();
    const { verifier, challenge } = pkce();
    const res = await who.agent.get(
      authorizePath({
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        scope: 'read',
        ...(c.noPkce ? {} : { code_challenge: challenge, code_challenge_method: 'S256' }),
      }),
    );
    const code = new URL(res.location!, server.url).searchParams.get('code');
    expect(code, res.text).toBeTruthy();
    const form = {
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
    };
    const { form: sent, as } = await c.run(
      { client, other, code: code!, verifier, userId: who.userId },
      c.noPkce ? { grant_type: form.grant_type, code: form.code, redirect_uri: form.redirect_uri } : form,
    );
    const answer = await postForm(server, '/o/token/', sent, as ?? client);
    return { status: answer.status, error: answer.json.error, description: answer.json.error_description };
  }

  for (const c of redemptionCases) {
    it(`RFC 6749 §4.1.3 / RFC 7636 §4.6: ${c.name} gets the same answer for opaque and JWT access tokens`, async () => {
      const opaque = await attempt('opaque', c);
      const jwt = await attempt('jwt', c);
      expect(jwt).toEqual(opaque);
      if (c.name.includes('control')) expect(opaque.status).toBe(200);
      else expect(opaque).toMatchObject({ status: 400, error: 'invalid_grant' });
    });
  }
});

describe('Issue 14: "active" means one thing for every reader of a token', () => {
  it('RFC 7662 §2.2: a disabled user’s unrevoked access token is inactive for introspection, the GraphQL token list and the active-token count alike', async () => {
    const app = await makeClient(server, { scopes: ['read'], skipAuthorization: true });
    const introspector = await makeClient(server, {
      grantTypes: ['client_credentials'],
      redirectUris: [],
      scopes: ['introspection'],
    });
    const who = await loggedIn();
    const { verifier, challenge } = pkce();
    const res = await who.agent.get(
      authorizePath({
        response_type: 'code',
        client_id: app.clientId,
        redirect_uri: app.redirectUri,
        scope: 'read',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    const code = new URL(res.location!, server.url).searchParams.get('code')!;
    const issued = await postForm(
      server,
      '/o/token/',
      { grant_type: 'authorization_code', code, redirect_uri: app.redirectUri, code_verifier: verifier },
      app,
    );
    expect(issued.status).toBe(200);
    // Disabled behind the service's back (as between updateUser's flush and its revocation):
    // the token row is not revoked; only the user is.
    await sql().execute('update users set is_active = false where id = $1', [who.userId]);

    const introspected = await postForm(
      server,
      '/o/introspect/',
      { token: issued.json.access_token as string },
      introspector,
    );
    expect(introspected.json.active).toBe(false);

    const admin = await createUser(server.cli(), {
      username: `one-rule-admin-${++users}`,
      password: 'one-rule-password',
      isAdmin: true,
    });
    const { cookieValue } = await startSession(server.cli(), admin.id);
    const auth = { cookie: `${cookieName(server.runtime.config, 'session')}=${cookieValue}` };
    const listed = await gql(
      server,
      auth,
      `{ tokens(first: 10, filter: {applicationId: "${app.id}", kind: ACCESS}) { edges { node { active } } }
         active: tokens(first: 10, filter: {applicationId: "${app.id}", kind: ACCESS, active: true}) { totalCount }
         applications(first: 100) { edges { node { id activeTokenCount } } } }`,
    );
    expect(listed.errors).toBeUndefined();
    const data = listed.data as {
      tokens: { edges: Array<{ node: { active: boolean } }> };
      active: { totalCount: number };
      applications: { edges: Array<{ node: { id: string; activeTokenCount: number } }> };
    };
    expect(data.tokens.edges.map((e) => e.node.active)).toEqual([false]);
    expect(data.active.totalCount).toBe(0);
    expect(data.applications.edges.find((e) => e.node.id === app.id)?.node.activeTokenCount).toBe(0);
  });
});
