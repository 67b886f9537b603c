import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { resolveScopes } from '../../src/oauth/scopes.js';
import { clientRecord, oauthErrorOf } from './fixtures.js';

const config = loadConfig({});

describe('resolveScopes', () => {
  const client = clientRecord({ scopes: ['read', 'write', 'openid', 'profile'] });

  it('RFC 6749 §3.3: a request within the application scopes is granted as asked, in its order', () => {
    expect(resolveScopes(['write', 'read'], client, config)).toEqual(['write', 'read']);
    expect(resolveScopes(['openid', 'profile'], client, config)).toEqual(['openid', 'profile']);
  });

  it('RFC 6749 §3.3 / RFC 9700 §2.3: a scope the application may not use is invalid_scope, even if the server knows it', () => {
    const error = oauthErrorOf(() => resolveScopes(['read', 'email'], client, config));
    expect(error.error).toBe('invalid_scope');
    expect(error.description).toContain('"email"');
  });

  it('RFC 6749 §3.3: a scope the server does not define is invalid_scope, even if the application lists it', () => {
    const legacy = clientRecord({ scopes: ['read', 'retired'] });
    expect(oauthErrorOf(() => resolveScopes(['retired'], legacy, config)).error).toBe('invalid_scope');
    expect(oauthErrorOf(() => resolveScopes(['__proto__'], legacy, config)).error).toBe('invalid_scope');
  });

  it('RFC 6749 §3.3: no scope means the application default, its scopes the server knows, without openid (OIDC Core §3.1.2.1: openid is asked for explicitly)', () => {
    const legacy = clientRecord({ scopes: ['openid', 'read', 'retired', 'profile'] });
    expect(resolveScopes(undefined, legacy, config)).toEqual(['read', 'profile']);
  });

  it('RFC 6749 §3.3: no scope and no usable default is invalid_scope', () => {
    for (const scopes of [[], ['openid'], ['retired']]) {
      expect(oauthErrorOf(() => resolveScopes(undefined, clientRecord({ scopes }), config)).error).toBe(
        'invalid_scope',
      );
    }
  });

  it('RFC 6749 §3.3: the server scope set comes from SCOPES; a scope removed there is refused', () => {
    const narrow = loadConfig({ SCOPES: '{"read":"Read"}' });
    expect(resolveScopes(['read'], client, narrow)).toEqual(['read']);
    expect(oauthErrorOf(() => resolveScopes(['write'], client, narrow)).error).toBe('invalid_scope');
    expect(resolveScopes(undefined, client, narrow)).toEqual(['read']);
  });

  it('RFC 6749 §5.2: the error description clips a long scope name rather than echoing it whole', () => {
    const description = oauthErrorOf(() => resolveScopes(['x'.repeat(500)], client, config)).description;
    expect(description.length).toBeLessThan(80);
  });
});
