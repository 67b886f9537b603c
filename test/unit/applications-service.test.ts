import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application } from '../../src/entities/Application.js';
import { AuditEvent } from '../../src/entities/AuditEvent.js';
import type { User } from '../../src/entities/User.js';
import {
  type ApplicationInput,
  createApplication,
  rotateClientSecret,
  updateApplication,
} from '../../src/services/applications.js';
import type { Ctx } from '../../src/services/context.js';
import { ValidationError } from '../../src/services/errors.js';
import { digest } from '../../src/services/secrets.js';
import { createUser } from '../../src/services/users.js';
import { serviceRuntime } from '../helpers/services.js';

let env: Awaited<ReturnType<typeof serviceRuntime>>;
let owner: User;
beforeAll(async () => {
  env = await serviceRuntime();
  owner = await createUser(env.ctx(), { username: 'owner', password: 'owner-pass' });
});
afterAll(() => env.close());

const web: ApplicationInput = {
  name: 'Web app',
  clientType: 'confidential',
  grantTypes: ['authorization_code'],
  redirectUris: ['https://app.example.com/callback'],
};

describe('applications service', () => {
  it('generates a 256-bit client secret and stores only its SHA-256 digest', async () => {
    const { application, clientSecret } = await createApplication(env.ctx(), owner, web);
    expect(clientSecret).toMatch(/^lk_cs_[A-Za-z0-9_-]{48}$/);
    const rows = await env.runtime.db.sql.query<{ client_secret_digest: Buffer }>(
      'select client_secret_digest from applications where id = $1',
      [application.id],
    );
    expect(Buffer.from(rows[0].client_secret_digest).equals(digest(clientSecret!))).toBe(true);
    const dump = JSON.stringify(await env.runtime.db.sql.query('select * from applications'));
    expect(dump).not.toContain(clientSecret!.slice(6));
  });

  it('uses RFC 7591 metadata and gives new authorization-code applications refresh tokens', async () => {
    const { application } = await createApplication(env.ctx(), owner, web);
    expect(application.grantTypes).toEqual(['authorization_code', 'refresh_token']);
    expect(application.tokenEndpointAuthMethod).toBe('client_secret_basic');
    expect(application.scopes).toEqual(['read', 'write', 'openid', 'profile', 'email']);
  });

  it('public clients get no secret and authenticate with "none"', async () => {
    const { application, clientSecret } = await createApplication(env.ctx(), owner, {
      ...web,
      clientType: 'public',
    });
    expect(clientSecret).toBeNull();
    expect(application.tokenEndpointAuthMethod).toBe('none');
    expect(application.clientSecretDigest).toBeNull();
  });

  it('allows several grant types on one application', async () => {
    const { application } = await createApplication(env.ctx(), owner, {
      ...web,
      grantTypes: ['authorization_code', 'client_credentials', 'password', 'refresh_token'],
    });
    expect(application.grantTypes).toHaveLength(4);
  });

  it.each([
    [{ redirectUris: ['http://app.example.com/cb'] }, 'redirectUris', /https/],
    [{ redirectUris: ['/relative'] }, 'redirectUris', /absolute/],
    [{ redirectUris: ['https://app.example.com/cb#frag'] }, 'redirectUris', /fragment/],
    [{ redirectUris: ['javascript:alert(1)'] }, 'redirectUris', /not allowed/],
    [{ redirectUris: [] }, 'redirectUris', /redirect URI/],
    [
      { clientType: 'public', grantTypes: ['client_credentials'], redirectUris: [] },
      'grantTypes',
      /public client/,
    ],
    [{ grantTypes: [] }, 'grantTypes', /at least one/],
    [{ grantTypes: ['refresh_token'], redirectUris: [] }, 'grantTypes', /refresh_token/],
    [{ grantTypes: ['magic'] }, 'grantTypes', /Unknown grant type/],
    [{ allowedOrigins: ['https://spa.example.com/path'] }, 'allowedOrigins', /scheme:\/\/host/],
    [{ scopes: ['read', 'admin:all'] }, 'scopes', /Unknown scope/],
    [{ name: '   ' }, 'name', /required/],
    [{ skipAuthorization: true }, 'skipAuthorization', /administrators/],
  ])('rejects %o on field %s and writes nothing', async (override, field, message) => {
    const ctx = env.ctx();
    ctx.actor = { kind: 'user', user: owner, via: 'session' };
    const before = await ctx.em.count(Application);
    const err = await createApplication(ctx, owner, { ...web, ...override } as ApplicationInput).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((err as Error).message).toMatch(message);
    expect(await env.ctx().em.count(Application)).toBe(before);
  });

  it('accepts loopback http, custom schemes for native apps, and origins', async () => {
    const { application } = await createApplication(env.ctx(), owner, {
      ...web,
      clientType: 'public',
      redirectUris: ['http://127.0.0.1/callback', 'http://[::1]:8080/cb', 'com.example.app:/oauth2redirect'],
      allowedOrigins: ['https://spa.example.com', 'http://localhost:3000/'],
    });
    expect(application.allowedOrigins).toEqual(['https://spa.example.com', 'http://localhost:3000']);
  });

  it('rotating the secret replaces the digest', async () => {
    const { application, clientSecret } = await createApplication(env.ctx(), owner, web);
    const rotated = await rotateClientSecret(env.ctx(), application.id);
    expect(rotated.clientSecret).not.toBe(clientSecret);
    const rows = await env.runtime.db.sql.query<{ client_secret_digest: Buffer }>(
      'select client_secret_digest from applications where id = $1',
      [application.id],
    );
    expect(Buffer.from(rows[0].client_secret_digest).equals(digest(rotated.clientSecret!))).toBe(true);
  });

  it.each([
    ['intent://callback/'],
    ['view-source:https://evil.example/cb'],
    ['https:evil.example/cb'],
    ['http:127.0.0.1/cb'],
    ['myapp:/cb'],
    ['web+app:/cb'],
    ['ftp://files.example.com/cb'],
    ['https://user:pass@app.example.com/cb'],
  ])(
    'Review 13.12, RFC 6749 §3.1.2 / RFC 8252 §7.1: redirect URI %s is refused by the allow list',
    async (uri) => {
      const err = await createApplication(env.ctx(), owner, { ...web, redirectUris: [uri] }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe('redirectUris');
    },
  );

  it('Review 13.12, RFC 6454 / RFC 8252 §8.3: an allowed origin is https, or http only on loopback', async () => {
    const err = await createApplication(env.ctx(), owner, {
      ...web,
      allowedOrigins: ['http://spa.example.com'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('allowedOrigins');
  });

  it('Review 13.12: redirect URIs, origins and scopes per application are bounded (20, 20, 50)', async () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    const ok = await createApplication(env.ctx(), owner, {
      ...web,
      redirectUris: many(20, (i) => `https://app.example.com/cb${i}`),
    });
    expect(ok.application.redirectUris).toHaveLength(20);
    for (const [override, field] of [
      [{ redirectUris: many(21, (i) => `https://app.example.com/cb${i}`) }, 'redirectUris'],
      [{ allowedOrigins: many(21, (i) => `https://spa${i}.example.com`) }, 'allowedOrigins'],
      [{ scopes: many(51, () => 'read') }, 'scopes'],
    ] as const) {
      const err = await createApplication(env.ctx(), owner, { ...web, ...override }).catch((e: unknown) => e);
      expect(err, field).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
      expect((err as Error).message).toMatch(/At most/);
    }
  });

  it('Review 13.16: every invalid field is reported at once, each with its own message, and nothing is written', async () => {
    const before = await env.ctx().em.count(Application);
    const err = await createApplication(env.ctx(), owner, {
      ...web,
      name: ' ',
      redirectUris: ['http://evil.example/cb', 'intent://x'],
      allowedOrigins: ['https://spa.example.com/path'],
      scopes: ['read', 'nope'],
      accessTokenFormat: 'xml' as ApplicationInput['accessTokenFormat'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    expect(issues.map((i) => i.field)).toEqual([
      'name',
      'redirectUris',
      'allowedOrigins',
      'scopes',
      'accessTokenFormat',
    ]);
    expect((err as ValidationError).field).toBe('name');
    const redirect = issues.find((i) => i.field === 'redirectUris')!.message;
    expect(redirect).toContain('http://evil.example/cb');
    expect(redirect).toContain('intent:');
    expect(await env.ctx().em.count(Application)).toBe(before);
  });

  it('Review 13.7, RFC 7662 §4: only an administrator may give an application the introspection scope', async () => {
    const err = await createApplication(asUser(owner), owner, {
      ...web,
      scopes: ['read', 'introspection'],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('scopes');
    expect((err as Error).message).toMatch(/Only administrators .*introspection/);
    const mine = await createApplication(asUser(owner), owner, { ...web, scopes: ['read'] });
    const added = await updateApplication(asUser(owner), mine.application.id, {
      scopes: ['read', 'introspection'],
    }).catch((e: unknown) => e);
    expect(added).toBeInstanceOf(ValidationError);
    const admin = await createUser(env.ctx(), { username: 'admin7', password: 'admin-pass', isAdmin: true });
    const granted = await updateApplication(asUser(admin), mine.application.id, {
      scopes: ['read', 'introspection'],
    });
    expect(granted.scopes).toContain('introspection');
    // The owner may keep it (and edit the rest); only adding it is an admin's call.
    const renamed = await updateApplication(asUser(owner), mine.application.id, { name: 'Renamed' });
    expect(renamed.scopes).toContain('introspection');
  });

  it('Review 13.2, RFC 9700 §2.1 / RFC 6749 §10.2: an owner changing scopes, redirect URIs, grant types or client type withdraws the admin-given skip-consent (audited); a rename or an admin edit keeps it', async () => {
    const admin = await createUser(env.ctx(), { username: 'admin2', password: 'admin-pass', isAdmin: true });
    const changes: [string, Partial<ApplicationInput>][] = [
      ['scopes', { scopes: ['read', 'graphql'] }],
      ['redirectUris', { redirectUris: ['https://app.example.com/callback', 'https://owner.example/cb'] }],
      ['grantTypes', { grantTypes: ['authorization_code', 'refresh_token', 'password'] }],
      ['clientType', { clientType: 'public' }],
    ];
    for (const [field, change] of changes) {
      const { application } = await createApplication(asUser(owner), owner, { ...web, scopes: ['read'] });
      await updateApplication(asUser(admin), application.id, { skipAuthorization: true });
      const renamed = await updateApplication(asUser(owner), application.id, {
        name: 'Still trusted',
        skipAuthorization: true,
      });
      expect(renamed.skipAuthorization, field).toBe(true);
      const changed = await updateApplication(asUser(owner), application.id, {
        ...change,
        skipAuthorization: true,
      });
      expect(changed.skipAuthorization, field).toBe(false);
      const events = await env
        .ctx()
        .em.find(AuditEvent, { action: 'application.skip_authorization_cleared', targetId: application.id });
      expect(events, field).toHaveLength(1);
      expect(events[0].details).toMatchObject({ changedFields: [field] });
      // Setting it again is an admin's call; the admin's own edits keep it.
      await updateApplication(asUser(admin), application.id, { skipAuthorization: true });
      const adminEdit = await updateApplication(asUser(admin), application.id, { scopes: ['read', 'write'] });
      expect(adminEdit.skipAuthorization, field).toBe(true);
    }
  });
});

function asUser(user: User): Ctx {
  const ctx = env.ctx();
  ctx.actor = { kind: 'user', user, via: 'session' };
  return ctx;
}
