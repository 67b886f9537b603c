import * as oidc from 'openid-client';
import { TOTP, URI } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, decodeEntities, hiddenInputs } from '../helpers/http.js';
import { makeClient, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Issue 18: two-step login with TOTP and recovery codes, password change, and step-up through
 * acr_values / max_age, against a real server and database. Codes are computed by the test from
 * the otpauth:// URI the enrollment page shows, as an authenticator app would.
 */
let server: TestServer;
let rp: TestClient;

beforeAll(async () => {
  server = await startTestServer({ env: { LOGIN_MAX_FAILURES: '5' } });
  rp = await makeClient(server, {
    skipAuthorization: true,
    scopes: ['openid', 'profile', 'read'],
    redirectUris: ['https://rp.example.com/callback'],
  });
});
afterAll(() => server?.stop());

let users = 0;
async function newUser(): Promise<{ username: string; password: string; agent: Agent }> {
  const username = `user${++users}`;
  const password = `${username}-password`;
  await createUser(server.cli(), { username, password });
  const agent = new Agent(server.url);
  await agent.login(username, password);
  return { username, password, agent };
}

/** Enrolls TOTP from the security page: reads the otpauth URI, confirms with a computed code. */
async function enrollTotp(agent: Agent): Promise<{ totp: TOTP; codes: string[]; uri: string }> {
  const page = await agent.get('/accounts/security/totp/');
  expect(page.status).toBe(200);
  const uri = decodeEntities(/id="otpauth-uri" type="text" readonly value="([^"]+)"/.exec(page.text)![1]);
  expect(page.text).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,/);
  const totp = URI.parse(uri) as TOTP;
  const form = {
    ...hiddenInputs(page.text, '/accounts/security/totp/'),
    name: 'Phone',
    code: totp.generate(),
  };
  const done = await agent.post('/accounts/security/totp/', form);
  expect(done.status).toBe(200);
  const codes = [...done.text.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
  return { totp, codes, uri };
}

/** The next step's code: the enrollment used the current one (accepted one step ahead, RFC 6238 §5.2). */
const nextCode = (totp: TOTP) => totp.generate({ timestamp: Date.now() + 30_000 });

/** Password step of a login; answers the agent with its pending login and the redirect. */
async function passwordStep(username: string, password: string, next = '/') {
  const agent = new Agent(server.url);
  const res = await agent.submitForm(
    `/accounts/login/?next=${encodeURIComponent(next)}`,
    { username, password },
    '/accounts/login/',
  );
  return { agent, res };
}

async function submitCode(agent: Agent, code: string) {
  return agent.submitForm('/accounts/login/verify/', { code }, '/accounts/login/verify/');
}

describe('TOTP second factor (RFC 6238)', () => {
  it('RFC 6238 §4: enrollment shows the otpauth:// URI and a QR code; one valid code confirms it; ten recovery codes are shown once', async () => {
    const { agent } = await newUser();
    const { uri, codes } = await enrollTotp(agent);
    expect(uri).toMatch(/^otpauth:\/\/totp\/.+[?&]secret=[A-Z2-7]{32}(&|$)/);
    expect(codes).toHaveLength(10);
    const security = await agent.get('/accounts/security/');
    expect(security.text).toContain('Phone');
    expect(security.text).toContain('10 of 10 recovery codes left');
    expect(security.text).not.toContain(codes[0]);
  });

  it('RFC 6238 §5.2: the login asks for the code after the password; a right code makes the session; the same code again is refused as replayed', async () => {
    const { username, password, agent } = await newUser();
    const { totp } = await enrollTotp(agent);
    const first = await passwordStep(username, password, '/o/applications/');
    expect(first.res.status).toBe(303);
    expect(first.res.location).toBe('/accounts/login/verify/');
    // No session yet: the pending login opens no page.
    expect((await first.agent.get('/')).location).toMatch(/^\/accounts\/login\//);
    const step = await first.agent.get('/accounts/login/verify/');
    expect(step.text).toContain('name="code"');
    expect(step.text).toContain('Use a recovery code');

    const wrong = await submitCode(first.agent, totp.generate({ timestamp: Date.now() + 3_600_000 }));
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('That code is not right');

    const code = nextCode(totp);
    const ok = await submitCode(first.agent, code);
    expect(ok.status).toBe(303);
    expect(ok.location).toBe('/o/applications/');
    expect((await first.agent.get('/')).status).toBe(200);

    const second = await passwordStep(username, password);
    const replay = await submitCode(second.agent, code);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('This code has already been used');
    expect((await second.agent.get('/')).status).toBe(303);
  });

  it('RFC 6238 §5.2: of parallel submissions of one code exactly one signs in', async () => {
    const { username, password, agent } = await newUser();
    const { totp } = await enrollTotp(agent);
    const pending = await Promise.all(Array.from({ length: 5 }, () => passwordStep(username, password)));
    const pages = await Promise.all(pending.map((p) => p.agent.get('/accounts/login/verify/')));
    const code = nextCode(totp);
    const answers = await Promise.all(
      pending.map((p, i) =>
        p.agent.post('/accounts/login/verify/', {
          ...hiddenInputs(pages[i].text, '/accounts/login/verify/'),
          code,
        }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([303, 400, 400, 400, 400]);
    for (const a of answers) expect(a.status).not.toBe(500);
  });

  it('RFC 6238 §5.1 / OWASP ASVS V2.2.1: wrong codes are limited per user like passwords; once blocked, even the right code waits', async () => {
    const { username, password, agent } = await newUser();
    const { totp } = await enrollTotp(agent);
    const { agent: pending } = await passwordStep(username, password);
    const far = totp.generate({ timestamp: Date.now() + 7_200_000 });
    for (let i = 0; i < 5; i++) expect((await submitCode(pending, far)).status).toBe(400);
    const blocked = await submitCode(pending, nextCode(totp));
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(blocked.text).toContain('Too many wrong codes');
  });

  it('bad input on the second step (no pending login, a tampered pending cookie, junk codes) is a readable page, never a 500', async () => {
    const stranger = new Agent(server.url);
    const none = await stranger.get('/accounts/login/verify/');
    expect(none.status).toBe(303);
    expect(none.location).toBe('/accounts/login/?expired=1');
    stranger.cookies.set('lk_pending', 'AAAA.BBBB.CCCC');
    expect((await stranger.get('/accounts/login/verify/')).location).toBe('/accounts/login/?expired=1');
    const { username, password, agent } = await newUser();
    await enrollTotp(agent);
    const { agent: pending } = await passwordStep(username, password);
    for (const code of ['', 'x'.repeat(5000), '12345', '１２３４５６', "' or 1=1 --"]) {
      const res = await submitCode(pending, code);
      expect(res.status).toBe(400);
      expect(res.text).toContain('role="alert"');
    }
  });
});

describe('admin warning', () => {
  it('an administrator without a second factor sees a warning on every page; with one, none', async () => {
    await createUser(server.cli(), { username: 'boss', password: 'boss-password', isAdmin: true });
    const agent = new Agent(server.url);
    await agent.login('boss', 'boss-password');
    for (const path of ['/', '/o/applications/', '/accounts/security/']) {
      expect((await agent.get(path)).text).toContain('You are an administrator without a second factor.');
    }
    await enrollTotp(agent);
    expect((await agent.get('/')).text).not.toContain('without a second factor');
    const plain = await newUser();
    expect((await plain.agent.get('/')).text).not.toContain('without a second factor');
  });
});

describe('recovery codes', () => {
  it('a recovery code signs in once: the second use is refused, another code still works; the security page counts them', async () => {
    const { username, password, agent } = await newUser();
    const { codes } = await enrollTotp(agent);
    const use = async (code: string) => {
      const { agent: pending } = await passwordStep(username, password);
      const page = await pending.get('/accounts/login/verify/?method=recovery');
      expect(page.text).toContain('name="recovery_code"');
      const res = await pending.post('/accounts/login/verify/', {
        ...hiddenInputs(page.text, '/accounts/login/verify/'),
        recovery_code: code,
      });
      return { res, pending };
    };
    const once = await use(codes[0].toUpperCase().replace('-', ' '));
    expect(once.res.status).toBe(303);
    const twice = await use(codes[0]);
    expect(twice.res.status).toBe(400);
    expect(twice.res.text).toContain('not valid or was already used');
    const other = await use(codes[1]);
    expect(other.res.status).toBe(303);
    expect((await other.pending.get('/accounts/security/')).text).toContain('8 of 10 recovery codes left');
  });

  it('recovery codes can be made anew: the old ones stop working', async () => {
    const { username, password, agent } = await newUser();
    const { codes } = await enrollTotp(agent);
    const page = await agent.get('/accounts/security/');
    const fresh = await agent.post(
      '/accounts/security/recovery-codes/',
      hiddenInputs(page.text, '/accounts/security/recovery-codes/'),
    );
    expect(fresh.status).toBe(200);
    const newCodes = [...fresh.text.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]);
    expect(newCodes).toHaveLength(10);
    const { agent: pending } = await passwordStep(username, password);
    const verify = await pending.get('/accounts/login/verify/?method=recovery');
    const old = await pending.post('/accounts/login/verify/', {
      ...hiddenInputs(verify.text, '/accounts/login/verify/'),
      recovery_code: codes[0],
    });
    expect(old.status).toBe(400);
  });
});

describe('password change', () => {
  it('needs the current password; the change ends the other sessions and keeps this one; the old password stops working', async () => {
    const { username, password, agent } = await newUser();
    const other = new Agent(server.url);
    await other.login(username, password);
    const wrong = await agent.submitForm(
      '/accounts/security/',
      {
        current_password: 'not-it-at-all',
        new_password: 'brand-new-pass',
        confirm_password: 'brand-new-pass',
      },
      '/accounts/security/password/',
    );
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('Your current password is not right.');
    const mismatch = await agent.submitForm(
      '/accounts/security/',
      { current_password: password, new_password: 'brand-new-pass', confirm_password: 'other-new-pass' },
      '/accounts/security/password/',
    );
    expect(mismatch.text).toContain('do not match');
    const short = await agent.submitForm(
      '/accounts/security/',
      { current_password: password, new_password: 'short', confirm_password: 'short' },
      '/accounts/security/password/',
    );
    expect(short.text).toContain('at least 8 characters');
    expect((await other.get('/')).status).toBe(200); // nothing changed yet

    const ok = await agent.submitForm(
      '/accounts/security/',
      { current_password: password, new_password: 'brand-new-pass', confirm_password: 'brand-new-pass' },
      '/accounts/security/password/',
    );
    expect(ok.status).toBe(303);
    expect((await agent.get('/accounts/security/?done=password')).text).toContain(
      'Your password was changed',
    );
    expect((await other.get('/')).status).toBe(303);
    await expect(new Agent(server.url).login(username, password)).rejects.toThrow();
    await new Agent(server.url).login(username, 'brand-new-pass');
  });
});

describe('OIDC amr / acr and step-up (RFC 8176, OIDC Core §3.1.2.1)', () => {
  async function discover() {
    return oidc.discovery(
      new URL(server.runtime.config.issuer),
      rp.clientId,
      rp.clientSecret!,
      oidc.ClientSecretBasic(rp.clientSecret!),
      { execute: [oidc.allowInsecureRequests] },
    );
  }

  /** A code flow through openid-client, the browser played by `agent`; `login` runs when asked to log in. */
  async function flow(agent: Agent, extra: Record<string, string>, login?: (next: string) => Promise<void>) {
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: rp.redirectUri,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    });
    let res = await agent.get(url.pathname + url.search);
    let loggedIn = false;
    if (res.location?.startsWith('/accounts/login/')) {
      expect(login, `asked to log in: ${res.location}`).toBeDefined();
      const next = new URL(res.location, server.url).searchParams.get('next')!;
      await login!(next);
      loggedIn = true;
      res = await agent.get(next);
    }
    expect(res.status).toBe(302);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(res.location!), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      idTokenExpected: true,
    });
    return { claims: tokens.claims()!, loggedIn };
  }

  it('metadata lists acr_values_supported and the amr/acr claims', async () => {
    const meta = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json();
    expect(meta.acr_values_supported).toEqual(['urn:latchkey:acr:password', 'urn:latchkey:acr:mfa']);
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['amr', 'acr']));
  });

  it('RFC 8176 §2: a password-only login has amr ["pwd"]; acr_values asking for mfa of a user without a factor is answered with the password acr, not a login loop', async () => {
    const { agent } = await newUser();
    const plain = await flow(agent, {});
    expect(plain.claims.amr).toEqual(['pwd']);
    expect(plain.claims.acr).toBe('urn:latchkey:acr:password');
    const asked = await flow(agent, { acr_values: 'urn:latchkey:acr:mfa' });
    expect(asked.loggedIn).toBe(false);
    expect(asked.claims.acr).toBe('urn:latchkey:acr:password');
  });

  it('OIDC Core §3.1.2.1 acr_values: a session without a second factor is stepped up (password + TOTP); the id_token then says amr pwd+otp+mfa, checked by openid-client', async () => {
    const { username, password, agent } = await newUser();
    const { totp } = await enrollTotp(agent); // the session itself stays password-only
    const before = await flow(agent, {});
    expect(before.claims.amr).toEqual(['pwd']);

    const stepped = await flow(agent, { acr_values: 'urn:latchkey:acr:mfa' }, async (next) => {
      const login = await agent.submitForm(
        `/accounts/login/?next=${encodeURIComponent(next)}&prompt=login`,
        { username, password },
        '/accounts/login/',
      );
      expect(login.location).toBe('/accounts/login/verify/');
      const verified = await submitCode(agent, nextCode(totp));
      expect(verified.status).toBe(303);
      expect(verified.location).toBe(next);
    });
    expect(stepped.loggedIn).toBe(true);
    expect(stepped.claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(stepped.claims.acr).toBe('urn:latchkey:acr:mfa');

    // The stepped-up session satisfies the next request as it is, on the fast path's terms too.
    const again = await flow(agent, { acr_values: 'urn:latchkey:acr:mfa' });
    expect(again.loggedIn).toBe(false);
    const fast = await flow(agent, {});
    expect(fast.claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('OIDC Core §3.1.2.1 max_age: an older session must log in again, with its second factor, and auth_time moves on', async () => {
    const { username, password, agent } = await newUser();
    const { totp } = await enrollTotp(agent);
    const first = await flow(agent, {});
    await new Promise((r) => setTimeout(r, 1100));
    const fresh = await flow(agent, { max_age: '0' }, async (next) => {
      await agent.submitForm(
        `/accounts/login/?next=${encodeURIComponent(next)}&prompt=login`,
        { username, password },
        '/accounts/login/',
      );
      expect((await submitCode(agent, nextCode(totp))).status).toBe(303);
    });
    expect(fresh.loggedIn).toBe(true);
    expect(fresh.claims.auth_time!).toBeGreaterThan(first.claims.auth_time!);
    expect(fresh.claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('RFC 6749 §4.3: the password grant is refused for an account with a second factor (it cannot ask for one)', async () => {
    const { username, password, agent } = await newUser();
    const client = await makeClient(server, { grantTypes: ['password'] });
    const ask = () =>
      fetch(`${server.url}/o/token/`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'password', username, password }),
      });
    expect((await ask()).status).toBe(200);
    await enrollTotp(agent);
    const refused = await ask();
    expect(refused.status).toBe(400);
    expect((await refused.json()).error).toBe('invalid_grant');
  });
});

describe('passwordless sign-in options', () => {
  it('WebAuthn L2 §13.4.3 / OWASP ASVS V2.2.1: the anonymous passwordless ceremony is counted per address before a challenge is stored — 40 parallel asks from one address give 30 challenges and 10 readable 429s with Retry-After', async () => {
    const agent = new Agent(server.url);
    const login = await agent.get('/accounts/login/');
    const csrf = hiddenInputs(login.text, '/accounts/login/').csrf_token;
    expect(csrf).toBeTruthy();
    const count = async () =>
      Number(
        (
          await server.runtime.db.sql.query<{ n: string }>(
            "select count(*)::text as n from webauthn_challenges where purpose = 'passwordless'",
          )
        )[0].n,
      );
    const before = await count();
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => agent.post('/accounts/webauthn/passwordless/', { csrf_token: csrf })),
    );
    const ok = answers.filter((a) => a.status === 200);
    const limited = answers.filter((a) => a.status === 429);
    expect(ok).toHaveLength(30);
    expect(limited).toHaveLength(10);
    expect(JSON.parse(limited[0].text).error).toMatch(/Too many attempts/);
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await count()) - before).toBe(30);
  });
});
