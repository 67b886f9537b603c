import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/http/outbound.js';
import { deleteExpired } from '../../src/services/cleanup.js';
import {
  ClientCache,
  type ClientRecord,
  DOCUMENT_FAILURE_SECONDS,
  type DocumentRequester,
} from '../../src/services/client-cache.js';
import {
  CLIENT_METADATA_DOCUMENT_MAX_BYTES,
  ClientMetadataDocumentError,
} from '../../src/services/client-metadata-documents.js';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { authorizePath, pkce, postForm } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { selfSignedCertificate } from '../helpers/tls.js';

/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document) under hostile
 * load and hostile documents, through the real authorization endpoint of a real Latchkey on
 * PostgreSQL: documents are served over https (self-signed, cimd.test → 127.0.0.1) by a local
 * server that counts every request it receives, so "no fetch" is observed where it happens.
 * Each test speaks from its own address (TRUST_PROXY + X-Forwarded-For), so the per-address
 * fetch counters of one test do not touch another's.
 */

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

let docs: https.Server;
let docPort: number;
/** Latchkey with a low per-address limit (3 per hour) and a 1 s outbound deadline. */
let server: TestServer;
/** Latchkey allowing 2 outbound fetches at once. */
let narrow: TestServer;
const routes = new Map<string, Route>();
const hits = new Map<string, number>();
const resolve: Resolver = async (name) => (name === 'cimd.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
const REDIRECT = 'http://127.0.0.1:9/cb';
const MAX_PER_HOUR = 3;
const id = (path: string) => `https://cimd.test:${docPort}${path}`;
const fetchesOf = (path: string) => hits.get(path) ?? 0;

/** A valid document for `path`, served with the given Cache-Control. */
function serve(path: string, extra: Record<string, unknown> = {}, cacheControl = 'max-age=300'): void {
  routes.set(path, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl });
    res.end(JSON.stringify({ client_id: id(path), redirect_uris: [REDIRECT], ...extra }));
  });
}

let lastOctet = 0;
/** A fresh client address for one test. */
function address(): Record<string, string> {
  lastOctet++;
  return { 'X-Forwarded-For': `203.0.113.${lastOctet}` };
}

function request(clientId: string, challenge = pkce().challenge): string {
  return authorizePath({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'read',
    state: 's1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
}

/** An anonymous authorization request: a valid one is sent to the login page. */
async function ask(s: TestServer, clientId: string, from: Record<string, string>) {
  return new Agent(s.url).get(request(clientId), from);
}

async function rowsFor(s: TestServer, clientIds: string[]): Promise<string[]> {
  const rows = await s.runtime.db.sql.query<{ client_id: string }>(
    'select client_id from applications where client_id = any($1) order by client_id',
    [clientIds],
  );
  return rows.map((r) => r.client_id);
}

function expectReadablePage(page: { status: number; text: string; location?: string }, status: number) {
  expect(page.status).toBe(status);
  expect(page.location).toBeUndefined();
  expect(page.text).toContain('<h1>');
  expect(page.text).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
}

beforeAll(async () => {
  const { key, cert } = selfSignedCertificate(['cimd.test']);
  docs = https.createServer({ key, cert }, (req, res) => {
    const path = req.url ?? '';
    hits.set(path, fetchesOf(path) + 1);
    const route = routes.get(path);
    if (!route) return void res.writeHead(404).end();
    route(req, res);
  });
  await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
  docPort = (docs.address() as AddressInfo).port;
  const env = {
    CLIENT_ID_METADATA_DOCUMENTS: 'true',
    OUTBOUND_ALLOW_PRIVATE_NETWORK: 'true',
    TRUST_PROXY: 'true',
  };
  [server, narrow] = await Promise.all([
    startTestServer({
      env: { ...env, CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR: String(MAX_PER_HOUR), CLIENT_CACHE_TTL: '0' },
      outbound: { resolve, ca: cert, timeoutMs: 1000 },
    }),
    startTestServer({ env, outbound: { resolve, ca: cert, maxConcurrent: 2 } }),
  ]);
  await createUser(server.cli(), { username: 'alice', password: 'alice-password' });
});

afterAll(async () => {
  await Promise.all([server?.stop(), narrow?.stop()]);
  docs.closeAllConnections();
  await new Promise((r) => docs.close(r));
});

describe('CIMD: abandoned document clients are cleaned up', () => {
  it('CIMD §4 / RFC 7591 §3 (abandoned registrations): a document client whose authorization request never led to a grant or token is deleted by the cleanup after DYNAMIC_REGISTRATION_ABANDONED_AFTER; a used one, and a recent one, stay', async () => {
    const from = address();
    const [abandoned, used, recent] = ['/abandoned.json', '/used.json', '/recent.json'].map((p) => {
      serve(p);
      return id(p);
    });
    // Abandoned: the request reached the login page (so the row exists) and went no further.
    expect((await ask(server, abandoned, from)).location).toContain('/accounts/login/');
    // Used: login, consent, code, token.
    const agent = new Agent(server.url);
    await agent.login('alice', 'alice-password');
    const { verifier, challenge } = pkce();
    const page = await agent.get(request(used, challenge), from);
    expect(page.status).toBe(200);
    const approved = await agent.post(
      '/o/authorize/',
      { ...hiddenInputs(page.text, '/o/authorize/'), allow: 'Allow' },
      from,
    );
    const code = new URL(approved.location!).searchParams.get('code')!;
    const token = await postForm(server, '/o/token/', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      client_id: used,
    });
    expect(token.status).toBe(200);
    expect(await rowsFor(server, [abandoned, used])).toEqual([abandoned, used].sort());

    const sql = server.runtime.db.sql;
    const after = server.runtime.config.dynamicRegistration.abandonedAfter;
    // Both last resolved longer ago than the setting; the recent one just now.
    await sql.execute(
      `update applications set created_at = now() - make_interval(secs => $2 + 60),
              updated_at = now() - make_interval(secs => $2 + 60) where client_id = any($1)`,
      [[abandoned, used], after],
    );
    expect((await ask(server, recent, from)).location).toContain('/accounts/login/');
    const counts = await deleteExpired(sql, 1000, { abandonedAfter: after });
    expect(counts.abandoned_registrations).toBe(1);
    expect(await rowsFor(server, [abandoned, used, recent])).toEqual([used, recent].sort());
    const again = await deleteExpired(sql, 1000, { abandonedAfter: after });
    expect(again.abandoned_registrations).toBe(0);
    // A deleted document client is simply resolved again at its next authorization request.
    expect((await ask(server, abandoned, address())).location).toContain('/accounts/login/');
    expect(await rowsFor(server, [abandoned])).toEqual([abandoned]);
  });
});

describe('CIMD: a flood of client_id URLs from one address', () => {
  it(`CIMD §6 (security: SSRF / fetch amplification): of 10 parallel requests naming distinct client_id URLs from one address, exactly CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR (${MAX_PER_HOUR}) cause a fetch and a row; the rest are a readable 429 page with Retry-After, no fetch, no row`, async () => {
    const from = address();
    const paths = Array.from({ length: 10 }, (_, i) => `/flood-${i}.json`);
    for (const p of paths) serve(p);
    const ids = paths.map(id);
    const pages = await Promise.all(ids.map((c) => ask(server, c, from)));
    const admitted = pages.filter((p) => p.status === 302);
    const limited = pages.filter((p) => p.status === 429);
    expect(admitted).toHaveLength(MAX_PER_HOUR);
    expect(limited).toHaveLength(10 - MAX_PER_HOUR);
    for (const page of limited) {
      expectReadablePage(page, 429);
      expect(page.text).toContain('Too many requests');
      expect(Number(page.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(paths.reduce((n, p) => n + fetchesOf(p), 0)).toBe(MAX_PER_HOUR);
    expect(await rowsFor(server, ids)).toHaveLength(MAX_PER_HOUR);
    for (const [i, page] of pages.entries()) {
      expect(fetchesOf(paths[i])).toBe(page.status === 302 ? 1 : 0);
    }

    // Over its limit, the address still uses a document already in the HTTP cache (no fetch,
    // nothing counted); another address may fetch a document this one was refused.
    const cached = ids[pages.findIndex((p) => p.status === 302)];
    expect((await ask(server, cached, from)).status).toBe(302);
    const refusedPath = paths[pages.findIndex((p) => p.status === 429)];
    expect((await ask(server, id(refusedPath), from)).status).toBe(429);
    expect(fetchesOf(refusedPath)).toBe(0);
    expect((await ask(server, id(refusedPath), address())).status).toBe(302);
    expect(fetchesOf(refusedPath)).toBe(1);
  });

  it('CIMD §6 (security): a request that joined a resolution refused for another, over-limit address is resolved on its own budget, and the refusal is not remembered for the client id', async () => {
    const calls: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const record = { clientId: id('/joined.json') } as ClientRecord;
    const resolver = async (_clientId: string, who: DocumentRequester) => {
      calls.push(who.ip ?? '');
      if (who.ip === 'flooder') {
        await gate;
        throw new ClientMetadataDocumentError('rate_limited', 'Too many.', { retryAfter: 60 });
      }
      return record;
    };
    const cache = new ClientCache(server.runtime.db.sql, 5, resolver);
    const flooder = cache.forAuthorization(id('/joined.json'), { ip: 'flooder' });
    const honest = cache.forAuthorization(id('/joined.json'), { ip: 'honest' });
    release();
    await expect(flooder).rejects.toThrow('Too many.');
    expect(await honest).toBe(record);
    expect(calls).toEqual(['flooder', 'honest']);
    // The flooder's refusal is not a verdict on the document: served from the cache now.
    expect(await cache.forAuthorization(id('/joined.json'), { ip: 'flooder' })).toBe(record);
  });

  it('CIMD §6 (security): outbound fetches in progress are bounded per process — beyond the bound a request is a readable 503 page with Retry-After and causes no fetch; it is not remembered as a document failure', async () => {
    const from = address();
    const held: Array<() => void> = [];
    for (const p of ['/held-1.json', '/held-2.json']) {
      routes.set(p, (_req, res) => {
        held.push(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ client_id: id(p), redirect_uris: [REDIRECT] }));
        });
      });
    }
    serve('/third.json');
    const slow = ['/held-1.json', '/held-2.json'].map((p) => ask(narrow, id(p), from));
    while (held.length < 2) await new Promise((r) => setTimeout(r, 10));
    const busy = await ask(narrow, id('/third.json'), from);
    expectReadablePage(busy, 503);
    expect(busy.headers.get('retry-after')).toBeTruthy();
    expect(fetchesOf('/third.json')).toBe(0);
    for (const release of held) release();
    for (const page of await Promise.all(slow)) expect(page.status).toBe(302);
    // Not remembered: at once, with slots free again, the same client id works.
    expect((await ask(narrow, id('/third.json'), from)).status).toBe(302);
    expect(fetchesOf('/third.json')).toBe(1);
  });

  it('CIMD §4 (coalescing): 20 parallel authorization requests for one new document URL cause exactly one fetch and one row', async () => {
    const from = address();
    const path = '/popular.json';
    routes.set(path, (_req, res) => {
      // Answer late, so that all 20 requests arrive while the one fetch is in progress.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
        res.end(JSON.stringify({ client_id: id(path), redirect_uris: [REDIRECT] }));
      }, 300);
    });
    const pages = await Promise.all(Array.from({ length: 20 }, () => ask(narrow, id(path), from)));
    for (const page of pages) expect(page.location).toContain('/accounts/login/');
    expect(fetchesOf(path)).toBe(1);
    const rows = await narrow.runtime.db.sql.query<{ n: number }>(
      'select count(*)::int as n from applications where client_id = $1',
      [id(path)],
    );
    expect(rows[0].n).toBe(1);
  });
});

describe('CIMD: documents that cannot be used, through the authorization endpoint', () => {
  /**
   * The request is a readable 400 page naming the problem, twice (the second within
   * DOCUMENT_FAILURE_SECONDS causes no second fetch), and no row is written.
   */
  async function refusedAndRemembered(path: string, says: string | RegExp) {
    const from = address();
    for (let attempt = 0; attempt < 2; attempt++) {
      const page = await ask(server, id(path), from);
      expectReadablePage(page, 400);
      expect(page.text).toMatch(says);
      expect(page.text).not.toContain(`127.0.0.1:${docPort}`);
    }
    expect(fetchesOf(path)).toBe(1);
    expect(await rowsFor(server, [id(path)])).toEqual([]);
  }

  it(`CIMD §4 / OWASP SSRF (timeouts): a document server that never finishes answering within the deadline gives a readable page, never a 500, no row, and is not fetched again within DOCUMENT_FAILURE_SECONDS (${DOCUMENT_FAILURE_SECONDS} s)`, async () => {
    const stalled: http.ServerResponse[] = [];
    routes.set('/slow.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"client_id":');
      stalled.push(res);
    });
    routes.set('/silent.json', (_req, res) => void stalled.push(res));
    await refusedAndRemembered('/slow.json', /could not be fetched.*did not answer in time/s);
    await refusedAndRemembered('/silent.json', /could not be fetched.*did not answer in time/s);
    for (const res of stalled) res.destroy();
  });

  it(`CIMD §4 (size: "for example, 5 kilobytes"): a document over ${CLIENT_METADATA_DOCUMENT_MAX_BYTES} bytes — declared or chunked — gives a readable page, never a 500, no row, and is not fetched again within DOCUMENT_FAILURE_SECONDS`, async () => {
    const big = (path: string) =>
      JSON.stringify({
        client_id: id(path),
        redirect_uris: [REDIRECT],
        client_name: 'x'.repeat(CLIENT_METADATA_DOCUMENT_MAX_BYTES),
      });
    routes.set('/declared-big.json', (_req, res) => {
      const body = big('/declared-big.json');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    routes.set('/chunked-big.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = big('/chunked-big.json');
      for (let i = 0; i < body.length; i += 1000) res.write(body.slice(i, i + 1000));
      res.end();
    });
    await refusedAndRemembered('/declared-big.json', /could not be fetched.*larger than allowed/s);
    await refusedAndRemembered('/chunked-big.json', /could not be fetched.*larger than allowed/s);
  });

  it('CIMD §4.1: a document whose client_id is not the URL it was fetched from is refused readably, no row, remembered', async () => {
    routes.set('/impostor.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
      res.end(JSON.stringify({ client_id: id('/someone-else.json'), redirect_uris: [REDIRECT] }));
    });
    await refusedAndRemembered('/impostor.json', 'client_id does not equal the URL');
  });

  it('CIMD §4 / RFC 7591 §2: a document asking for token_endpoint_auth_method other than none (client_secret_basic, private_key_jwt), or carrying a client_secret, is refused readably, no row, remembered', async () => {
    // no-cache: the HTTP cache does not answer the second request, the remembered failure must.
    serve('/basic.json', { token_endpoint_auth_method: 'client_secret_basic' }, 'no-cache');
    serve('/pkjwt.json', { token_endpoint_auth_method: 'private_key_jwt' }, 'no-cache');
    serve('/secret.json', { client_secret: 'hunter2' }, 'no-cache');
    await refusedAndRemembered('/basic.json', /token_endpoint_auth_method must be (&quot;|")none(&quot;|")/);
    await refusedAndRemembered('/pkjwt.json', /token_endpoint_auth_method must be (&quot;|")none(&quot;|")/);
    await refusedAndRemembered('/secret.json', 'must not contain a client secret');
  });

  it('CIMD §4 / RFC 6749 §4.1.2.1: a redirect_uri the document does not list is an error page, never a redirect to it (the document itself is valid: its row exists, held to its own redirect_uris)', async () => {
    const from = address();
    serve('/elsewhere.json', { redirect_uris: ['https://app.example/cb'] });
    const page = await ask(server, id('/elsewhere.json'), from);
    expectReadablePage(page, 400);
    expect(page.text).toContain('Redirect URI not registered');
    const [row] = await server.runtime.db.sql.query<{ redirect_uris: string[] }>(
      'select redirect_uris from applications where client_id = $1',
      [id('/elsewhere.json')],
    );
    expect(row.redirect_uris).toEqual(['https://app.example/cb']);
  });
});
