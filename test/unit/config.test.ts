import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { DEFAULT_SCOPES } from '../../src/config/scopes.js';

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has documented defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8000);
    expect(c.issuer).toBe('http://localhost:8000');
    expect(c.database.url).toBeUndefined();
    expect(c.database.dataDir).toMatch(/\/data$/);
    expect(c.ttl).toMatchObject({ authorizationCode: 60, accessToken: 3600, refreshToken: 14 * 86400 });
    expect(Object.keys(c.scopes)).toEqual([
      'read',
      'write',
      'openid',
      'profile',
      'email',
      'graphql',
      'introspection',
    ]);
    expect(c.scopes).toEqual(DEFAULT_SCOPES);
    expect(c.migrateOnStart).toBe(true);
    expect(c.trustProxy).toBe(false);
    expect(c.secureCookies).toBe(false);
  });

  it('reads every documented variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      ISSUER: 'https://auth.example.com/',
      DATABASE_URL: 'postgresql://u@db/x',
      DATA_DIR: '/tmp/x',
      ACCESS_TOKEN_TTL: '600',
      REFRESH_TOKEN_TTL: '3600',
      AUTHORIZATION_CODE_TTL: '30',
      LOG_LEVEL: 'warn',
      TRUST_PROXY: '1',
      MIGRATE_ON_START: 'false',
      SCOPES: '{"api":"Use the API"}',
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      issuer: 'https://auth.example.com',
      secureCookies: true,
      logLevel: 'warn',
      trustProxy: 1,
      migrateOnStart: false,
      scopes: { api: 'Use the API' },
    });
    expect(c.database.url).toBe('postgresql://u@db/x');
    expect(c.ttl).toMatchObject({ accessToken: 600, refreshToken: 3600, authorizationCode: 30 });
  });

  it.each([
    [{ PORT: 'abc' }, /^Invalid configuration: PORT .*abc/],
    [{ PORT: '70000' }, /PORT/],
    [{ ISSUER: 'not a url' }, /ISSUER must be an absolute http\(s\) URL/],
    [{ ISSUER: 'https://x.example/?a=1' }, /ISSUER must not carry a query/],
    [{ ISSUER: 'ftp://x.example' }, /ISSUER must use http or https/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgresql:\/\/ URL/],
    [{ ACCESS_TOKEN_TTL: '-5' }, /ACCESS_TOKEN_TTL/],
    [{ AUTHORIZATION_CODE_TTL: '3600' }, /AUTHORIZATION_CODE_TTL .*600/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ MIGRATE_ON_START: 'maybe' }, /MIGRATE_ON_START must be true or false/],
    [{ SCOPES: 'read write' }, /SCOPES must be a JSON object/],
    [{ SCOPES: '{"bad scope":"x"}' }, /SCOPES must be a non-empty JSON object/],
    [{ TRUST_PROXY: '$(rm)' }, /TRUST_PROXY/],
    [{ KEY_ENCRYPTION_KEY: 'short' }, /KEY_ENCRYPTION_KEY must be at least 32 characters/],
  ])('a bad value stops with one line naming the variable: %o', (env, pattern) => {
    const message = errorOf(env as Record<string, string>);
    expect(message).toMatch(pattern);
    expect(message).not.toContain('\n');
  });

  it('never echoes secret values in the error', () => {
    expect(errorOf({ KEY_ENCRYPTION_KEY: 'short-secret' })).not.toContain('short-secret');
    expect(errorOf({ DATABASE_URL: 'mysql://user:hunter2@x' })).not.toContain('hunter2');
  });

  it('OWASP SSRF: OUTBOUND_ALLOW_PRIVATE_NETWORK is off by default, allowed in development and tests, refused in production', () => {
    expect(loadConfig({}).outbound.allowPrivateNetwork).toBe(false);
    expect(
      loadConfig({ OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true', NODE_ENV: 'test' }).outbound.allowPrivateNetwork,
    ).toBe(true);
    expect(errorOf({ OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true', NODE_ENV: 'production' })).toMatch(
      /OUTBOUND_ALLOW_PRIVATE_NETWORK must not be true when NODE_ENV is production/,
    );
  });
});
