import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import {
  type Listening,
  type ResourceFixture,
  startApi,
  startResourceFixture,
  tokenFor,
} from '../helpers/resource-server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * The authorization server unreachable is not the client's fault: 503 temporarily_unavailable
 * with Retry-After, never a 401 (which would send the client for a new token it does not need).
 * Latchkey is reached through a TCP proxy (its issuer is the proxy's URL), so the test can take
 * it away from the resource server and bring it back.
 */

let proxy: TcpProxy;
let f: ResourceFixture;
const target = { host: '127.0.0.1', port: 0 };

beforeAll(async () => {
  proxy = await startTcpProxy(target);
  f = await startResourceFixture({ env: { ISSUER: `http://127.0.0.1:${proxy.port}` } });
  target.port = Number(new URL(f.latchkey.url).port);
});
afterAll(async () => {
  await proxy?.stop();
  await f?.latchkey.stop();
});

const call = (base: Listening, token: string) =>
  fetch(`${base.url}/api`, { headers: { Authorization: `Bearer ${token}` } });

async function expectUnavailable(res: Response) {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('7');
  expect(res.headers.get('www-authenticate')).toBeNull();
  expect(await res.json()).toEqual({
    error: 'temporarily_unavailable',
    error_description: 'The authorization server could not be reached; try again shortly.',
  });
}

describe('authorization server unreachable', () => {
  it('RFC 8414: no authorization server at the issuer (discovery fails) is 503 with Retry-After, and reported', async () => {
    const errors: Error[] = [];
    const rs = await startApi(f, {
      issuer: `http://127.0.0.1:${await freePort()}`,
      retryAfterSeconds: 7,
      onError: (e) => errors.push(e),
    });
    try {
      await expectUnavailable(await call(rs, await tokenFor(f, f.jwtResource)));
      expect(errors[0].message).toMatch(/did not answer/);
    } finally {
      await rs.close();
    }
  });

  it('RFC 8414 §3.3: metadata naming another issuer is not trusted (503, reported), not silently used', async () => {
    const errors: Error[] = [];
    const rs = await startApi(f, {
      issuer: `${f.issuer}/`,
      retryAfterSeconds: 7,
      onError: (e) => errors.push(e),
    });
    try {
      await expectUnavailable(await call(rs, await tokenFor(f, f.jwtResource)));
      expect(errors.some((e) => /names issuer/.test(e.message))).toBe(true);
    } finally {
      await rs.close();
    }
  });

  it('introspection mode: Latchkey gone is 503 (not 401); a cached answer still serves; back again, new tokens pass', async () => {
    const rs = await startApi(f, {
      mode: 'introspection',
      resource: f.opaqueResource,
      introspection: { clientId: f.introspector.clientId, clientSecret: String(f.introspector.clientSecret) },
      retryAfterSeconds: 7,
      timeoutSeconds: 2,
    });
    try {
      const cached = await tokenFor(f, f.opaqueResource);
      expect((await call(rs, cached)).status).toBe(200);
      const fresh = await tokenFor(f, f.opaqueResource);
      await proxy.stop();
      await expectUnavailable(await call(rs, fresh));
      expect((await call(rs, cached)).status).toBe(200);
      await proxy.start();
      expect((await call(rs, fresh)).status).toBe(200);
    } finally {
      await proxy.start();
      await rs.close();
    }
  });

  it('JWT mode: with the keys already fetched, tokens keep verifying locally while Latchkey is gone', async () => {
    const rs = await startApi(f, { mode: 'jwt', retryAfterSeconds: 7 });
    try {
      expect((await call(rs, await tokenFor(f, f.jwtResource))).status).toBe(200);
      const later = await tokenFor(f, f.jwtResource);
      await proxy.stop();
      expect((await call(rs, later)).status).toBe(200);
    } finally {
      await proxy.start();
      await rs.close();
    }
  });
});
