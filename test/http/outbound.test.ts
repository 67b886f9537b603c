import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cacheSeconds,
  isAllowedAddress,
  MAX_CACHE_SECONDS,
  MAX_STALE_SECONDS,
  OutboundClient,
  OutboundError,
  type Resolver,
} from '../../src/http/outbound.js';

/**
 * The SSRF-safe outbound client (issue 15; OWASP SSRF Prevention Cheat Sheet). Nothing here
 * leaves the machine: refusals happen before any connection, and the servers that must be
 * reached listen on 127.0.0.1 with the development knob (OUTBOUND_ALLOW_PRIVATE_NETWORK) on.
 */

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

let server: http.Server;
let base: string;
let port: number;
const routes = new Map<string, Handler>();
const hits = new Map<string, number>();
const hostHeaders: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, (hits.get(path) ?? 0) + 1);
    hostHeaders.push(req.headers.host ?? '');
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function json(body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
}

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OutboundError) return err.reason;
    throw err;
  }
  throw new Error('expected an OutboundError');
}

const strict = () => new OutboundClient({ allowPrivateNetwork: false });
const dev = (extra: Partial<ConstructorParameters<typeof OutboundClient>[0]> = {}) =>
  new OutboundClient({ allowPrivateNetwork: true, ...extra });

describe('outbound client: addresses (knob off)', () => {
  it('SSRF: loopback IP literals are refused before connecting: 127.0.0.1, [::1], 127.1.2.3, ::ffff:127.0.0.1, 2130706433', async () => {
    const client = strict();
    for (const url of [
      `https://127.0.0.1:${port}/doc`,
      `https://[::1]:${port}/doc`,
      'https://127.1.2.3/doc',
      'https://[::ffff:127.0.0.1]/doc',
      'https://2130706433/doc', // WHATWG URL normalises it to 127.0.0.1
      'https://0x7f.0.0.1/doc',
    ]) {
      expect(await reason(client.fetchJson(url)), url).toBe('address_not_allowed');
    }
    expect(hits.get('/doc') ?? 0).toBe(0);
  });

  it('SSRF: private, link-local (cloud metadata), unique-local, CGNAT, unspecified, multicast and tunnel ranges are refused as IP literals', async () => {
    const client = strict();
    for (const host of [
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '[fc00::1]',
      '[fd12:3456::1]',
      '[fe80::1]',
      '[::]',
      '[::ffff:10.0.0.1]',
      '[2002:7f00:1::]', // 6to4 of 127.0.0.1
      '[64:ff9b::7f00:1]', // NAT64 of 127.0.0.1
    ]) {
      expect(await reason(client.fetchJson(`https://${host}/doc`)), host).toBe('address_not_allowed');
    }
  });

  it('SSRF: publicly routable unicast passes the address check, also seen through an IPv4-mapped form', () => {
    expect(isAllowedAddress('93.184.216.34', false)).toBe(true);
    expect(isAllowedAddress('2606:4700::1111', false)).toBe(true);
    expect(isAllowedAddress('::ffff:93.184.216.34', false)).toBe(true);
    expect(isAllowedAddress('not an address', false)).toBe(false);
    // The development knob opens loopback and private ranges, never the metadata address.
    expect(isAllowedAddress('127.0.0.1', true)).toBe(true);
    expect(isAllowedAddress('10.1.2.3', true)).toBe(true);
    expect(isAllowedAddress('169.254.169.254', true)).toBe(false);
  });

  it('SSRF: "localhost" is refused after resolving it with the system resolver', async () => {
    expect(await reason(strict().fetchJson(`https://localhost:${port}/doc`))).toBe('address_not_allowed');
  });

  it('SSRF: a DNS name resolving to 127.0.0.1 is refused after resolution, and so is a name with one public and one private answer', async () => {
    const asked: string[] = [];
    const resolve: Resolver = async (name) => {
      asked.push(name);
      if (name === 'evil.test') return [{ address: '127.0.0.1', family: 4 }];
      if (name === 'evil6.test') return [{ address: '::1', family: 6 }];
      return [
        { address: '93.184.216.34', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ];
    };
    const client = new OutboundClient({ allowPrivateNetwork: false, resolve });
    expect(await reason(client.fetchJson(`https://evil.test:${port}/doc`))).toBe('address_not_allowed');
    expect(await reason(client.fetchJson('https://evil6.test/doc'))).toBe('address_not_allowed');
    expect(await reason(client.fetchJson('https://mixed.test/doc'))).toBe('address_not_allowed');
    expect(asked).toEqual(['evil.test', 'evil6.test', 'mixed.test']);
  });

  it('SSRF: the refusal names the host only, never the resolved address', async () => {
    const resolve: Resolver = async () => [{ address: '10.20.30.40', family: 4 }];
    const client = new OutboundClient({ allowPrivateNetwork: false, resolve });
    const err = await client.fetchJson('https://internal.test/doc').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutboundError);
    expect((err as Error).message).toContain('internal.test');
    expect((err as Error).message).not.toContain('10.20.30.40');
  });

  it('SSRF: a name that does not resolve is dns_failure', async () => {
    const resolve: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const client = new OutboundClient({ allowPrivateNetwork: false, resolve });
    expect(await reason(client.fetchJson('https://nowhere.test/doc'))).toBe('dns_failure');
  });
});

describe('outbound client: schemes and URLs', () => {
  it('SSRF: http is refused with the knob off, even to a public name; other schemes and credentials always', async () => {
    const client = strict();
    expect(await reason(client.fetchJson(`${base}/doc`))).toBe('scheme_not_allowed');
    expect(await reason(client.fetchJson('http://example.com/doc'))).toBe('scheme_not_allowed');
    expect(await reason(client.fetchJson('file:///etc/passwd'))).toBe('scheme_not_allowed');
    expect(await reason(client.fetchJson('ftp://example.com/doc'))).toBe('scheme_not_allowed');
    expect(await reason(client.fetchJson('https://user:pw@example.com/doc'))).toBe('invalid_url');
    expect(await reason(client.fetchJson('not a url'))).toBe('invalid_url');
    expect(await reason(client.fetchJson(`https://example.com/${'a'.repeat(3000)}`))).toBe('invalid_url');
  });

  it('OUTBOUND_ALLOW_PRIVATE_NETWORK: http is allowed on loopback only, not to a private or public address', async () => {
    const client = dev();
    expect(await reason(client.fetchJson('http://10.0.0.1/doc'))).toBe('scheme_not_allowed');
    const resolve: Resolver = async () => [{ address: '192.168.0.9', family: 4 }];
    expect(
      await reason(
        new OutboundClient({ allowPrivateNetwork: true, resolve }).fetchJson('http://lan.test/doc'),
      ),
    ).toBe('scheme_not_allowed');
  });
});

describe('outbound client: fetching (knob on, local server)', () => {
  it('OUTBOUND_ALLOW_PRIVATE_NETWORK: a JSON document on loopback is fetched and parsed', async () => {
    routes.set('/ok', json({ hello: 'world' }));
    expect(await dev().fetchJson(`${base}/ok`)).toEqual({ hello: 'world' });
  });

  it('SSRF (no rebinding): the socket connects to the address the checked lookup returned, resolved once', async () => {
    routes.set('/named', json({ via: 'name' }));
    let calls = 0;
    const resolve: Resolver = async () => {
      calls++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const client = new OutboundClient({ allowPrivateNetwork: true, resolve });
    hostHeaders.length = 0;
    expect(await client.fetchJson(`http://metadata.test:${port}/named`)).toEqual({ via: 'name' });
    expect(calls).toBe(1);
    expect(hostHeaders).toEqual([`metadata.test:${port}`]);
  });

  it('SSRF: redirects are refused by default without following them, even to an allowed place', async () => {
    routes.set('/target', json({ reached: true }));
    routes.set('/redirect', (_req, res) => res.writeHead(302, { location: `${base}/target` }).end());
    hits.delete('/target');
    expect(await reason(dev().fetchJson(`${base}/redirect`))).toBe('redirect_not_allowed');
    expect(hits.get('/target') ?? 0).toBe(0);
  });

  it('SSRF: when redirects are followed, every hop is checked again (a redirect to 169.254.169.254 is refused) and at most 3 are followed', async () => {
    routes.set('/to-metadata', (_req, res) =>
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    );
    expect(await reason(dev().fetchJson(`${base}/to-metadata`, { maxRedirects: 3 }))).toBe(
      'address_not_allowed',
    );
    routes.set('/to-metadata-https', (_req, res) =>
      res.writeHead(307, { location: 'https://169.254.169.254/latest/meta-data/' }).end(),
    );
    expect(await reason(dev().fetchJson(`${base}/to-metadata-https`, { maxRedirects: 3 }))).toBe(
      'address_not_allowed',
    );
    routes.set('/loop', (_req, res) => res.writeHead(302, { location: '/loop' }).end());
    hits.delete('/loop');
    expect(await reason(dev().fetchJson(`${base}/loop`, { maxRedirects: 10 }))).toBe('too_many_redirects');
    expect(hits.get('/loop')).toBe(4); // the first request and 3 followed redirects
    routes.set('/hop', (_req, res) => res.writeHead(301, { location: '/target' }).end());
    expect(await dev().fetchJson(`${base}/hop`, { maxRedirects: 1 })).toEqual({ reached: true });
  });

  it('Size cap: a declared Content-Length over the cap is refused before the body is read', async () => {
    let bytesWritten = 0;
    routes.set('/declared-big', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && bytesWritten < 10 * 1024 * 1024) {
          bytesWritten += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    expect(await reason(dev().fetchJson(`${base}/declared-big`, { maxBytes: 5120 }))).toBe('too_large');
    expect(bytesWritten).toBeLessThan(10 * 1024 * 1024);
  });

  it('Size cap: a chunked body is cut off as soon as it passes the cap, without reading the rest', async () => {
    let ended = false;
    routes.set('/chunked-big', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"pad":"${'x'.repeat(8 * 1024)}`);
      // Never finishes by itself: only cutting the connection ends this exchange.
      const timer = setTimeout(() => {
        ended = true;
        res.end('"}');
      }, 10_000);
      res.on('close', () => clearTimeout(timer));
    });
    const started = Date.now();
    expect(await reason(dev().fetchJson(`${base}/chunked-big`, { maxBytes: 5120 }))).toBe('too_large');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(ended).toBe(false);
  });

  it('Timeout: a server that sends headers and then stalls is cut off at the deadline', async () => {
    routes.set('/slow', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
      const timer = setTimeout(() => res.end('1}'), 10_000);
      res.on('close', () => clearTimeout(timer));
    });
    routes.set('/silent', () => {});
    const started = Date.now();
    expect(await reason(dev({ timeoutMs: 300 }).fetchJson(`${base}/slow`))).toBe('timeout');
    expect(await reason(dev({ timeoutMs: 300 }).fetchJson(`${base}/silent`))).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('JSON only: a non-JSON content type, a body that is not JSON, and a non-200 status are refused', async () => {
    routes.set('/html', (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('{}'));
    routes.set('/broken', (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{'));
    routes.set('/jsonish', json({ ok: 1 }, { 'content-type': 'application/cimd+json; charset=utf-8' }));
    routes.set('/gzip', json({}, { 'content-encoding': 'gzip' }));
    const client = dev();
    expect(await reason(client.fetchJson(`${base}/html`))).toBe('content_type');
    expect(await reason(client.fetchJson(`${base}/broken`))).toBe('invalid_json');
    expect(await reason(client.fetchJson(`${base}/gzip`))).toBe('content_type');
    expect(await reason(client.fetchJson(`${base}/missing`))).toBe('http_status');
    expect(await client.fetchJson(`${base}/jsonish`)).toEqual({ ok: 1 });
  });
});

describe('outbound client: cache', () => {
  it('RFC 9111 §5.2.2.1: max-age is honoured — served from the cache while fresh, fetched again after', async () => {
    let clock = 1_000_000;
    let version = 0;
    routes.set('/cached', (_req, res) => {
      version++;
      json({ version }, { 'cache-control': 'public, max-age=60' })(_req, res);
    });
    const client = dev({ now: () => clock });
    expect(await client.fetchJson(`${base}/cached`)).toEqual({ version: 1 });
    clock += 59_000;
    expect(await client.fetchJson(`${base}/cached`)).toEqual({ version: 1 });
    clock += 2000;
    expect(await client.fetchJson(`${base}/cached`)).toEqual({ version: 2 });
  });

  it('Cache bound: a max-age beyond one day is clamped to MAX_CACHE_SECONDS; no-store is not kept, no-cache is refetched', async () => {
    expect(cacheSeconds('max-age=999999999')).toBe(MAX_CACHE_SECONDS);
    expect(cacheSeconds('no-store, max-age=60')).toBeNull();
    expect(cacheSeconds('no-cache')).toBe(0);
    expect(cacheSeconds('max-age=-5')).toBe(300); // not a valid max-age: the default
    let clock = 5_000_000;
    let version = 0;
    routes.set('/forever', (req, res) => {
      version++;
      json({ version }, { 'cache-control': 'max-age=999999999' })(req, res);
    });
    const client = dev({ now: () => clock });
    expect(await client.fetchJson(`${base}/forever`)).toEqual({ version: 1 });
    clock += (MAX_CACHE_SECONDS - 1) * 1000;
    expect(await client.fetchJson(`${base}/forever`)).toEqual({ version: 1 });
    clock += 2000;
    expect(await client.fetchJson(`${base}/forever`)).toEqual({ version: 2 });
    let nostore = 0;
    routes.set('/nostore', (req, res) => {
      nostore++;
      json({ nostore }, { 'cache-control': 'no-store' })(req, res);
    });
    await client.fetchJson(`${base}/nostore`);
    expect(await client.fetchJson(`${base}/nostore`)).toEqual({ nostore: 2 });
  });

  it('Stale-on-error: a transient failure (5xx) serves the cached value within MAX_STALE_SECONDS; a 404 or a later failure does not', async () => {
    let clock = 9_000_000;
    let mode: 'ok' | 'down' | 'gone' = 'ok';
    routes.set('/flaky', (req, res) => {
      if (mode === 'down') return void res.writeHead(503).end();
      if (mode === 'gone') return void res.writeHead(404).end();
      json({ up: true }, { 'cache-control': 'max-age=10' })(req, res);
    });
    const client = dev({ now: () => clock });
    expect(await client.fetchJson(`${base}/flaky`)).toEqual({ up: true });
    mode = 'down';
    clock += 11_000;
    expect(await client.fetchJson(`${base}/flaky`)).toEqual({ up: true });
    mode = 'gone';
    expect(await reason(client.fetchJson(`${base}/flaky`))).toBe('http_status');
    mode = 'ok';
    expect(await client.fetchJson(`${base}/flaky`)).toEqual({ up: true });
    mode = 'down';
    clock += (10 + MAX_STALE_SECONDS + 1) * 1000;
    expect(await reason(client.fetchJson(`${base}/flaky`))).toBe('http_status');
  });

  it('Cache bound: the cache holds at most its number of entries, dropping the least recently used', async () => {
    routes.set('/lru', (req, res) => json({ q: req.url }, { 'cache-control': 'max-age=600' })(req, res));
    const client = dev({ cacheEntries: 2 });
    hits.delete('/lru');
    await client.fetchJson(`${base}/lru?a`);
    await client.fetchJson(`${base}/lru?b`);
    await client.fetchJson(`${base}/lru?a`); // a is now the most recent
    await client.fetchJson(`${base}/lru?c`); // drops b
    expect(hits.get('/lru')).toBe(3);
    await client.fetchJson(`${base}/lru?a`);
    expect(hits.get('/lru')).toBe(3);
    await client.fetchJson(`${base}/lru?b`);
    expect(hits.get('/lru')).toBe(4);
  });

  it('Concurrency: parallel requests for one URL share one fetch, and each caller gets its own copy', async () => {
    routes.set('/shared', (req, res) => {
      setTimeout(() => json({ list: [1] }, { 'cache-control': 'no-store' })(req, res), 50);
    });
    hits.delete('/shared');
    const client = dev();
    const results = await Promise.all(Array.from({ length: 10 }, () => client.fetchJson(`${base}/shared`)));
    expect(hits.get('/shared')).toBe(1);
    (results[0] as { list: number[] }).list.push(2);
    expect(results[1]).toEqual({ list: [1] });
  });
});
