import { describe, expect, it } from 'vitest';
import { challengeHeader } from '../../src/resource-server/challenge.js';
import { metadataUrls } from '../../src/resource-server/discovery.js';
import {
  accessTokenHash,
  createDpopCheck,
  MemoryJtiStore,
  normalizedHtu,
} from '../../src/resource-server/dpop.js';
import { resourceMetadataUrl } from '../../src/resource-server/metadata.js';
import { Refreshing } from '../../src/resource-server/refreshing.js';
import { TokenCache } from '../../src/resource-server/token-cache.js';

describe('resource-server: URLs', () => {
  it('RFC 9728 §3.1: the metadata URL inserts the well-known segment between host and path, without a terminating slash', () => {
    expect(resourceMetadataUrl('https://api.example.com')).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource',
    );
    expect(resourceMetadataUrl('https://api.example.com/')).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource',
    );
    expect(resourceMetadataUrl('https://api.example.com:8443/mcp')).toBe(
      'https://api.example.com:8443/.well-known/oauth-protected-resource/mcp',
    );
    expect(resourceMetadataUrl('https://api.example.com/tenant/mcp/')).toBe(
      'https://api.example.com/.well-known/oauth-protected-resource/tenant/mcp',
    );
    expect(() => resourceMetadataUrl('https://api.example.com/?x=1')).toThrow(/query/);
  });

  it('RFC 8414 §3.1 / OIDC Discovery §4: metadata URLs of an issuer with and without a path', () => {
    expect(metadataUrls('https://as.example.com')).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server',
      'https://as.example.com/.well-known/openid-configuration',
    ]);
    expect(metadataUrls('https://as.example.com/tenant')).toEqual([
      'https://as.example.com/.well-known/oauth-authorization-server/tenant',
      'https://as.example.com/tenant/.well-known/openid-configuration',
    ]);
  });
});

describe('resource-server: the challenge', () => {
  it('RFC 6750 §3: parameters in order, error_description only with an error', () => {
    expect(
      challengeHeader({ realm: 'r', resourceMetadata: 'https://x/.well-known/oauth-protected-resource' }),
    ).toBe('Bearer realm="r", resource_metadata="https://x/.well-known/oauth-protected-resource"');
    expect(
      challengeHeader({ error: 'insufficient_scope', description: 'd', scopes: ['a', 'b'], scheme: 'DPoP' }),
    ).toBe('DPoP error="insufficient_scope", error_description="d", scope="a b"');
    expect(challengeHeader({ description: 'ignored' })).toBe('Bearer');
  });

  it('RFC 6750 §3 / RFC 7230 §3.2.6: quotes, backslashes, controls and non-ASCII cannot escape a quoted-string', () => {
    const h = challengeHeader({
      realm: 'a"b\\c\r\nSet-Cookie: x=1\u00e9',
      error: 'invalid_token',
      description: '"',
    });
    expect(h).toBe('Bearer realm="a b c  Set-Cookie: x=1 ", error="invalid_token", error_description=" "');
  });
});

describe('resource-server: caches', () => {
  it('TokenCache keeps each entry until its deadline and holds at most maxEntries (oldest out first)', () => {
    let t = 1000;
    const cache = new TokenCache<number>(2, () => t);
    cache.set('a', 1, 2000);
    cache.set('b', 2, 1500);
    cache.set('past', 9, 1000);
    expect(cache.get('past')).toBeUndefined();
    expect([cache.get('a'), cache.get('b')]).toEqual([1, 2]);
    cache.set('c', 3, 3000);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    t = 1600;
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe(3);
    const off = new TokenCache<number>(0, () => t);
    off.set('x', 1, 9999);
    expect(off.get('x')).toBeUndefined();
  });

  it('Refreshing: one load for parallel callers, reload rate-limited, a failed reload keeps the old value', async () => {
    let t = 0;
    let loads = 0;
    let fail = false;
    const r = new Refreshing(
      async () => {
        loads++;
        if (fail) throw new Error('down');
        return loads;
      },
      1000,
      () => t,
    );
    expect(await Promise.all([r.get(), r.get(), r.get()])).toEqual([1, 1, 1]);
    expect(await r.refresh(500)).toBe(false);
    t = 600;
    expect(await r.refresh(500)).toBe(true);
    expect(await r.get()).toBe(2);
    fail = true;
    t = 5000;
    expect(await r.get()).toBe(2);
    const first = new Refreshing(async () => {
      throw new Error('down');
    }, 1000);
    await expect(first.get()).rejects.toThrow('down');
  });
});

describe('resource-server: DPoP pieces', () => {
  it('RFC 9449 §11.1: the in-process jti store refuses a claimed jti until it expires, and stays bounded', async () => {
    let now = 1000;
    const store = new MemoryJtiStore(3, () => now);
    expect(await store.claim('a', 1065)).toBe(true);
    expect(await store.claim('a', 1065)).toBe(false);
    const parallel = await Promise.all([
      store.claim('b', 1065),
      store.claim('b', 1065),
      store.claim('b', 1065),
    ]);
    expect(parallel.filter(Boolean)).toHaveLength(1);
    now = 1066; // a's window is over: the proof is refused as too old by then anyway
    expect(await store.claim('a', 1131)).toBe(true);
    for (const jti of ['c', 'd', 'e', 'f']) await store.claim(jti, 1131);
    expect(store.size).toBeLessThanOrEqual(3);
  });

  it('RFC 9449 §4.3 point 9: htu normalisation drops query, fragment, default port and case of scheme and host', () => {
    expect(normalizedHtu('HTTPS://API.Example.com:443/a/B?x=1#f')).toBe('https://api.example.com/a/B');
    expect(normalizedHtu('http://api.example.com:8080/')).toBe('http://api.example.com:8080/');
    expect(normalizedHtu('ftp://api.example.com/')).toBeNull();
    expect(normalizedHtu('not a url')).toBeNull();
  });

  it('RFC 9449 §7.1: the DPoP challenge lists algs; RFC 9449 §4.2: ath is base64url SHA-256 of the token', () => {
    expect(
      challengeHeader({
        scheme: 'DPoP',
        error: 'invalid_dpop_proof',
        description: 'bad',
        algs: ['ES256', 'EdDSA'],
      }),
    ).toBe('DPoP error="invalid_dpop_proof", error_description="bad", algs="ES256 EdDSA"');
    // RFC 9449 §7.1's example token and its ath.
    expect(accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU')).toBe(
      'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo',
    );
  });

  it('dpop options: symmetric or unknown algorithms and a bad publicUrl fail at start-up', () => {
    expect(() => createDpopCheck({ algorithms: ['HS256'] }, 'https://api.example.com')).toThrow(/HS256/);
    expect(() => createDpopCheck({ algorithms: [] }, 'https://api.example.com')).toThrow(/empty/);
    expect(() => createDpopCheck({ publicUrl: 'ftp://x' }, 'https://api.example.com')).toThrow(/publicUrl/);
    expect(() => createDpopCheck({ publicUrl: 'https://x/?q' }, 'https://api.example.com')).toThrow(
      /publicUrl/,
    );
  });
});
