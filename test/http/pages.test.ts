import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { codeFlow, makeClient, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let alice: Agent;
let bob: Agent;
let admin: Agent;

beforeAll(async () => {
  server = await startTestServer();
  const cli = server.cli();
  await createUser(cli, { username: 'alice', password: 'alice-pass' });
  await createUser(cli, { username: 'bob', password: 'bob-password' });
  await createUser(cli, { username: 'root', password: 'root-password', isAdmin: true });
  alice = new Agent(server.url);
  bob = new Agent(server.url);
  admin = new Agent(server.url);
  await Promise.all([
    alice.login('alice', 'alice-pass'),
    bob.login('bob', 'bob-password'),
    admin.login('root', 'root-password'),
  ]);
});
afterAll(() => server?.stop());

async function register(agent: Agent, fields: Record<string, string | string[]>) {
  const page = await agent.get('/o/applications/register/');
  const form = new URLSearchParams(hiddenInputs(page.text, '/o/applications/register/'));
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) form.append(k, one);
  return agent.request('POST', '/o/applications/register/', { body: form });
}

/** POST/redirect/GET: the action answers 303 to the detail page; this follows it once. */
async function follow(agent: Agent, res: { status: number; location?: string; headers: Headers }) {
  expect(res.status).toBe(303);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return agent.get(res.location!);
}

async function registered(agent: Agent, fields: Record<string, string | string[]>) {
  return follow(agent, await register(agent, fields));
}

const SECRET = /id="client-secret" type="text" readonly value="([^"]+)"/;

async function appCount(agent: Agent): Promise<number> {
  return Number(/(\d+) applications?\./.exec((await agent.get('/o/applications/')).text)?.[1] ?? 0);
}

const valid = {
  name: 'Page App',
  client_type: 'confidential',
  grant_types: ['authorization_code', 'refresh_token'],
  redirect_uris: 'https://page.example/cb',
  scopes: ['read', 'write'],
};

describe('/o/applications/ pages', () => {
  it('the pages need a login', async () => {
    const res = await new Agent(server.url).get('/o/applications/');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/accounts/login/?next=%2Fo%2Fapplications%2F');
  });

  it('registering shows the client secret once on the detail page, with a warning; the secret works and is never shown again', async () => {
    const res = await registered(alice, valid);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Copy the client secret now.');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const secret = /id="client-secret" type="text" readonly value="([^"]+)"/.exec(res.text)![1];
    const clientId = /id="client-id" type="text" readonly value="([^"]+)"/.exec(res.text)![1];
    expect(secret).toMatch(/^lk_cs_/);
    const id = /href="\/o\/applications\/([0-9a-f-]{36})\/update\/"/.exec(res.text)![1];
    const again = await alice.get(`/o/applications/${id}/`);
    expect(again.status).toBe(200);
    expect(again.text).not.toContain(secret);
    expect(again.text).toContain(clientId);
    const list = await alice.get('/o/applications/');
    expect(list.text).toContain('Page App');
    expect(list.text).not.toContain(secret);
  });

  it('validation messages appear next to the fields, from the same service rules as GraphQL, and nothing is created', async () => {
    const before = (await alice.get('/o/applications/')).text.match(/<tr>/g)?.length ?? 0;
    const res = await register(alice, { ...valid, redirect_uris: 'http://evil.example/cb' });
    expect(res.status).toBe(400);
    expect(res.text).toMatch(
      /id="redirectUris-error" role="alert">Redirect URI &quot;http:\/\/evil.example\/cb&quot; must use https/,
    );
    expect(res.text).toContain('aria-invalid="true"');
    expect(res.text).toContain('http://evil.example/cb</textarea>');
    const pub = await register(alice, {
      ...valid,
      client_type: 'public',
      grant_types: ['client_credentials'],
      redirect_uris: '',
    });
    expect(pub.text).toContain('A public client cannot use the client_credentials grant');
    const after = (await alice.get('/o/applications/')).text.match(/<tr>/g)?.length ?? 0;
    expect(after).toBe(before);
  });

  it('skip-authorization is offered to admins only, and refused for others even if posted', async () => {
    expect((await alice.get('/o/applications/register/')).text).not.toContain('name="skip_authorization"');
    expect((await admin.get('/o/applications/register/')).text).toContain('name="skip_authorization"');
    const forged = await register(alice, { ...valid, skip_authorization: 'on' });
    expect(forged.status).toBe(400);
    expect(forged.text).toContain('Only administrators can let an application skip the consent page.');
    const ok = await registered(admin, { ...valid, name: 'Trusted', skip_authorization: 'on' });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('skipped (trusted application)');
  });

  it("other users' applications are 404 on every page; admins see all with an owner column", async () => {
    const res = await registered(alice, { ...valid, name: 'Private' });
    const id = /href="\/o\/applications\/([0-9a-f-]{36})\/update\/"/.exec(res.text)![1];
    for (const path of [
      `/o/applications/${id}/`,
      `/o/applications/${id}/update/`,
      `/o/applications/${id}/delete/`,
      `/o/applications/${id}/rotate-secret/`,
      '/o/applications/not-a-uuid/',
    ]) {
      expect((await bob.get(path)).status, path).toBe(404);
    }
    const bobPage = await bob.get('/o/applications/');
    const csrf = /name="csrf_token" value="([^"]+)"/.exec((await bob.get('/accounts/logout/')).text)![1];
    expect((await bob.post(`/o/applications/${id}/delete/`, { csrf_token: csrf })).status).toBe(404);
    expect(bobPage.text).not.toContain('Private');
    const all = await admin.get('/o/applications/');
    expect(all.text).toContain('<th scope="col">Owner</th>');
    expect(all.text).toContain('Private');
    expect((await admin.get(`/o/applications/${id}/`)).status).toBe(200);
  });

  it('edit, rotate secret (the old one stops working) and delete (with confirmation)', async () => {
    const created = await registered(alice, {
      ...valid,
      name: 'Lifecycle',
      grant_types: ['client_credentials'],
      redirect_uris: '',
    });
    const id = /href="\/o\/applications\/([0-9a-f-]{36})\/update\/"/.exec(created.text)![1];
    const secret = /id="client-secret" type="text" readonly value="([^"]+)"/.exec(created.text)![1];
    const clientId = /id="client-id" type="text" readonly value="([^"]+)"/.exec(created.text)![1];

    const edit = await alice.get(`/o/applications/${id}/update/`);
    const form = new URLSearchParams(hiddenInputs(edit.text, `/o/applications/${id}/update/`));
    for (const [k, v] of Object.entries({
      name: 'Lifecycle 2',
      client_type: 'confidential',
      grant_types: 'client_credentials',
      allowed_origins: 'https://spa.example',
      scopes: 'read',
    }))
      form.append(k, v);
    const saved = await alice.request('POST', `/o/applications/${id}/update/`, { body: form });
    expect(saved.status).toBe(303);
    const detail = await alice.get(`/o/applications/${id}/`);
    expect(detail.text).toContain('Lifecycle 2');
    expect(detail.text).toContain('https://spa.example');

    const rotated = await follow(
      alice,
      await alice.submitForm(
        `/o/applications/${id}/rotate-secret/`,
        {},
        `/o/applications/${id}/rotate-secret/`,
      ),
    );
    expect(rotated.status).toBe(200);
    expect(rotated.text).toContain('The previous secret no longer works.');
    const fresh = /id="client-secret" type="text" readonly value="([^"]+)"/.exec(rotated.text)![1];
    expect(
      (
        await postForm(
          server,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId, clientSecret: secret },
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await postForm(
          server,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId, clientSecret: fresh },
        )
      ).status,
    ).toBe(200);

    const confirm = await alice.get(`/o/applications/${id}/delete/`);
    expect(confirm.text).toContain('Delete Lifecycle 2?');
    const noCsrf = await alice.post(`/o/applications/${id}/delete/`, {});
    expect(noCsrf.status).toBe(403);
    const deleted = await alice.submitForm(
      `/o/applications/${id}/delete/`,
      {},
      `/o/applications/${id}/delete/`,
    );
    expect(deleted.status).toBe(303);
    expect((await alice.get(`/o/applications/${id}/`)).status).toBe(404);
    expect(
      (
        await postForm(
          server,
          '/o/token/',
          { grant_type: 'client_credentials' },
          { clientId, clientSecret: fresh },
        )
      ).status,
    ).toBe(401);
  });
});

describe('POST/redirect/GET for secrets and every error at once (Review 13.15, 13.16)', () => {
  it('Review 13.15, RFC 9110 §9.2.1 (GET is safe): Register answers 303; the GET shows the secret once; reloading it creates nothing and shows no secret', async () => {
    const before = await appCount(bob);
    const post = await register(bob, { ...valid, name: 'Reloaded' });
    expect(post.status).toBe(303);
    expect(post.location).toMatch(/^\/o\/applications\/[0-9a-f-]{36}\/\?done=created$/);
    expect(post.text).not.toMatch(/lk_cs_/);
    expect(post.location).not.toMatch(/lk_cs_/);
    const shown = await bob.get(post.location!);
    expect(shown.status).toBe(200);
    expect(shown.headers.get('cache-control')).toBe('no-store');
    const secret = SECRET.exec(shown.text)![1];
    expect(secret).toMatch(/^lk_cs_/);
    const reload = await bob.get(post.location!);
    expect(reload.status).toBe(200);
    expect(reload.text).not.toContain(secret);
    expect(reload.text).not.toMatch(SECRET);
    expect(reload.text).toContain('The client secret was shown once');
    expect(await appCount(bob)).toBe(before + 1);
  });

  it('Review 13.15, RFC 9110 §9.2.1: Rotate secret answers 303; a reload of the page rotates nothing (the shown secret keeps working); another session never sees it', async () => {
    const created = await registered(bob, {
      ...valid,
      name: 'Rotate once',
      grant_types: ['client_credentials'],
      redirect_uris: '',
    });
    const id = /href="\/o\/applications\/([0-9a-f-]{36})\/update\/"/.exec(created.text)![1];
    const clientId = /id="client-id" type="text" readonly value="([^"]+)"/.exec(created.text)![1];
    const post = await bob.submitForm(
      `/o/applications/${id}/rotate-secret/`,
      {},
      `/o/applications/${id}/rotate-secret/`,
    );
    expect(post.status).toBe(303);
    // The sealed cookie is bound to the session: another browser of the same user sees no secret.
    const other = new Agent(server.url);
    await other.login('bob', 'bob-password');
    for (const [k, v] of bob.cookies) if (k.endsWith('lk_secret')) other.cookies.set(k, v);
    expect((await other.get(post.location!)).text).not.toMatch(SECRET);
    const shown = await bob.get(post.location!);
    const fresh = SECRET.exec(shown.text)![1];
    expect(shown.text).toContain('The previous secret no longer works.');
    const reload = await bob.get(post.location!);
    expect(reload.text).not.toMatch(SECRET);
    const token = await postForm(
      server,
      '/o/token/',
      { grant_type: 'client_credentials' },
      { clientId, clientSecret: fresh },
    );
    expect(token.status).toBe(200);
  });

  it('Review 13.16, WCAG 2.2 §3.3.1 (error identification): every invalid field gets its own message next to it, in one answer', async () => {
    const res = await register(alice, {
      ...valid,
      name: '',
      redirect_uris: 'intent://evil\nhttps:evil.example/cb',
      allowed_origins: 'http://spa.example.com',
      scopes: ['read', 'introspection'],
    });
    expect(res.status).toBe(400);
    for (const field of ['name', 'redirectUris', 'allowedOrigins', 'scopes'])
      expect(res.text, field).toContain(`id="${field}-error" role="alert"`);
    expect(res.text).toContain('Please correct the highlighted fields (4).');
    expect(res.text).toMatch(/id="redirectUris-error" role="alert">[^<]*intent:[^<]*https:evil\.example/);
    expect(res.text).toMatch(/id="scopes-error" role="alert">Only administrators/);
  });
});

describe('/o/authorized_tokens/', () => {
  it('lists the applications the user authorized with scopes and dates; revoking kills the grant and its tokens', async () => {
    const app = await makeClient(server, { name: 'Calendar Sync', skipAuthorization: true });
    const tokens = await codeFlow(server, alice, app, { scope: 'read' });
    const page = await alice.get('/o/authorized_tokens/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Calendar Sync');
    expect(page.text).toMatch(/<span class="tag" title="Read your data">read<\/span>/);
    expect((await bob.get('/o/authorized_tokens/')).text).not.toContain('Calendar Sync');
    const revoked = await alice.submitForm(
      '/o/authorized_tokens/',
      {},
      `/o/authorized_tokens/${app.id}/delete/`,
    );
    expect(revoked.status).toBe(303);
    expect((await alice.get('/o/authorized_tokens/')).text).not.toContain('Calendar Sync');
    const refresh = await postForm(
      server,
      '/o/token/',
      { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string },
      app,
    );
    expect(refresh.json.error).toBe('invalid_grant');
  });

  it("a user cannot revoke another user's authorization", async () => {
    const app = await makeClient(server, { name: 'Bob Only', skipAuthorization: true });
    await codeFlow(server, bob, app, { scope: 'read' });
    const page = await alice.get('/o/authorized_tokens/');
    const csrf = /name="csrf_token" value="([^"]+)"/.exec((await alice.get('/accounts/logout/')).text)![1];
    expect(page.text).not.toContain('Bob Only');
    expect((await alice.post(`/o/authorized_tokens/${app.id}/delete/`, { csrf_token: csrf })).status).toBe(
      404,
    );
    expect((await bob.get('/o/authorized_tokens/')).text).toContain('Bob Only');
  });
});

describe('security headers on the management pages', () => {
  it.each(['/o/applications/', '/o/applications/register/', '/o/authorized_tokens/'])(
    '%s is not frameable and has the CSP',
    async (path) => {
      const res = await alice.get(path);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    },
  );
});
