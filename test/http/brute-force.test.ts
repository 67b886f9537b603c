import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
let server: TestServer;
let legacy: TestClient;
let tv: TestClient;

// Each test speaks from its own address (TRUST_PROXY), so the per-address counters do not mix.
let nextAddress = 10;
const address = () => `198.51.100.${nextAddress++}`;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      LOGIN_MAX_FAILURES: '5',
      LOGIN_MAX_FAILURES_PER_IP: '12',
      CLIENT_AUTH_MAX_FAILURES: '5',
      TRUST_PROXY: 'true',
    },
  });
  for (const name of ['alice', 'bob', 'carol', 'dave']) {
    await createUser(server.cli(), { username: name, password: `${name}-password` });
  }
  legacy = await makeClient(server, {
    clientType: 'public',
    tokenEndpointAuthMethod: 'none',
    grantTypes: ['password'],
    redirectUris: [],
    scopes: ['read'],
  });
  tv = await makeClient(server, {
    clientType: 'public',
    tokenEndpointAuthMethod: 'none',
    grantTypes: [DEVICE_GRANT],
    redirectUris: [],
    scopes: ['read'],
  });
}, 120_000);
afterAll(() => server?.stop());

/** A browser at `ip` that has the login form (CSRF cookie and token) in hand. */
async function loginForm(ip: string, base = server.url) {
  const agent = new Agent(base);
  const headers = { 'X-Forwarded-For': ip };
  const page = await agent.get('/accounts/login/', headers);
  const hidden = hiddenInputs(page.text, '/accounts/login/');
  return (username: string, password: string) =>
    agent.post('/accounts/login/', { ...hidden, username, password }, headers);
}

const passwordGrant = (ip: string, username: string, password: string, target = server) =>
  postForm(target, '/o/token/', { grant_type: 'password', username, password, scope: 'read' }, legacy, {
    'X-Forwarded-For': ip,
  });

const WRONG = 'Please enter a correct username and password.';

describe('brute-force limits count an attempt before verifying it', () => {
  it('OWASP ASVS 2.2.1 (IPv6): addresses of one /64 share a budget — 8 wrong passwords from 8 addresses of 2001:db8:a:b::/64 reach verification at most 5 times', async () => {
    const results = [];
    for (let i = 1; i <= 8; i++) {
      const post = await loginForm(`2001:db8:a:b::${i.toString(16)}`);
      results.push(await post('bob', `wrong-${i}`));
    }
    expect(results.filter((r) => r.status === 200).length).toBe(5);
    expect(results.filter((r) => r.status === 429).length).toBe(3);
    // Another /64 has its own budget; an IPv4-mapped address counts as its IPv4 address.
    expect((await (await loginForm('2001:db8:a:c::1'))('bob', 'wrong')).status).toBe(200);
    const counters = await server.runtime.db.sql.query<{ key: string }>(
      "select key from rate_limit_counters where key like 'login:ip:2001:db8:a:%' order by key",
    );
    expect(counters.map((c) => c.key)).toEqual(['login:ip:2001:db8:a:b::/64', 'login:ip:2001:db8:a:c::/64']);
  });

  it('RFC 6749 §10.10 / OWASP ASVS 2.2.1: 25 parallel wrong passwords on the login page reach verification at most LOGIN_MAX_FAILURES (5) times; the rest are 429 with Retry-After', async () => {
    const ip = address();
    const forms = await Promise.all(Array.from({ length: 25 }, () => loginForm(ip)));
    const results = await Promise.all(forms.map((post, i) => post('alice', `wrong-${i}`)));
    const verified = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(verified.length + refused.length).toBe(25);
    expect(verified.length).toBeLessThanOrEqual(5);
    for (const r of verified) expect(r.text).toContain(WRONG);
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.text).toContain('Too many failed attempts.');
    }
    // Refused attempts were taken back: both counters hold exactly the verified failures.
    const counters = await server.runtime.db.sql.query<{ key: string; count: number }>(
      'select key, count from rate_limit_counters where key = any($1) order by key',
      [[`login:ip:${ip}`, `login:user:alice|${ip}`]],
    );
    expect(counters.map((c) => c.count)).toEqual([verified.length, verified.length]);
    // The username is now blocked from that address, even with the right password.
    const right = await (await loginForm(ip))('alice', 'alice-password');
    expect(right.status).toBe(429);
  });

  it("RFC 6749 §4.3.2 / §10.10: 25 parallel wrong passwords through a public client's password grant reach verification at most 5 times; the rest are 429 invalid_grant with Retry-After", async () => {
    const ip = address();
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => passwordGrant(ip, 'bob', `wrong-${i}`)),
    );
    const verified = results.filter((r) => r.status === 400);
    const refused = results.filter((r) => r.status === 429);
    expect(verified.length + refused.length).toBe(25);
    expect(verified.length).toBeLessThanOrEqual(5);
    for (const r of [...verified, ...refused]) expect(r.json.error).toBe('invalid_grant');
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await passwordGrant(ip, 'bob', 'bob-password')).status).toBe(429);
    // Another address is not affected by this one's guesses.
    expect((await passwordGrant(address(), 'bob', 'bob-password')).status).toBe(200);
  });

  it('RFC 6749 §2.3.1 / §10.10: 25 parallel wrong client secrets are checked at most CLIENT_AUTH_MAX_FAILURES (5) times; the rest are 429 invalid_client with Retry-After', async () => {
    const ip = address();
    const victim = await makeClient(server, { grantTypes: ['client_credentials'], redirectUris: [] });
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        postForm(
          server,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId: victim.clientId, clientSecret: `lk_cs_guess-${i}` },
          { 'X-Forwarded-For': ip },
        ),
      ),
    );
    for (const r of results) {
      expect([401, 429]).toContain(r.status);
      expect(r.json.error).toBe('invalid_client');
    }
    const refused = results.filter((r) => r.status === 429);
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // Every checked secret is counted once in the shared counter: it shows how many were checked.
    const [counter] = await server.runtime.db.sql.query<{ count: number }>(
      'select count from rate_limit_counters where key = $1',
      [`client:${victim.clientId}|${ip}`],
    );
    expect(counter.count).toBeLessThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(20);
  });

  it('RFC 8628 §5.1: 25 parallel wrong user codes on /o/device/ are looked up at most 10 times (the per-user limit); the rest are 429 with Retry-After', async () => {
    const ip = address();
    const headers = { 'X-Forwarded-For': ip };
    const user = new Agent(server.url);
    const page = await user.get('/accounts/login/', headers);
    const res = await user.post(
      '/accounts/login/',
      { ...hiddenInputs(page.text, '/accounts/login/'), username: 'carol', password: 'carol-password' },
      headers,
    );
    expect(res.status).toBe(303);
    const entry = await user.get('/o/device/', headers);
    const hidden = hiddenInputs(entry.text, '/o/device/');
    const alphabet = 'BCDFGHJKLMNPQRSTVWXZ';
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        user.post(
          '/o/device/',
          { ...hidden, user_code: `ZZZZ-ZZ${alphabet[i % 20]}${alphabet[i >> 2]}` },
          headers,
        ),
      ),
    );
    const looked = results.filter((r) => r.status === 400);
    const refused = results.filter((r) => r.status === 429);
    expect(looked.length + refused.length).toBe(25);
    expect(looked.length).toBeLessThanOrEqual(10);
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.text).toContain('Too many wrong codes.');
    }
    // A real code is refused while blocked.
    const started = await postForm(server, '/o/device_authorization/', { scope: 'read' }, tv);
    const blocked = await user.post(
      '/o/device/',
      { ...hidden, user_code: started.json.user_code as string },
      headers,
    );
    expect(blocked.status).toBe(429);
  });

  it('OWASP ASVS 2.2.1: a success resets the per-username counter, so the user is not locked out by earlier typos', async () => {
    const ip = address();
    const attempt = async (password: string) => (await (await loginForm(ip))('dave', password)).status;
    for (let i = 0; i < 4; i++) expect(await attempt(`typo-${i}`)).toBe(200);
    expect(await attempt('dave-password')).toBe(303);
    // Five more wrong passwords are verified again; the sixth is refused.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await attempt(`typo-again-${i}`));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('OWASP ASVS 2.2.1: a success neither clears the per-address counter nor counts against it; spraying usernames from one address stops at LOGIN_MAX_FAILURES_PER_IP (12)', async () => {
    const ip = address();
    const attempt = async (username: string, password: string) =>
      (await (await loginForm(ip))(username, password)).status;
    for (let i = 0; i < 3; i++) expect(await attempt(`nobody-${i}`, 'x')).toBe(200);
    for (let i = 0; i < 3; i++) expect(await attempt('carol', 'carol-password')).toBe(303);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push(await attempt(`sprayed-${i}`, 'Summer2026!'));
    // 3 + 9 failures reach verification; the successes neither counted nor cleared them.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 429]);
    expect(await attempt('carol', 'carol-password')).toBe(429);
  });
});

describe('argon2 work is bounded', () => {
  let busy: TestServer;
  let busyClient: TestClient;
  beforeAll(async () => {
    busy = await startTestServer({
      env: {
        PASSWORD_HASH_CONCURRENCY: '1',
        PASSWORD_HASH_QUEUE: '1',
        LOGIN_MAX_FAILURES: '1000',
        LOGIN_MAX_FAILURES_PER_IP: '1000',
        TRUST_PROXY: 'true',
      },
    });
    await createUser(busy.cli(), { username: 'erin', password: 'erin-password' });
    busyClient = await makeClient(busy, {
      clientType: 'public',
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['password'],
      redirectUris: [],
      scopes: ['read'],
    });
  }, 120_000);
  afterAll(() => busy?.stop());

  it('OWASP ASVS 2.2.1 / RFC 6749 §5.2: with PASSWORD_HASH_CONCURRENCY=1 and a queue of 1, a flood of logins gets 503 with Retry-After (page and temporarily_unavailable JSON), never a 500, and the server stays responsive', async () => {
    const forms = await Promise.all(
      Array.from({ length: 12 }, (_, i) => loginForm(`203.0.113.${i}`, busy.url)),
    );
    const started = Date.now();
    const flood = Promise.all([
      ...forms.map((post, i) => post(`nobody-${i}`, 'guess')),
      ...Array.from({ length: 12 }, (_, i) =>
        postForm(
          busy,
          '/o/token/',
          { grant_type: 'password', username: `nobody-${i}`, password: 'guess', scope: 'read' },
          busyClient,
          { 'X-Forwarded-For': `203.0.113.${100 + i}` },
        ),
      ),
    ]);
    // While the flood waits on argon2, other requests are answered promptly.
    const metadata = await fetch(new URL('/.well-known/openid-configuration', busy.url));
    expect(metadata.status).toBe(200);
    const results = await flood;
    const pages = results.slice(0, 12) as Array<{ status: number; headers: Headers; text: string }>;
    const grants = results.slice(12) as Array<{
      status: number;
      headers: Headers;
      json: Record<string, unknown>;
    }>;
    for (const r of results) expect(r.status).not.toBe(500);
    const busyPages = pages.filter((r) => r.status === 503);
    const busyGrants = grants.filter((r) => r.status === 503);
    expect(busyPages.length + busyGrants.length).toBeGreaterThan(0);
    for (const r of busyPages) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.text).toContain('busy');
    }
    for (const r of busyGrants) {
      expect(r.json.error).toBe('temporarily_unavailable');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    for (const r of pages.filter((p) => p.status !== 503)) expect(r.text).toContain(WRONG);
    for (const r of grants.filter((g) => g.status !== 503)) expect(r.json.error).toBe('invalid_grant');
    expect(Date.now() - started).toBeLessThan(30_000);
    // Refused work is not counted as a failure: the user logs in right afterwards.
    const ok = await (await loginForm('203.0.113.250', busy.url))('erin', 'erin-password');
    expect(ok.status).toBe(303);
  });
});

describe('the attempt counter on PGlite', () => {
  it('RFC 6749 §4.3.2 / OWASP ASVS 2.2.1: on embedded PGlite too, 10 parallel wrong passwords reach verification at most 5 times', async () => {
    const lite = await startTestServer({
      backend: 'pglite',
      env: { LOGIN_MAX_FAILURES: '5', TRUST_PROXY: 'true' },
    });
    try {
      await createUser(lite.cli(), { username: 'frank', password: 'frank-password' });
      const forms = await Promise.all(Array.from({ length: 10 }, () => loginForm('192.0.2.1', lite.url)));
      const results = await Promise.all(forms.map((post, i) => post('frank', `wrong-${i}`)));
      expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(5);
      expect(results.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(5);
    } finally {
      await lite.stop();
    }
  }, 180_000);
});
