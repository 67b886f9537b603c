import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResource } from '../../src/services/resources.js';
import { postForm } from '../helpers/oauth.js';
import {
  countingFetch,
  type Listening,
  type ResourceFixture,
  startApi,
  startResourceFixture,
  tokenFor,
} from '../helpers/resource-server.js';

/**
 * requireToken in introspection mode (RFC 7662) and auto mode against a real Latchkey: client
 * authentication, `active` and `aud` checks, the positive cache (bounded by the token's exp and
 * the configured maximum: the documented revocation lag), no negative caching, coalescing.
 */

const SHORT = 'https://short.example.com/api';
const INTROSPECT = '/o/introspect/';

let f: ResourceFixture;

beforeAll(async () => {
  f = await startResourceFixture();
  await createResource(f.latchkey.cli(), {
    identifier: SHORT,
    name: 'Short-lived tokens',
    scopes: ['notes:read'],
    // Long enough that the first two calls land well inside it on a loaded machine.
    accessTokenTtl: 4,
  });
});
afterAll(() => f?.latchkey.stop());

const call = (base: Listening, token: string) =>
  fetch(`${base.url}/api`, { headers: { Authorization: `Bearer ${token}` } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A resource server introspecting as f.introspector; `counter` counts its calls to Latchkey. */
async function introspectingApi(options: Parameters<typeof startApi>[1] = {}) {
  const counter = countingFetch();
  const api = await startApi(f, {
    mode: 'introspection',
    resource: f.opaqueResource,
    introspection: { clientId: f.introspector.clientId, clientSecret: String(f.introspector.clientSecret) },
    fetch: counter.fetch,
    ...options,
  });
  return { api, introspections: () => counter.count(INTROSPECT), counter };
}

async function withApi<T>(
  options: Parameters<typeof startApi>[1],
  body: (a: Awaited<ReturnType<typeof introspectingApi>>) => Promise<T>,
) {
  const a = await introspectingApi(options);
  try {
    return await body(a);
  } finally {
    await a.api.close();
  }
}

const revoke = (token: string) => postForm(f.latchkey, '/o/revoke_token/', { token }, f.machine);

describe('RFC 7662 introspection mode', () => {
  it('RFC 7662 §2.2: an active opaque token for this resource is accepted; req.auth comes from the answer', async () => {
    await withApi({}, async ({ api, introspections }) => {
      const token = await tokenFor(f, f.opaqueResource, 'notes:read');
      const res = await call(api, token);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        token,
        subject: f.machine.clientId,
        clientId: f.machine.clientId,
        scopes: ['notes:read'],
        audience: [f.opaqueResource],
        verifiedBy: 'introspection',
        claims: { active: true, aud: f.opaqueResource, iss: f.issuer, token_type: 'Bearer' },
      });
      expect(introspections()).toBe(1);
    });
  });

  it('RFC 7662 §2.1 / RFC 6749 §2.3.1: the resource server authenticates with client_secret_basic; wrong credentials are a 503 for the caller (not its fault) and reported', async () => {
    const errors: Error[] = [];
    await withApi(
      {
        introspection: { clientId: f.introspector.clientId, clientSecret: 'wrong' },
        onError: (e) => errors.push(e),
      },
      async ({ api }) => {
        const res = await call(api, await tokenFor(f, f.opaqueResource));
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        expect(res.headers.get('www-authenticate')).toBeNull();
        expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
        expect(errors.map((e) => e.message)).toEqual([
          'the authorization server answered 401 (/o/introspect/)',
        ]);
      },
    );
  });

  it('RFC 8707 / RFC 7662 §2.2: a token for another resource, or for no resource, is invalid_token', async () => {
    await withApi({}, async ({ api }) => {
      const other = await tokenFor(f, f.otherResource);
      const none = String(
        (
          await postForm(
            f.latchkey,
            '/o/token/',
            { grant_type: 'client_credentials', scope: 'notes:read' },
            f.machine,
          )
        ).json.access_token,
      );
      for (const token of [other, none]) {
        const res = await call(api, token);
        expect(res.status).toBe(401);
        expect(await res.json()).toEqual({
          error: 'invalid_token',
          error_description: 'The access token is not for this resource.',
        });
      }
    });
  });

  it('RFC 7662 §2.2: an inactive (unknown) token is invalid_token, and refusals are never cached', async () => {
    await withApi({}, async ({ api, introspections }) => {
      for (let i = 0; i < 3; i++) expect((await call(api, 'not-a-token')).status).toBe(401);
      expect(introspections()).toBe(3);
    });
  });

  it('RFC 7009 + RFC 7662: a revoked token is accepted within the documented lag (the cache maximum), refused after it', async () => {
    await withApi({ introspectionCacheSeconds: 2 }, async ({ api, introspections }) => {
      const token = await tokenFor(f, f.opaqueResource);
      expect((await call(api, token)).status).toBe(200);
      expect((await revoke(token)).status).toBe(200);
      // Within the lag: the cached answer stands (the trade-off the README documents).
      expect((await call(api, token)).status).toBe(200);
      expect(introspections()).toBe(1);
      await sleep(2100);
      const after = await call(api, token);
      expect(after.status).toBe(401);
      expect((await after.json()).error_description).toMatch(/not active/);
      expect(introspections()).toBe(2);
    });
  });

  it('RFC 7009: with the cache off (introspectionCacheSeconds 0) a revocation is seen at once', async () => {
    await withApi({ introspectionCacheSeconds: 0 }, async ({ api }) => {
      const token = await tokenFor(f, f.opaqueResource);
      expect((await call(api, token)).status).toBe(200);
      await revoke(token);
      expect((await call(api, token)).status).toBe(401);
    });
  });

  it('RFC 7662 §4: the cache never outlives the token: past its exp it asks again (and is refused)', async () => {
    await withApi(
      { resource: SHORT, introspectionCacheSeconds: 3600, clockToleranceSeconds: 0 },
      async ({ api, introspections }) => {
        const issued = Date.now();
        const token = await tokenFor(f, SHORT, 'notes:read');
        expect((await call(api, token)).status).toBe(200);
        expect((await call(api, token)).status).toBe(200);
        expect(introspections()).toBe(1);
        // Past the token's exp (issued + 4 s, whole seconds) whatever the calls above took.
        await sleep(Math.max(0, issued + 5100 - Date.now()));
        expect((await call(api, token)).status).toBe(401);
        expect(introspections()).toBe(2);
      },
    );
  });

  it('parallel requests with one token share one introspection call (in flight, even with the cache off)', async () => {
    // A slow link to the authorization server (half a second), so every request arrives while
    // the first introspection is still in flight; the cache is off, so only coalescing can help.
    const counter = countingFetch();
    const slow = async (input: string | URL, init?: RequestInit) => {
      await sleep(500);
      return counter.fetch(input, init);
    };
    await withApi({ introspectionCacheSeconds: 0, fetch: slow }, async ({ api }) => {
      const token = await tokenFor(f, f.opaqueResource);
      const answers = await Promise.all(Array.from({ length: 25 }, () => call(api, token)));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      expect(counter.count(INTROSPECT)).toBe(1);
    });
  });

  it('RFC 7662: a JWT access token can be introspected too (introspection mode sees revocations of JWTs)', async () => {
    await withApi({ resource: f.jwtResource, introspectionCacheSeconds: 0 }, async ({ api }) => {
      const token = await tokenFor(f, f.jwtResource);
      const res = await call(api, token);
      expect(res.status).toBe(200);
      expect((await res.json()).verifiedBy).toBe('introspection');
      await revoke(token);
      expect((await call(api, token)).status).toBe(401);
    });
  });
});

describe('auto mode', () => {
  it('a JWS is verified locally (no introspection), anything else is introspected', async () => {
    await withApi({ mode: 'auto', resource: f.jwtResource }, async ({ api, introspections, counter }) => {
      const jwt = await tokenFor(f, f.jwtResource);
      const res = await call(api, jwt);
      expect(res.status).toBe(200);
      expect((await res.json()).verifiedBy).toBe('jwt');
      expect(introspections()).toBe(0);
      expect(counter.count('/o/jwks/')).toBe(1);
      // An opaque token for another resource: introspected, and refused for its audience.
      expect((await call(api, await tokenFor(f, f.opaqueResource))).status).toBe(401);
      expect(introspections()).toBe(1);
    });
    await withApi({ mode: 'auto' }, async ({ api, introspections }) => {
      const res = await call(api, await tokenFor(f, f.opaqueResource));
      expect(res.status).toBe(200);
      expect((await res.json()).verifiedBy).toBe('introspection');
      expect(introspections()).toBe(1);
    });
  });
});
