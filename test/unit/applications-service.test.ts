import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application } from '../../src/entities/Application.js';
import type { User } from '../../src/entities/User.js';
import {
  type ApplicationInput,
  createApplication,
  rotateClientSecret,
} from '../../src/services/applications.js';
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
});
