import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { authorize, authorizePath, makeClient, pkce, postForm, type TestClient } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let web: TestClient;
let alice: Agent;

beforeAll(async () => {
  server = await startTestServer();
  await createUser(server.cli(), { username: 'alice', password: 'alice-pass' });
  web = await makeClient(server, { name: 'Photo Printer', scopes: ['read', 'write', 'openid', 'profile'] });
  alice = new Agent(server.url);
  await alice.login('alice', 'alice-pass');
});
afterAll(() => server?.stop());

const grantCount = async (clientDbId: string) =>
  (
    await server.runtime.db.sql.query<{ n: number }>(
      'select count(*)::int as n from grants where application_id = $1 and revoked_at is null',
      [clientDbId],
    )
  )[0].n;

function base(client: TestClient, extra: Record<string, string | undefined> = {}) {
  const { challenge } = pkce();
  return {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    state: 'st-123',
    scope: 'read',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

describe('authorization endpoint: who is asking', () => {
  it('RFC 6749 §4.1.1: a user who is not logged in goes to the login page and comes back to the request', async () => {
    const agent = new Agent(server.url);
    const path = authorizePath(base(web));
    const first = await agent.get(path);
    expect(first.status).toBe(302);
    const login = new URL(first.location!, server.url);
    expect(login.pathname).toBe('/accounts/login/');
    const next = login.searchParams.get('next')!;
    expect(next.startsWith('/o/authorize/?')).toBe(true);
    const loggedIn = await agent.submitForm(
      `${login.pathname}${login.search}`,
      { username: 'alice', password: 'alice-pass' },
      '/accounts/login/',
    );
    expect(loggedIn.status).toBe(303);
    expect(loggedIn.location).toBe(next);
    const back = await agent.get(next);
    expect([200, 302]).toContain(back.status);
  });

  it('RFC 6749 §4.1.2.1: an unknown client_id gets an error page, never a redirect', async () => {
    const res = await alice.get(authorizePath({ ...base(web), client_id: 'no-such-client' }));
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(res.text).toContain('Unknown application');
  });

  it('RFC 6749 §4.1.2.1: an unregistered redirect_uri gets an error page, never a redirect', async () => {
    for (const uri of [
      'https://evil.example/cb',
      `${web.redirectUri}/extra`,
      `${web.redirectUri}?x=1`,
      web.redirectUri.toUpperCase(),
    ]) {
      const res = await alice.get(authorizePath({ ...base(web), redirect_uri: uri }));
      expect(res.status).toBe(400);
      expect(res.location).toBeUndefined();
      expect(res.text).toContain('Redirect URI not registered');
    }
  });

  it('RFC 6749 §3.1.2.3: without redirect_uri the only registered one is used; with several it is required', async () => {
    const single = await authorize(alice, { ...base(web), redirect_uri: undefined });
    expect(`${single.location.origin}${single.location.pathname}`).toBe(web.redirectUri);
    const multi = await makeClient(server, {
      redirectUris: ['https://a.example/cb', 'https://b.example/cb'],
    });
    const res = await alice.get(authorizePath({ ...base(multi), redirect_uri: undefined }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('Missing redirect URI');
  });

  it('RFC 8252 §7.3: a loopback redirect URI matches with any port', async () => {
    const native = await makeClient(server, {
      clientType: 'public',
      redirectUris: ['http://127.0.0.1/callback'],
      skipAuthorization: true,
    });
    const { location } = await authorize(alice, {
      ...base(native),
      redirect_uri: 'http://127.0.0.1:51234/callback',
    });
    expect(location.host).toBe('127.0.0.1:51234');
    expect(location.searchParams.get('code')).toMatch(/^lk_ac_/);
    const wrongPath = await alice.get(
      authorizePath({ ...base(native), redirect_uri: 'http://127.0.0.1:51234/other' }),
    );
    expect(wrongPath.status).toBe(400);
  });
});

describe('authorization endpoint: errors go back to the client with state and iss', () => {
  const expectError = (location: URL, error: string) => {
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('error_description')).toBeTruthy();
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.get('iss')).toBe(server.runtime.config.issuer);
    expect(location.searchParams.get('code')).toBeNull();
  };
  const redirectOf = async (params: Record<string, string | undefined>) => {
    const res = await alice.get(authorizePath(params));
    expect(res.status).toBe(302);
    return new URL(res.location!);
  };

  it('RFC 6749 §4.1.2.1: unsupported_response_type', async () => {
    expectError(await redirectOf(base(web, { response_type: 'code id_token' })), 'unsupported_response_type');
  });

  it('RFC 6749 §4.1.2.1: invalid_request when response_type is missing', async () => {
    expectError(await redirectOf(base(web, { response_type: undefined })), 'invalid_request');
  });

  it('RFC 6749 §3.3: invalid_scope for an unknown scope or one the application may not request', async () => {
    expectError(await redirectOf(base(web, { scope: 'read nonsense' })), 'invalid_scope');
    expectError(await redirectOf(base(web, { scope: 'graphql' })), 'invalid_scope');
  });

  it('RFC 6749 §4.1.2.1: unauthorized_client when the application may not use the code grant', async () => {
    const cc = await makeClient(server, {
      grantTypes: ['client_credentials'],
      redirectUris: ['https://cc.example/cb'],
    });
    expectError(await redirectOf(base(cc)), 'unauthorized_client');
  });

  it('RFC 7636 §4.3: code_challenge_method=plain (or missing, which means plain) is refused', async () => {
    expectError(await redirectOf(base(web, { code_challenge_method: 'plain' })), 'invalid_request');
    expectError(await redirectOf(base(web, { code_challenge_method: undefined })), 'invalid_request');
    expectError(await redirectOf(base(web, { code_challenge: 'too-short' })), 'invalid_request');
  });

  it('OAuth 2.1 §4.1.1: a public client without PKCE is refused', async () => {
    const spa = await makeClient(server, { clientType: 'public' });
    expectError(
      await redirectOf(base(spa, { code_challenge: undefined, code_challenge_method: undefined })),
      'invalid_request',
    );
  });

  it('OIDC Core §3.1.2.1: prompt=none answers login_required without a session and consent_required without consent', async () => {
    const anonymous = new Agent(server.url);
    const res = await anonymous.get(authorizePath(base(web, { prompt: 'none' })));
    expect(res.status).toBe(302);
    expectError(new URL(res.location!), 'login_required');
    const fresh = await makeClient(server);
    expectError(await redirectOf(base(fresh, { prompt: 'none' })), 'consent_required');
  });
});

describe('consent', () => {
  it('shows the application name, who registered it, and each scope with its description', async () => {
    const res = await alice.get(authorizePath(base(web, { scope: 'read write' })));
    expect(res.status).toBe(200);
    expect(res.text).toContain('Authorize Photo Printer');
    expect(res.text).toContain('Registered by <strong>owner</strong>');
    expect(res.text).toContain('Read your data');
    expect(res.text).toContain('Change your data');
    expect(res.text).toMatch(/<button type="submit" name="allow" value="Allow"/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('content-security-policy')).toContain(
      "form-action 'self' https://client.example.com",
    );
  });

  it('RFC 6749 §4.1.2.1: Deny redirects with access_denied, state and iss, and records no grant', async () => {
    const app = await makeClient(server);
    const { location, consentShown } = await authorize(alice, base(app), 'deny');
    expect(consentShown).toBe(true);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.get('iss')).toBe(server.runtime.config.issuer);
    expect(await grantCount(app.id)).toBe(0);
  });

  it('RFC 6749 §4.1.2 + RFC 9207: Allow redirects with code, state and iss, and records the consent as one grant', async () => {
    const app = await makeClient(server);
    const { location, consentShown } = await authorize(alice, base(app, { scope: 'read write' }));
    expect(consentShown).toBe(true);
    expect(`${location.origin}${location.pathname}`).toBe(app.redirectUri);
    expect(location.searchParams.get('code')).toMatch(/^lk_ac_[\w-]{48}$/);
    expect(location.searchParams.get('state')).toBe('st-123');
    expect(location.searchParams.get('iss')).toBe(server.runtime.config.issuer);
    expect(await grantCount(app.id)).toBe(1);

    // An active grant covering the scopes: not asked again.
    const again = await authorize(alice, base(app, { scope: 'read' }));
    expect(again.consentShown).toBe(false);
    // prompt=consent asks anyway; more scopes ask again; still one grant.
    expect((await authorize(alice, base(app, { prompt: 'consent' }))).consentShown).toBe(true);
    expect((await authorize(alice, base(app, { scope: 'read write openid' }))).consentShown).toBe(true);
    expect(await grantCount(app.id)).toBe(1);
    const scopes = await server.runtime.db.sql.query<{ scopes: string[] }>(
      'select scopes from grants where application_id = $1',
      [app.id],
    );
    expect(scopes[0].scopes.sort()).toEqual(['openid', 'read', 'write']);
  });

  it('applications with skipAuthorization skip the consent page', async () => {
    const trusted = await makeClient(server, { skipAuthorization: true });
    const { consentShown, location } = await authorize(alice, base(trusted));
    expect(consentShown).toBe(false);
    expect(location.searchParams.get('code')).toBeTruthy();
  });

  it('the consent state cannot be tampered with: a changed request, a foreign session or a missing CSRF token are refused', async () => {
    const app = await makeClient(server);
    const page = await alice.get(authorizePath(base(app)));
    const hidden = hiddenInputs(page.text, '/o/authorize/');
    const [payload, sig] = hidden.consent_request.split('.');
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString());
    decoded.p = decoded.p.replace('scope=read', 'scope=read+write');
    const forged = `${Buffer.from(JSON.stringify(decoded)).toString('base64url')}.${sig}`;
    const tampered = await alice.post('/o/authorize/', {
      ...hidden,
      consent_request: forged,
      allow: 'Allow',
    });
    expect(tampered.status).toBe(400);
    expect(tampered.location).toBeUndefined();

    const noCsrf = await alice.post('/o/authorize/', {
      consent_request: hidden.consent_request,
      allow: 'Allow',
    });
    expect(noCsrf.status).toBe(403);

    const bob = new Agent(server.url);
    await createUser(server.cli(), { username: 'bob-consent', password: 'bob-password' });
    await bob.login('bob-consent', 'bob-password');
    const bobPage = await bob.get('/');
    const bobCsrf = /name="csrf_token" value="([^"]+)"/.exec(bobPage.text)![1];
    const foreign = await bob.post('/o/authorize/', {
      csrf_token: bobCsrf,
      consent_request: hidden.consent_request,
      allow: 'Allow',
    });
    expect(foreign.status).toBe(400);
    expect(await grantCount(app.id)).toBe(0);
  });

  it('parallel consent submissions make one grant', async () => {
    const app = await makeClient(server);
    const page = await alice.get(authorizePath(base(app)));
    const hidden = hiddenInputs(page.text, '/o/authorize/');
    const results = await Promise.all(
      Array.from({ length: 10 }, () => alice.post('/o/authorize/', { ...hidden, allow: 'Allow' })),
    );
    for (const r of results) expect(r.status).toBe(302);
    expect(await grantCount(app.id)).toBe(1);
  });
});

describe('prompt and max_age', () => {
  it('OIDC Core §3.1.2.1: prompt=login asks for the password again even with a session, then continues', async () => {
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-pass');
    const trusted = await makeClient(server, { skipAuthorization: true });
    const res = await agent.get(authorizePath(base(trusted, { prompt: 'login' })));
    expect(res.status).toBe(302);
    const login = new URL(res.location!, server.url);
    expect(login.pathname).toBe('/accounts/login/');
    expect(login.searchParams.get('next')).not.toContain('prompt');
    const form = await agent.get(`${login.pathname}${login.search}`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('name="password"');
  });

  it('OIDC Core §3.1.2.1: max_age older than the login sends the user to log in again', async () => {
    const trusted = await makeClient(server, { skipAuthorization: true });
    await server.runtime.db.sql.execute("update sessions set auth_time = now() - interval '1 hour'");
    const res = await alice.get(authorizePath(base(trusted, { max_age: '60' })));
    expect(res.status).toBe(302);
    expect(new URL(res.location!, server.url).pathname).toBe('/accounts/login/');
    const ok = await alice.get(authorizePath(base(trusted, { max_age: '7200' })));
    expect(new URL(ok.location!).searchParams.get('code')).toBeTruthy();
    await server.runtime.db.sql.execute('update sessions set auth_time = now()');
  });
});

describe('implicit grant (legacy, opt-in)', () => {
  it('RFC 6749 §4.2.2: an application with IMPLICIT gets the token in the fragment, never a refresh token', async () => {
    const legacy = await makeClient(server, {
      clientType: 'public',
      grantTypes: ['implicit'],
      skipAuthorization: true,
    });
    const res = await alice.get(
      authorizePath({
        response_type: 'token',
        client_id: legacy.clientId,
        redirect_uri: legacy.redirectUri,
        state: 's1',
        scope: 'read',
      }),
    );
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    expect(location.search).toBe('');
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect(fragment.get('access_token')).toMatch(/^lk_at_/);
    expect(fragment.get('token_type')).toBe('Bearer');
    expect(fragment.get('state')).toBe('s1');
    expect(fragment.get('refresh_token')).toBeNull();
    const introspected = await postForm(
      server,
      '/o/introspect/',
      { token: fragment.get('access_token')! },
      await makeClient(server, {
        grantTypes: ['client_credentials'],
        redirectUris: [],
        scopes: ['read', 'introspection'],
      }),
    );
    expect(introspected.json.active).toBe(true);
  });

  it('RFC 6749 §4.2.2.1: applications without IMPLICIT get unauthorized_client', async () => {
    const res = await alice.get(
      authorizePath({
        response_type: 'token',
        client_id: web.clientId,
        redirect_uri: web.redirectUri,
        state: 's1',
      }),
    );
    expect(res.status).toBe(302);
    const fragment = new URLSearchParams(new URL(res.location!).hash.slice(1));
    expect(fragment.get('error')).toBe('unauthorized_client');
  });
});
