import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, type JWTPayload, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/services/backchannel-logout.js';
import { startSession } from '../../src/services/sessions.js';
import { createUser } from '../../src/services/users.js';
import { cookieName } from '../../src/web/cookies.js';
import { gql } from '../helpers/graphql.js';
import { Agent } from '../helpers/http.js';
import { authorize, codeFlow, makeClient, pkce, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * OpenID Connect Back-Channel Logout 1.0: every kind of logout (the logout page, RP-initiated
 * logout, an admin disabling a user, sessions ended by a password change) makes Latchkey POST a
 * logout token to each application the session signed in to that registered a
 * backchannel_logout_uri. A receiver inside the test validates each token with jose against
 * Latchkey's JWKS, the way an RP would.
 */

type Mode = 'ok' | 'down' | 'hang' | 'redirect';

interface Received {
  path: string;
  token: string;
  claims: JWTPayload;
  header: { typ?: string; alg?: string };
  at: number;
}

/** An RP's back-channel endpoint: every path is one application's URI. */
class Receiver {
  readonly received: Received[] = [];
  readonly modes = new Map<string, Mode>();
  readonly invalid: string[] = [];
  delayMs = 0;
  private readonly server: http.Server;
  private readonly hanging: http.ServerResponse[] = [];
  private waiters: Array<() => void> = [];

  constructor() {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => void this.handle(req, res, body));
    });
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  uri(name: string): string {
    return `http://127.0.0.1:${this.port}/bcl/${name}?tenant=t1`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, body: string) {
    const path = (req.url ?? '').split('?')[0];
    const mode = this.modes.get(path) ?? 'ok';
    if (mode === 'hang') {
      this.hanging.push(res);
      return;
    }
    if (mode === 'down') {
      res.writeHead(503).end();
      return;
    }
    if (mode === 'redirect') {
      res.writeHead(307, { Location: '/bcl/redirected' }).end();
      return;
    }
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const type = req.headers['content-type'] ?? '';
    const token = new URLSearchParams(body).get('logout_token');
    if (req.method !== 'POST' || !type.startsWith('application/x-www-form-urlencoded') || !token) {
      this.invalid.push(`${req.method} ${type} ${body.slice(0, 100)}`);
      res.writeHead(400).end();
      return;
    }
    const [headerPart] = token.split('.');
    this.received.push({
      path,
      token,
      claims: decodeJwt(token),
      header: JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8')),
      at: Date.now(),
    });
    res.writeHead(200, { 'Cache-Control': 'no-store' }).end();
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `count` tokens reached `path` (or any path when omitted). */
  async waitFor(count: number, path?: string, timeoutMs = 15_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.received.filter((r) => path === undefined || r.path === path);
      if (got.length >= count) return got;
      if (Date.now() > deadline)
        throw new Error(`expected ${count} logout tokens at ${path}, got ${got.length}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Waits until a delivery is being held open. */
  async waitForHanging(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.hanging.length === 0) {
      if (Date.now() > deadline) throw new Error('no delivery arrived to hang');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * What an RP checks (§2.6): the signature against the OP's JWKS, iss, aud = its client_id, a
 * recent iat, `typ` logout+jwt (§2.4, RFC 8725 §3.11), the events member, sub and/or sid, a jti,
 * and no nonce.
 */
async function validateLogoutToken(server: TestServer, token: string, clientId: string): Promise<JWTPayload> {
  const jwks = createRemoteJWKSet(new URL('/o/jwks/', server.url));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer: server.runtime.config.issuer,
    audience: clientId,
    typ: 'logout+jwt',
    maxTokenAge: '2 minutes',
    requiredClaims: ['iat', 'exp', 'jti', 'events'],
  });
  expect(protectedHeader.typ).toBe('logout+jwt');
  expect(payload.events).toEqual({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
  expect(payload).not.toHaveProperty('nonce');
  expect(typeof payload.jti).toBe('string');
  expect((payload.jti as string).length).toBeGreaterThanOrEqual(16);
  expect(typeof payload.sub === 'string' || typeof payload.sid === 'string').toBe(true);
  expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
  return payload;
}

const ENV = {
  OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true',
  BACKCHANNEL_LOGOUT_RETRY_BASE: '1',
  BACKCHANNEL_LOGOUT_POLL_INTERVAL: '1',
  DYNAMIC_REGISTRATION: 'open',
};

let server: TestServer;
let receiver: Receiver;
let userCount = 0;

beforeAll(async () => {
  receiver = new Receiver();
  await receiver.listen();
  server = await startTestServer({ env: ENV });
  await createUser(server.cli(), { username: 'admin', password: 'admin-password', isAdmin: true });
});

afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

/** A fresh user, logged in through the login page. */
async function loggedInUser(): Promise<{ id: string; username: string; password: string; agent: Agent }> {
  const username = `user${++userCount}`;
  const password = `${username}-password`;
  const user = await createUser(server.cli(), { username, password });
  const agent = new Agent(server.url);
  await agent.login(username, password);
  return { id: user.id, username, password, agent };
}

/** An application (skipping consent, as the CLI may register it) with a back-channel logout URI. */
async function app(name: string | null, extra: Parameters<typeof makeClient>[1] = {}): Promise<TestClient> {
  return makeClient(server, {
    grantTypes: ['authorization_code'],
    scopes: ['openid', 'profile'],
    skipAuthorization: true,
    ...(name ? { backchannelLogoutUri: receiver.uri(name) } : {}),
    ...extra,
  });
}

/** Signs the agent's session in to the application: a code flow with openid; returns the ID Token claims. */
async function signIn(agent: Agent, client: TestClient): Promise<JWTPayload & { idToken: string }> {
  const tokens = await codeFlow(server, agent, client, { scope: 'openid', nonce: 'n-0S6' });
  const idToken = tokens.id_token as string;
  return { ...decodeJwt(idToken), idToken };
}

function tokensAt(name: string): Received[] {
  return receiver.received.filter((r) => r.path === `/bcl/${name}`);
}

async function queued(where = 'true', target: TestServer = server): Promise<number> {
  const rows = await target.runtime.db.sql.query<{ n: number }>(
    `select count(*)::int as n from backchannel_logouts where ${where}`,
  );
  return rows[0].n;
}

/** A session made as the login page makes it (no password hashing), signed in to `client` through the authorization endpoint. */
async function signedInSession(
  target: TestServer,
  userId: string,
  client: TestClient,
): Promise<{ agent: Agent; session: { id: string } }> {
  const { cookieValue, session } = await startSession(target.cli(), userId);
  const agent = new Agent(target.url);
  agent.cookies.set(cookieName(target.runtime.config, 'session'), cookieValue);
  const { challenge } = pkce();
  await authorize(agent, {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: 'openid',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return { agent, session };
}

interface QueueRow {
  attempts: number;
  last_error: string | null;
  jti: string;
}

/** Polls the queue row of the application until `until` holds (or 10 s pass); returns the last read. */
async function waitForRow(
  sql: { query<R extends object>(text: string, params?: readonly unknown[]): Promise<R[]> },
  clientId: string,
  until: (row: QueueRow) => boolean,
  timeoutMs = 10_000,
): Promise<QueueRow | undefined> {
  const deadline = Date.now() + timeoutMs;
  let row: QueueRow | undefined;
  while (Date.now() < deadline) {
    [row] = await sql.query<QueueRow>(
      `select b.attempts, b.last_error, b.jti from backchannel_logouts b
         join applications a on a.id = b.application_id where a.client_id = $1`,
      [clientId],
    );
    if (row && until(row)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return row;
}

describe('OIDC Back-Channel Logout 1.0', () => {
  it('§2.1: discovery announces back-channel logout with session support', async () => {
    const res = await fetch(new URL('/.well-known/openid-configuration', server.url));
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta.backchannel_logout_supported).toBe(true);
    expect(meta.backchannel_logout_session_supported).toBe(true);
  });

  it('§2.4, §2.5: the logout page notifies both applications the session signed in to — a valid logout_token each, matching the ID Token sub/sid — and neither the one it never used nor the one without a URI', async () => {
    const a = await app('page-a');
    // B asks for consent: its code comes from the consent page's path, A's from the fast path.
    const b = await app('page-b', { backchannelLogoutSessionRequired: true, skipAuthorization: false });
    const unused = await app('page-unused');
    const noUri = await app(null);
    const user = await loggedInUser();
    const idA = await signIn(user.agent, a);
    const idB = await signIn(user.agent, b);
    await signIn(user.agent, noUri);
    // OIDC Back-Channel Logout §2.1 / Front-Channel §3: the ID Token carries the session id.
    expect(typeof idA.sid).toBe('string');
    expect(idB.sid).toBe(idA.sid);

    const res = await user.agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
    expect(res.status).toBe(303);
    const [atA] = await receiver.waitFor(1, '/bcl/page-a');
    const [atB] = await receiver.waitFor(1, '/bcl/page-b');
    const claimsA = await validateLogoutToken(server, atA.token, a.clientId);
    const claimsB = await validateLogoutToken(server, atB.token, b.clientId);
    expect(claimsA).toMatchObject({ sub: idA.sub, sid: idA.sid });
    expect(claimsB).toMatchObject({ sub: idB.sub, sid: idB.sid });
    expect(claimsA.jti).not.toBe(claimsB.jti);
    // The token is for its audience only: the other application's client_id does not verify.
    await expect(validateLogoutToken(server, atA.token, b.clientId)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 500));
    expect(tokensAt('page-unused')).toEqual([]);
    expect(tokensAt('page-a')).toHaveLength(1);
    expect(await queued()).toBe(0);
    expect(receiver.invalid).toEqual([]);
    void unused;
  });

  it('§2.5: RP-initiated logout (id_token_hint) notifies the applications of the ended session', async () => {
    const a = await app('rp-a');
    const user = await loggedInUser();
    const id = await signIn(user.agent, a);
    const res = await user.agent.get(
      `/o/logout/?${new URLSearchParams({ id_token_hint: id.idToken, client_id: a.clientId })}`,
    );
    expect(res.status).toBe(200);
    expect(res.text).toContain('Logged out');
    const [got] = await receiver.waitFor(1, '/bcl/rp-a');
    expect(await validateLogoutToken(server, got.token, a.clientId)).toMatchObject({
      sub: user.id,
      sid: id.sid,
    });
  });

  it('§2.5: an admin disabling a user through GraphQL notifies the applications of every session of the user, each with its own sid', async () => {
    const a = await app('disable-a');
    const user = await loggedInUser();
    const second = new Agent(server.url);
    await second.login(user.username, user.password);
    const first = await signIn(user.agent, a);
    const other = await signIn(second, a);
    expect(first.sid).not.toBe(other.sid);
    const admin = new Agent(server.url);
    await admin.login('admin', 'admin-password');
    const result = await gql(
      server,
      { cookie: admin.cookieHeader() },
      'mutation($id: ID!) { updateUser(id: $id, input: { isActive: false }) { id isActive } }',
      { id: user.id },
    );
    expect(result.errors).toBeUndefined();
    const got = await receiver.waitFor(2, '/bcl/disable-a');
    const claims = await Promise.all(got.map((r) => validateLogoutToken(server, r.token, a.clientId)));
    expect(claims.map((c) => c.sid).sort()).toEqual([first.sid, other.sid].sort());
    expect(claims.every((c) => c.sub === user.id)).toBe(true);
  });

  it('§2.5: a password change on /accounts/security/ ends the other sessions and notifies their applications, not the current session’s', async () => {
    const a = await app('password-a');
    const user = await loggedInUser();
    const other = new Agent(server.url);
    await other.login(user.username, user.password);
    const current = await signIn(user.agent, a);
    const ended = await signIn(other, a);
    const res = await user.agent.submitForm(
      '/accounts/security/',
      { current_password: user.password, new_password: 'brand-new-pass', confirm_password: 'brand-new-pass' },
      '/accounts/security/password/',
    );
    expect(res.status).toBe(303);
    const [got] = await receiver.waitFor(1, '/bcl/password-a');
    expect(await validateLogoutToken(server, got.token, a.clientId)).toMatchObject({ sid: ended.sid });
    await new Promise((r) => setTimeout(r, 500));
    expect(tokensAt('password-a').map((r) => r.claims.sid)).not.toContain(current.sid);
  });

  it('§2.5: a new login replacing the browser’s session notifies the applications of the replaced session', async () => {
    const a = await app('relogin-a');
    const user = await loggedInUser();
    const before = await signIn(user.agent, a);
    // prompt=login: the application asks for a fresh login although a session exists.
    const again = await user.agent.submitForm(
      '/accounts/login/?prompt=login',
      { username: user.username, password: user.password },
      '/accounts/login/',
    );
    expect(again.status).toBe(303);
    const got = await receiver.waitFor(1, '/bcl/relogin-a');
    expect(got[0].claims.sid).toBe(before.sid);
  });

  it('§2.8: the logout page answers at once while an RP hangs; the delivery waits in the background and is retried', async () => {
    const a = await app('hang-a');
    receiver.modes.set('/bcl/hang-a', 'hang');
    const user = await loggedInUser();
    await signIn(user.agent, a);
    const started = Date.now();
    const res = await user.agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
    expect(res.status).toBe(303);
    expect(Date.now() - started).toBeLessThan(1500);
    await receiver.waitForHanging();
    expect(await queued()).toBeGreaterThanOrEqual(1);
    // The other pages answer too while the delivery hangs (it holds no database connection).
    const t = Date.now();
    expect((await fetch(new URL('/healthz', server.url))).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(1000);
    receiver.modes.set('/bcl/hang-a', 'ok');
    // The hung attempt times out (5 s), then the retry gets through.
    const [got] = await receiver.waitFor(1, '/bcl/hang-a', 20_000);
    await validateLogoutToken(server, got.token, a.clientId);
  }, 30_000);

  it('§2.8: an RP answering an error is retried with a fresh iat/exp and the same jti until it answers 200', async () => {
    const a = await app('retry-a');
    receiver.modes.set('/bcl/retry-a', 'down');
    const user = await loggedInUser();
    await signIn(user.agent, a);
    await user.agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
    const row = await waitForRow(server.runtime.db.sql, a.clientId, (r) => r.attempts >= 2);
    expect(row?.attempts).toBeGreaterThanOrEqual(2);
    expect(row?.last_error).toBe('HTTP 503');
    receiver.modes.set('/bcl/retry-a', 'ok');
    const [got] = await receiver.waitFor(1, '/bcl/retry-a', 15_000);
    const claims = await validateLogoutToken(server, got.token, a.clientId);
    expect(claims.jti).toBe(row?.jti);
    expect(await queued(`jti = '${row?.jti}'`)).toBe(0);
  }, 30_000);

  it('§2.2: hostile backchannel_logout_uri values are refused at registration with invalid_client_metadata; a query is kept', async () => {
    const register = (uri: unknown) =>
      fetch(new URL('/o/register/', server.url), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          client_name: 'hostile',
          redirect_uris: ['https://rp.example/cb'],
          backchannel_logout_uri: uri,
        }),
      });
    for (const uri of [
      'https://rp.example/logout#frag',
      'http://rp.example/logout',
      'javascript:alert(1)',
      'https://user:pw@rp.example/logout',
      'logout',
      `https://rp.example/${'a'.repeat(3000)}`,
      'https://rp.example/\u0000x',
      42,
    ]) {
      const res = await register(uri);
      expect(res.status, String(uri).slice(0, 60)).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
    const ok = await register('https://rp.example/logout?tenant=a');
    expect(ok.status).toBe(201);
    const body = (await ok.json()) as Record<string, unknown>;
    expect(body.backchannel_logout_uri).toBe('https://rp.example/logout?tenant=a');
    expect(body.backchannel_logout_session_required).toBe(false);
  });

  it('§2.2: without OUTBOUND_ALLOW_PRIVATE_NETWORK, plain http is refused even on loopback (GraphQL, typed error)', async () => {
    const strict = await startTestServer({ backend: 'pglite' });
    try {
      await createUser(strict.cli(), { username: 'root', password: 'root-password', isAdmin: true });
      const admin = new Agent(strict.url);
      await admin.login('root', 'root-password');
      const create = (uri: string) =>
        gql(
          strict,
          { cookie: admin.cookieHeader() },
          `mutation($uri: String) { createApplication(input: { name: "x", clientType: CONFIDENTIAL,
             grantTypes: [AUTHORIZATION_CODE], redirectUris: ["https://rp.example/cb"], backchannelLogoutUri: $uri })
             { application { backchannelLogoutUri backchannelLogoutSessionRequired } } }`,
          { uri },
        );
      const refused = await create('http://127.0.0.1:9/logout');
      expect(refused.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
      const ok = await create('https://rp.example/logout');
      expect(ok.errors).toBeUndefined();
      expect(ok.data?.createApplication).toMatchObject({
        application: {
          backchannelLogoutUri: 'https://rp.example/logout',
          backchannelLogoutSessionRequired: false,
        },
      });
    } finally {
      await strict.stop();
    }
  });

  it('§2.8: a URI the outbound client refuses at delivery (link-local metadata address) fails the attempt, records why, and breaks nothing', async () => {
    const evil = await makeClient(server, {
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      skipAuthorization: true,
      backchannelLogoutUri: 'https://169.254.169.254/latest/meta-data',
    });
    const good = await app('beside-evil');
    const user = await loggedInUser();
    await signIn(user.agent, evil);
    await signIn(user.agent, good);
    await user.agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
    await receiver.waitFor(1, '/bcl/beside-evil');
    const row = await waitForRow(server.runtime.db.sql, evil.clientId, (r) => r.last_error !== null);
    expect(row?.last_error).toBe('address_not_allowed');
    expect((await fetch(new URL('/healthz', server.url))).status).toBe(200);
  });

  it('§2.8: a redirect from the RP is a failed attempt, never followed (POST through the outbound client)', async () => {
    const a = await app('redirecting');
    receiver.modes.set('/bcl/redirecting', 'redirect');
    const user = await loggedInUser();
    await signIn(user.agent, a);
    await user.agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
    const row = await waitForRow(server.runtime.db.sql, a.clientId, (r) => r.last_error !== null);
    expect(row?.last_error).toBe('HTTP 307');
    expect(tokensAt('redirected')).toEqual([]);
  });

  it('CLI: create-application --backchannel-logout-uri URL --backchannel-logout-session-required prints them; a URI with a fragment is one error line', async () => {
    const { runCli } = await import('../helpers/process.js');
    await createUser(server.cli(), { username: 'cli-owner', password: 'cli-owner-password' });
    const env = { DATABASE_URL: server.database!.url, ISSUER: server.runtime.config.issuer };
    const args = [
      'create-application',
      '--owner',
      'cli-owner',
      '--name',
      'CLI RP',
      '--client-type',
      'confidential',
    ];
    const base = [...args, '--grant-types', 'authorization_code', '--redirect-uris', 'https://rp.example/cb'];
    const made = await runCli(
      [
        ...base,
        '--backchannel-logout-uri',
        'https://rp.example/bcl?x=1',
        '--backchannel-logout-session-required',
      ],
      env,
    );
    expect(made.code, made.stderr).toBe(0);
    const out = JSON.parse(made.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({
      backchannel_logout_uri: 'https://rp.example/bcl?x=1',
      backchannel_logout_session_required: true,
    });
    const bad = await runCli([...base, '--backchannel-logout-uri', 'https://rp.example/bcl#f'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('fragment');
  }, 120_000);

  it('§2.5: the application form page registers a back-channel logout URI and shows it', async () => {
    const user = await loggedInUser();
    const res = await user.agent.submitForm(
      '/o/applications/register/',
      {
        name: 'Form app',
        client_type: 'confidential',
        grant_types: 'authorization_code',
        redirect_uris: 'https://rp.example/cb',
        scopes: 'openid',
        backchannel_logout_uri: 'https://rp.example/bcl',
        backchannel_logout_session_required: 'on',
      },
      '/o/applications/register/',
    );
    expect(res.status).toBe(303);
    const detail = await user.agent.get(res.location!);
    expect(detail.text).toContain('https://rp.example/bcl');
    expect(detail.text).toContain('sid required');
    const bad = await user.agent.submitForm(
      '/o/applications/register/',
      {
        name: 'Form app 2',
        client_type: 'confidential',
        grant_types: 'authorization_code',
        redirect_uris: 'https://rp.example/cb',
        scopes: 'openid',
        backchannel_logout_uri: 'https://rp.example/bcl#x',
      },
      '/o/applications/register/',
    );
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('must not contain a fragment');
  });
});

describe('OIDC Back-Channel Logout 1.0: the queue', () => {
  it('§2.5: on embedded PGlite too, the logout page queues and delivers (same statements, no LISTEN connection)', async () => {
    const embedded = await startTestServer({ backend: 'pglite', env: ENV });
    try {
      const client = await makeClient(embedded, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        skipAuthorization: true,
        backchannelLogoutUri: receiver.uri('pglite'),
      });
      await createUser(embedded.cli(), { username: 'lite', password: 'lite-password' });
      const agent = new Agent(embedded.url);
      await agent.login('lite', 'lite-password');
      const tokens = await codeFlow(embedded, agent, client, { scope: 'openid' });
      await agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
      const [got] = await receiver.waitFor(1, '/bcl/pglite');
      const claims = await validateLogoutToken(embedded, got.token, client.clientId);
      expect(claims.sid).toBe(decodeJwt(tokens.id_token as string).sid);
    } finally {
      await embedded.stop();
    }
  });

  it('§2.5 (bounded queue): beyond BACKCHANNEL_LOGOUT_MAX_PENDING the oldest logout tokens are dropped, logged, and the newest kept', async () => {
    const down = new Receiver();
    await down.listen();
    const bounded = await startTestServer({
      env: { ...ENV, BACKCHANNEL_LOGOUT_MAX_PENDING: '3', BACKCHANNEL_LOGOUT_RETRY_BASE: '3600' },
    });
    try {
      down.modes.set('/bcl/q', 'down');
      const client = await makeClient(bounded, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        skipAuthorization: true,
        backchannelLogoutUri: down.uri('q'),
      });
      const user = await createUser(bounded.cli(), { username: 'q', password: 'q-password' });
      const sids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { agent, session } = await signedInSession(bounded, user.id, client);
        sids.push(session.id);
        await agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
      }
      const rows = await bounded.runtime.db.sql.query<{ sid: string }>('select sid from backchannel_logouts');
      expect(rows.map((r) => r.sid).sort()).toEqual(sids.slice(2).sort());
      const fs = await import('node:fs');
      await new Promise((r) => setTimeout(r, 200));
      expect(fs.readFileSync(bounded.logFile, 'utf8')).toContain('back-channel logout queue full');
    } finally {
      await bounded.stop();
      await down.close();
    }
  });

  it('§2.8: after BACKCHANNEL_LOGOUT_MAX_ATTEMPTS failed attempts a logout token is given up — logged and counted in latchkey_backchannel_logouts_total with the deliveries', async () => {
    const { freePort } = await import('../helpers/ports.js');
    const { scrape, sumOf } = await import('../helpers/prometheus.js');
    const counted = await startTestServer({
      env: { ...ENV, BACKCHANNEL_LOGOUT_MAX_ATTEMPTS: '2', METRICS_PORT: String(await freePort()) },
    });
    try {
      const before = await scrape(counted.metricsUrl!);
      const metric = 'latchkey_backchannel_logouts_total';
      receiver.modes.set('/bcl/give-up', 'down');
      const failing = await makeClient(counted, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        skipAuthorization: true,
        backchannelLogoutUri: receiver.uri('give-up'),
      });
      const working = await makeClient(counted, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        skipAuthorization: true,
        backchannelLogoutUri: receiver.uri('counted'),
      });
      const user = await createUser(counted.cli(), { username: 'counted', password: 'counted-password' });
      const { agent } = await signedInSession(counted, user.id, failing);
      await authorize(agent, {
        response_type: 'code',
        client_id: working.clientId,
        redirect_uri: working.redirectUri,
        scope: 'openid',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
      });
      await agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');
      await receiver.waitFor(1, '/bcl/counted');
      const deadline = Date.now() + 15_000;
      while ((await queued(`application_id = '${failing.id}'`, counted)) > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await queued(`application_id = '${failing.id}'`, counted)).toBe(0);
      const after = await scrape(counted.metricsUrl!);
      const delta = (outcome: string) =>
        sumOf(after, metric, { outcome }) - sumOf(before, metric, { outcome });
      expect(delta('delivered')).toBeGreaterThanOrEqual(1);
      expect(delta('failed')).toBeGreaterThanOrEqual(2);
      expect(delta('given_up')).toBeGreaterThanOrEqual(1);
      const fs = await import('node:fs');
      expect(fs.readFileSync(counted.logFile, 'utf8')).toContain('back-channel logout given up');
    } finally {
      await counted.stop();
    }
  }, 30_000);

  it('§2.5: two instances sharing the queue never deliver the same logout token twice (FOR UPDATE SKIP LOCKED with a lease)', async () => {
    const counting = new Receiver();
    await counting.listen();
    counting.delayMs = 150;
    const first = await startTestServer({ env: { ...ENV, BACKCHANNEL_LOGOUT_POLL_INTERVAL: '3600' } });
    const second = await startTestServer({
      databaseUrl: first.runtime.config.database.url,
      env: { ...ENV, BACKCHANNEL_LOGOUT_POLL_INTERVAL: '3600' },
    });
    try {
      const client = await makeClient(first, {
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        backchannelLogoutUri: counting.uri('twice'),
      });
      const n = 40;
      // Rows as the logout statement queues them, arranged directly: this is about the workers.
      await first.runtime.db.sql.execute(
        `insert into backchannel_logouts (id, application_id, sub, sid, jti, expires_at)
         select gen_random_uuid(), $1, 'user', gen_random_uuid()::text, 'jti-' || g, now() + interval '1 hour'
           from generate_series(1, $2::int) g`,
        [client.id, n],
      );
      first.runtime.backchannelLogouts.kick();
      second.runtime.backchannelLogouts.kick();
      const got = await counting.waitFor(n, '/bcl/twice', 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      const jtis = counting.received.map((r) => r.claims.jti);
      expect(jtis).toHaveLength(n);
      expect(new Set(jtis).size).toBe(n);
      expect(got.length).toBe(n);
      const left = await first.runtime.db.sql.query<{ n: number }>(
        'select count(*)::int as n from backchannel_logouts',
      );
      expect(left[0].n).toBe(0);
      // Both instances took part (each logs its deliveries).
      const fs = await import('node:fs');
      const delivered = (file: string) =>
        fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.includes('back-channel logout delivered')).length;
      await new Promise((r) => setTimeout(r, 200));
      const [byFirst, bySecond] = [delivered(first.logFile), delivered(second.logFile)];
      expect(byFirst + bySecond).toBe(n);
      expect(byFirst).toBeGreaterThan(0);
      expect(bySecond).toBeGreaterThan(0);
    } finally {
      await second.close();
      await first.stop();
      await counting.close();
    }
  }, 60_000);
});

describe('OIDC Back-Channel Logout 1.0: delivery survives a restart', () => {
  it('§2.8: a logout token the receiver missed while down is delivered by the next server process once the receiver is back', async () => {
    const { createTestDatabase } = await import('../helpers/pg.js');
    const { freePort } = await import('../helpers/ports.js');
    const { SERVER_START_MS, spawnProcess, waitForHealthy } = await import('../helpers/process.js');
    const { loadConfig } = await import('../../src/config/index.js');
    const { openDatabase } = await import('../../src/db/orm.js');
    const { createLogger } = await import('../../src/log.js');
    const { Ctx } = await import('../../src/services/context.js');
    const { createApplication } = await import('../../src/services/applications.js');

    const database = await createTestDatabase();
    const port = await freePort();
    const receiverPort = await freePort(); // nothing listens there yet: the receiver is down
    const base = `http://127.0.0.1:${port}`;
    const env = {
      ...ENV,
      DATABASE_URL: database.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: base,
      LOG_LEVEL: 'warn',
      CLEANUP_INTERVAL: '0',
    };
    const config = loadConfig({ NODE_ENV: 'test', ...env });
    const db = await openDatabase(config);
    const restarted = new Receiver();
    const procs: Array<{ stop(signal?: NodeJS.Signals): Promise<number | null> }> = [];
    try {
      const ctx = new Ctx({ config, db, log: createLogger('silent') });
      ctx.actor = { kind: 'cli' };
      const owner = await createUser(ctx, { username: 'restart', password: 'restart-password' });
      const { application, clientSecret } = await createApplication(ctx, owner, {
        name: 'Restart RP',
        clientType: 'confidential',
        grantTypes: ['authorization_code'],
        redirectUris: ['https://rp.example/cb'],
        scopes: ['openid'],
        skipAuthorization: true,
        backchannelLogoutUri: `http://127.0.0.1:${receiverPort}/bcl/restart`,
      });
      const spawnServer = () => spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], env);
      const one = spawnServer();
      procs.push(one);
      expect(await waitForHealthy(`${base}/healthz`, SERVER_START_MS, one), one.output()).toBe(200);

      const agent = new Agent(base);
      await agent.login('restart', 'restart-password');
      const fake = { url: base } as TestServer;
      const tokens = await codeFlow(
        fake,
        agent,
        {
          id: application.id,
          clientId: application.clientId,
          clientSecret,
          redirectUri: 'https://rp.example/cb',
        },
        { scope: 'openid' },
      );
      const sid = decodeJwt(tokens.id_token as string).sid;
      await agent.submitForm('/accounts/logout/', {}, '/accounts/logout/');

      const row = await waitForRow(db.sql, application.clientId, (r) => r.last_error !== null, 15_000);
      expect(row?.last_error).toBe('network');
      expect(await one.stop('SIGTERM')).toBe(0);

      await restarted.listen(receiverPort);
      const two = spawnServer();
      procs.push(two);
      expect(await waitForHealthy(`${base}/healthz`, SERVER_START_MS, two), two.output()).toBe(200);
      const [got] = await restarted.waitFor(1, '/bcl/restart', 30_000);
      const jwks = createRemoteJWKSet(new URL('/o/jwks/', base));
      const { payload } = await jwtVerify(got.token, jwks, {
        issuer: base,
        audience: application.clientId,
        typ: 'logout+jwt',
      });
      expect(payload).toMatchObject({ sid, jti: row?.jti, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
      expect(payload).not.toHaveProperty('nonce');
      expect(await two.stop('SIGTERM')).toBe(0);
    } finally {
      for (const p of procs) await p.stop('SIGKILL');
      await restarted.close();
      await db.close();
      await database.drop();
    }
  }, 180_000);
});
