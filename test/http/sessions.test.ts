import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpired } from '../../src/services/cleanup.js';
import { createUser, updateUser } from '../../src/services/users.js';
import { Agent } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const cleanups: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  server = await startTestServer();
  cleanups.push(() => server.stop());
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass', email: 'alice@example.com' });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const SESSION = 'lk_session';
const count = async (table: string) =>
  (await server.runtime.db.sql.query<{ n: number }>(`select count(*)::int as n from ${table}`))[0].n;

describe('login page', () => {
  it('shows a form with username, password, a hidden next and a CSRF token', async () => {
    const agent = new Agent(server.url);
    const res = await agent.get('/accounts/login/?next=/somewhere');
    expect(res.status).toBe(200);
    expect(res.text).toContain('name="username"');
    expect(res.text).toContain('name="password"');
    expect(res.text).toMatch(/<input type="hidden" name="next" value="\/somewhere">/);
    expect(res.text).toMatch(/name="csrf_token" value="[\w-]{43}"/);
    expect(res.text).toMatch(/<label for="username">/);
  });

  it('logs in and redirects to next; the session cookie is HttpOnly and SameSite=Lax (not Secure on http)', async () => {
    const agent = new Agent(server.url);
    const res = await agent.login('alice', 'alice-pass', '/o/applications/?tab=mine');
    expect(res.location).toBe('/o/applications/?tab=mine');
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION}=`))!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/);
    const home = await agent.get('/');
    expect(home.status).toBe(200);
    expect(home.text).toContain('Welcome, alice');
  });

  it('a wrong password or an unknown user re-shows the form with the same message, naming neither', async () => {
    const a = await new Agent(server.url).submitForm('/accounts/login/', {
      username: 'alice',
      password: 'wrong-pass',
    });
    const b = await new Agent(server.url).submitForm('/accounts/login/', {
      username: 'nobody',
      password: 'wrong-pass',
    });
    for (const res of [a, b]) {
      expect(res.status).toBe(200);
      expect(res.text).toContain('Please enter a correct username and password.');
      expect(res.headers.getSetCookie().some((c) => c.startsWith(`${SESSION}=`))).toBe(false);
    }
    expect(a.text.replace(/value="[^"]*"/g, '')).toBe(
      b.text.replace(/value="[^"]*"/g, '').replace('nobody', 'alice'),
    );
  });

  it.each([
    '//evil.example',
    'https://evil.example',
    '/\\evil.example',
    'javascript:alert(1)',
    '/%0d%0aSet-Cookie:x',
    '\\\\evil.example',
    ' //evil.example',
  ])('next=%s is not honoured: the login goes to /', async (next) => {
    const agent = new Agent(server.url);
    const res = await agent.submitForm('/accounts/login/', {
      username: 'alice',
      password: 'alice-pass',
      next,
    });
    expect(res.status).toBe(303);
    expect(['/', '/%0d%0aSet-Cookie:x']).toContain(res.location);
    expect(res.location?.startsWith('//')).toBe(false);
  });

  it('refuses a login without a CSRF token or with a wrong one: 403 page, no session created', async () => {
    const before = await count('sessions');
    const agent = new Agent(server.url);
    await agent.get('/accounts/login/');
    const missing = await agent.post('/accounts/login/', { username: 'alice', password: 'alice-pass' });
    expect(missing.status).toBe(403);
    expect(missing.text).toContain('This form has expired');
    const wrong = await agent.post('/accounts/login/', {
      username: 'alice',
      password: 'alice-pass',
      csrf_token: 'A'.repeat(43),
    });
    expect(wrong.status).toBe(403);
    // A token from another browser does not fit this one's cookie.
    const other = new Agent(server.url);
    const page = await other.get('/accounts/login/');
    const token = /name="csrf_token" value="([^"]+)"/.exec(page.text)![1];
    const foreign = await agent.post('/accounts/login/', {
      username: 'alice',
      password: 'alice-pass',
      csrf_token: token,
    });
    expect(foreign.status).toBe(403);
    expect(await count('sessions')).toBe(before);
  });

  it('a disabled user cannot log in', async () => {
    const bob = await createUser(server.cli(), { username: 'bob', password: 'bob-password' });
    await updateUser(server.cli(), bob.id, { isActive: false });
    const res = await new Agent(server.url).submitForm('/accounts/login/', {
      username: 'bob',
      password: 'bob-password',
    });
    expect(res.status).toBe(200);
    expect(res.text).toContain('Please enter a correct username and password.');
  });
});

describe('sessions', () => {
  it('rotates the session id at login: a cookie planted before login is not a session afterwards', async () => {
    const agent = new Agent(server.url);
    agent.cookies.set(SESSION, 'lk_ss_planted-by-an-attacker-aaaaaaaaaaaaaaaaaaaaaaaaa');
    await agent.login('alice', 'alice-pass');
    const after = agent.cookies.get(SESSION)!;
    expect(after).not.toContain('planted');
    const attacker = new Agent(server.url);
    attacker.cookies.set(SESSION, 'lk_ss_planted-by-an-attacker-aaaaaaaaaaaaaaaaaaaaaaaaa');
    expect((await attacker.get('/')).status).toBe(303);
  });

  it('logging in again issues a new session and ends the previous one', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const first = agent.cookies.get(SESSION)!;
    const page = await agent.get('/');
    expect(page.status).toBe(200);
    // Submit the login form again while logged in.
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.text)![1];
    const again = await agent.post('/accounts/login/', {
      username: 'alice',
      password: 'alice-pass',
      csrf_token: csrf,
    });
    expect(again.status).toBe(303);
    const second = agent.cookies.get(SESSION)!;
    expect(second).not.toBe(first);
    const old = new Agent(server.url);
    old.cookies.set(SESSION, first);
    expect((await old.get('/')).status).toBe(303);
  });

  it('logout (POST with CSRF) ends the session on the server; GET only asks for confirmation', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const cookie = agent.cookies.get(SESSION)!;
    const confirm = await agent.get('/accounts/logout/');
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('Log out of Latchkey on this browser?');
    expect((await agent.get('/')).status).toBe(200); // GET changed nothing
    const noCsrf = await agent.post('/accounts/logout/', {});
    expect(noCsrf.status).toBe(403);
    expect((await agent.get('/')).status).toBe(200);
    const out = await agent.submitForm('/accounts/logout/', {});
    expect(out.status).toBe(303);
    expect(out.location).toBe('/accounts/login/');
    const replay = new Agent(server.url);
    replay.cookies.set(SESSION, cookie);
    const home = await replay.get('/');
    expect(home.status).toBe(303);
    expect(home.location).toBe('/accounts/login/?next=%2F');
  });

  it('expires after the idle timeout and after the absolute maximum age', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const sql = server.runtime.db.sql;
    const cookie = agent.cookies.get(SESSION)!;
    const { digest } = await import('../../src/services/secrets.js');
    await sql.execute(
      "update sessions set expires_at = now() - interval '1 second' where token_digest = $1",
      [digest(cookie)],
    );
    expect((await agent.get('/')).status).toBe(303);

    const agent2 = new Agent(server.url);
    await agent2.login('alice', 'alice-pass');
    await sql.execute(
      "update sessions set absolute_expires_at = now() - interval '1 second' where token_digest = $1",
      [digest(agent2.cookies.get(SESSION)!)],
    );
    expect((await agent2.get('/')).status).toBe(303);
  });

  it('changing the password or disabling the user ends their sessions', async () => {
    const carol = await createUser(server.cli(), { username: 'carol', password: 'carol-pass' });
    const agent = new Agent(server.url);
    await agent.login('carol', 'carol-pass');
    expect((await agent.get('/')).status).toBe(200);
    await updateUser(server.cli(), carol.id, { password: 'carol-new-pass' });
    expect((await agent.get('/')).status).toBe(303);

    await agent.login('carol', 'carol-new-pass');
    expect((await agent.get('/')).status).toBe(200);
    await updateUser(server.cli(), carol.id, { isActive: false });
    expect((await agent.get('/')).status).toBe(303);
  });

  it('expired sessions are deleted in bounded batches', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    await server.runtime.db.sql.execute("update sessions set expires_at = now() - interval '1 minute'");
    const counts = await deleteExpired(server.runtime.db.sql, 2);
    expect(counts.sessions).toBeGreaterThan(0);
    expect(await count('sessions')).toBe(0);
  });
});

describe('brute-force limits', () => {
  it('the 6th attempt within the window gets 429 with Retry-After, even with the right password, until the window ends', async () => {
    await createUser(server.cli(), { username: 'dora', password: 'dora-pass' });
    for (let i = 0; i < 5; i++) {
      const res = await new Agent(server.url).submitForm('/accounts/login/', {
        username: 'dora',
        password: `wrong-${i}`,
      });
      expect(res.status).toBe(200);
    }
    const blocked = await new Agent(server.url).submitForm('/accounts/login/', {
      username: 'dora',
      password: 'dora-pass',
    });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(blocked.text).toMatch(/Too many failed attempts. Try again in 1[45] minutes./);
    // The window ends (simulated by moving its end into the past): logins work again.
    await server.runtime.db.sql.execute(
      "update rate_limit_counters set expires_at = now() - interval '1 second'",
    );
    const ok = await new Agent(server.url).submitForm('/accounts/login/', {
      username: 'dora',
      password: 'dora-pass',
    });
    expect(ok.status).toBe(303);
  });

  it('limits are shared by every instance on one PostgreSQL database', async () => {
    await createUser(server.cli(), { username: 'erin', password: 'erin-pass' });
    const other = await startTestServer({ databaseUrl: server.database!.url });
    cleanups.push(() => other.close());
    for (let i = 0; i < 5; i++) {
      await new Agent(server.url).submitForm('/accounts/login/', {
        username: 'erin',
        password: `wrong-${i}`,
      });
    }
    const sixth = await new Agent(other.url).submitForm('/accounts/login/', {
      username: 'erin',
      password: 'wrong-6',
    });
    expect(sixth.status).toBe(429);
  });

  it('caps failures per client address across usernames, respecting TRUST_PROXY', async () => {
    const proxied = await startTestServer({
      databaseUrl: server.database!.url,
      env: { TRUST_PROXY: '127.0.0.1', LOGIN_MAX_FAILURES_PER_IP: '3' },
    });
    cleanups.push(() => proxied.close());
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    const attempt = async (ip: string, username: string) => {
      const agent = new Agent(proxied.url);
      const page = await agent.get('/accounts/login/', from(ip));
      const csrf = /name="csrf_token" value="([^"]+)"/.exec(page.text)![1];
      return agent.post('/accounts/login/', { username, password: 'wrong-pass', csrf_token: csrf }, from(ip));
    };
    for (const u of ['u1', 'u2', 'u3']) expect((await attempt('203.0.113.7', u)).status).toBe(200);
    expect((await attempt('203.0.113.7', 'u4')).status).toBe(429);
    expect((await attempt('198.51.100.9', 'u4')).status).toBe(200);
  });
});

describe('security headers', () => {
  it.each(['/accounts/login/', '/accounts/logout/', '/', '/no-such-page'])(
    '%s carries CSP, frame and sniffing protections',
    async (path) => {
      const res = await new Agent(server.url).get(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    },
  );

  it('pages contain no inline script', async () => {
    const res = await new Agent(server.url).get('/accounts/login/');
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/\son\w+="/);
  });
});
