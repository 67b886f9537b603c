import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../../src/services/users.js';
import { Agent, basic, hiddenInputs } from '../helpers/http.js';
import { makeClient, postForm, type TestClient } from '../helpers/oauth.js';
import { createTestDatabase, PG_ADMIN_URL } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { parseExposition, scrape, sumOf } from '../helpers/prometheus.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Operating Latchkey: Prometheus metrics on their own listener, counted from real requests; the
 * access log; /readyz. The spawned-process parts (SIGTERM drain, OpenTelemetry export) are in
 * test/reliability/operations.test.ts.
 */

let server: TestServer;
let metricsUrl: string;
let cc: TestClient;
let proxy: TcpProxy;

beforeAll(async () => {
  // Behind a TCP proxy, so one test can take "its" PostgreSQL away (the shared server stays up).
  const admin = new URL(PG_ADMIN_URL);
  proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
  const database = await createTestDatabase();
  const proxied = new URL(database.url);
  proxied.port = String(proxy.port);
  server = await startTestServer({
    databaseUrl: proxied.href,
    env: { METRICS_PORT: String(await freePort()), TRUST_PROXY: 'true', CLEANUP_INTERVAL: '1' },
  });
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    await database.drop();
  };
  metricsUrl = server.metricsUrl!;
  cc = await makeClient(server, { grantTypes: ['client_credentials'], redirectUris: [], scopes: ['read'] });
  await createUser(server.cli(), { username: 'metered', password: 'metered-password' });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await proxy?.stop();
});

const TOKENS = 'latchkey_tokens_issued_total';
const REQUESTS = 'latchkey_http_requests_total';

describe('Prometheus metrics (METRICS_PORT)', () => {
  it('Prometheus text exposition format 0.0.4: /metrics parses, every sample has a TYPE, process metrics are there', async () => {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(await res.text());
    expect(samples.length).toBeGreaterThan(20);
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    expect(samples.filter((s) => !types.has(s.name) && !types.has(base(s.name)))).toEqual([]);
    expect(types.get('process_cpu_seconds_total')).toBe('counter');
    expect(types.get('latchkey_http_request_duration_seconds')).toBe('histogram');
    expect(sumOf(samples, 'latchkey_db_pool_connections', { pool: 'sql', state: 'max' })).toBe(10);
    // One active key per algorithm, created at the server's first start: a few seconds old.
    for (const alg of ['RS256', 'ES256', 'PS256']) {
      const age = sumOf(samples, 'latchkey_signing_key_age_seconds', { alg });
      expect(age).toBeGreaterThan(0);
      expect(age).toBeLessThan(600);
    }
  });

  it('RFC 6749 §4.4: a client_credentials token request adds one to tokens issued for client_credentials and one 2xx to the /o/token/ route; an invalid_client adds to its error code', async () => {
    const before = await scrape(metricsUrl);
    const ok = await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, cc);
    expect(ok.status).toBe(200);
    const bad = await postForm(
      server,
      '/o/token/',
      { grant_type: 'client_credentials' },
      { clientId: cc.clientId, clientSecret: 'not-the-secret' },
    );
    expect(bad.status).toBe(401);
    const after = await scrape(metricsUrl);
    const delta = (name: string, labels: Record<string, string>) =>
      sumOf(after, name, labels) - sumOf(before, name, labels);
    expect(delta(TOKENS, { grant_type: 'client_credentials' })).toBe(1);
    const token = { door: 'protocol', route: '/o/token/', method: 'POST' };
    expect(delta(REQUESTS, { ...token, status_class: '2xx', error: '' })).toBe(1);
    expect(delta(REQUESTS, { ...token, status_class: '4xx', error: 'invalid_client' })).toBe(1);
    expect(delta('latchkey_http_request_duration_seconds_count', { ...token, status_class: '2xx' })).toBe(1);
    expect(delta('latchkey_db_batch_size_count', { batch: 'access_token_insert' })).toBeGreaterThanOrEqual(1);
  });

  it('OWASP ASVS 2.2.1: a wrong password on the login page counts one login failure, a right one a success; beyond LOGIN_MAX_FAILURES they count as locked', async () => {
    const ip = '198.51.100.77';
    const attempt = async (password: string) => {
      const agent = new Agent(server.url);
      const headers = { 'X-Forwarded-For': ip };
      const page = await agent.get('/accounts/login/', headers);
      const hidden = hiddenInputs(page.text, '/accounts/login/');
      return agent.post('/accounts/login/', { ...hidden, username: 'metered', password }, headers);
    };
    const before = await scrape(metricsUrl);
    expect((await attempt('wrong-password')).status).toBe(200);
    expect((await attempt('metered-password')).status).toBe(303);
    for (let i = 0; i < 6; i++) await attempt(`wrong-${i}`);
    const after = await scrape(metricsUrl);
    const delta = (outcome: string) =>
      sumOf(after, 'latchkey_login_attempts_total', { outcome }) -
      sumOf(before, 'latchkey_login_attempts_total', { outcome });
    expect(delta('failure')).toBe(6); // 1, then 5 up to LOGIN_MAX_FAILURES
    expect(delta('success')).toBe(1);
    expect(delta('locked')).toBe(1);
    const page = { door: 'pages', route: '/accounts/login/', method: 'POST' };
    expect(sumOf(after, REQUESTS, page) - sumOf(before, REQUESTS, page)).toBe(8);
  });

  it('RFC 9700 §4.14.2: presenting a rotated refresh token counts one refresh-token replay', async () => {
    const client = await makeClient(server, {
      clientType: 'public',
      tokenEndpointAuthMethod: 'none',
      grantTypes: ['password', 'refresh_token'],
      redirectUris: [],
      scopes: ['read'],
    });
    const first = await postForm(
      server,
      '/o/token/',
      { grant_type: 'password', username: 'metered', password: 'metered-password' },
      client,
      { 'X-Forwarded-For': '198.51.100.78' },
    );
    expect(first.status, first.text).toBe(200);
    const refresh = { grant_type: 'refresh_token', refresh_token: String(first.json.refresh_token) };
    expect((await postForm(server, '/o/token/', refresh, client)).status).toBe(200);
    const before = await scrape(metricsUrl);
    expect((await postForm(server, '/o/token/', refresh, client)).json.error).toBe('invalid_grant');
    const after = await scrape(metricsUrl);
    const kind = { kind: 'refresh_token' };
    expect(
      sumOf(after, 'latchkey_token_replays_total', kind) -
        sumOf(before, 'latchkey_token_replays_total', kind),
    ).toBe(1);
    expect(sumOf(after, TOKENS, { grant_type: 'password' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(after, TOKENS, { grant_type: 'refresh_token' })).toBeGreaterThanOrEqual(1);
  });

  it('GraphQL over HTTP: operations are counted by name and error code; invented names beyond the cap become "other"', async () => {
    const gql = (query: string, operationName?: string) =>
      fetch(new URL('/graphql', server.url), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ query, operationName }),
      });
    const before = await scrape(metricsUrl);
    expect((await gql('query Who { viewer { id } }', 'Who')).status).toBe(200);
    await gql('query Admins { users(first: 1) { totalCount } }', 'Admins'); // anonymous: UNAUTHENTICATED
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => gql(`query Invented${i} { viewer { id } }`, `Invented${i}`)),
    );
    const after = await scrape(metricsUrl);
    const ops = 'latchkey_graphql_operations_total';
    expect(sumOf(after, ops, { operation: 'Who', type: 'query', code: 'none' })).toBe(
      sumOf(before, ops, { operation: 'Who', type: 'query', code: 'none' }) + 1,
    );
    const admins = after.filter((s) => s.name === ops && s.labels.operation === 'Admins');
    expect(admins.map((s) => s.labels.code)).toEqual(['UNAUTHENTICATED']);
    const names = new Set(after.filter((s) => s.name === ops).map((s) => s.labels.operation));
    expect(names.size).toBeLessThanOrEqual(102); // 100 names, anonymous, other
    expect(sumOf(after, ops, { operation: 'other' })).toBeGreaterThanOrEqual(20);
    const graphql = { door: 'graphql', route: '/graphql', method: 'POST' };
    expect(sumOf(after, REQUESTS, graphql) - sumOf(before, REQUESTS, graphql)).toBe(122);
  });

  it('label cardinality is bounded: unknown URLs, ids in paths and client ids never become label values', async () => {
    const junk = `zz${Date.now()}`;
    await fetch(new URL(`/no/such/${junk}/`, server.url));
    await fetch(new URL(`/o/applications/${junk}/`, server.url), { headers: { Accept: 'text/html' } });
    await fetch(new URL(`/o/register/${junk}`, server.url));
    await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, cc);
    const text = await (await fetch(metricsUrl)).text();
    expect(text).not.toContain(junk);
    expect(text).not.toContain(cc.clientId);
    const routes = new Set(
      parseExposition(text)
        .samples.filter((s) => s.name === REQUESTS)
        .map((s) => s.labels.route),
    );
    expect([...routes].filter((r) => !/^(\/[\w.:/*-]*|unmatched)$/.test(r))).toEqual([]);
    expect(routes).toContain('unmatched');
  });

  it('cleanup without cron: expired rows the background cleanup deletes are counted per table', async () => {
    const before = await scrape(metricsUrl);
    const issued = await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, cc);
    expect(issued.status).toBe(200);
    // Every live token of this client, expired an hour ago: the next cleanup run (every second) deletes them.
    for (let i = 0; i < 2; i++) await postForm(server, '/o/token/', { grant_type: 'client_credentials' }, cc);
    const expired = await server.runtime.db.sql.execute(
      `update access_tokens set expires_at = now() - interval '1 hour'
        where application_id = (select id from applications where client_id = $1) and expires_at > now()`,
      [cc.clientId],
    );
    expect(expired).toBeGreaterThanOrEqual(3);
    const table = { table: 'access_tokens' };
    let deleted = 0;
    for (let i = 0; i < 50 && deleted < expired; i++) {
      await new Promise((r) => setTimeout(r, 200));
      deleted =
        sumOf(await scrape(metricsUrl), 'latchkey_cleanup_rows_deleted_total', table) -
        sumOf(before, 'latchkey_cleanup_rows_deleted_total', table);
    }
    expect(deleted).toBe(expired);
  });

  it('the metrics listener serves GET /metrics and nothing else, and the public port has no /metrics', async () => {
    const onMain = await fetch(new URL('/metrics', server.url));
    expect(onMain.status).toBe(404);
    expect(await onMain.text()).not.toContain('latchkey_');
    const metrics = new URL(metricsUrl);
    expect(metrics.hostname).toBe('127.0.0.1');
    expect(metrics.port).not.toBe(new URL(server.url).port);
    expect((await fetch(new URL('/', metrics))).status).toBe(404);
    expect((await fetch(new URL('/healthz', metrics))).status).toBe(404);
    expect((await fetch(metrics, { method: 'POST' })).status).toBe(405);
  });
});

describe('access log', () => {
  it('RFC 6749 §5.2: one line per request with route, status, duration, request id, the authenticated client id and the OAuth error code; never the secret', async () => {
    const id = `obs-${Date.now()}`;
    const res = await fetch(new URL('/o/token/', server.url), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: basic(cc.clientId, cc.clientSecret!),
        'X-Request-Id': id,
      },
      body: new URLSearchParams({ grant_type: 'password', username: 'x', password: 'y' }),
    });
    expect(res.status).toBe(400);
    const lines = await linesWith(server.logFile, id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      module: 'access',
      reqId: id,
      method: 'POST',
      route: '/o/token/',
      status: 400,
      error: 'unauthorized_client',
      client_id: cc.clientId,
      ms: expect.any(Number),
    });
    expect(JSON.stringify(lines[0])).not.toContain(cc.clientSecret!);
  });

  it('pages are logged with their route template, not the id in the path', async () => {
    const id = `obs-page-${Date.now()}`;
    const agent = new Agent(server.url);
    await agent.login('metered', 'metered-password');
    const res = await agent.get(`/o/applications/${cc.id}/`, { 'X-Request-Id': id });
    expect(res.status).toBe(404); // someone else's application
    const [line] = await linesWith(server.logFile, id);
    expect(line).toMatchObject({
      route: '/o/applications/:id/',
      path: `/o/applications/${cc.id}/`,
      status: 404,
    });
  });
});

describe('/readyz', () => {
  it('Kubernetes readiness semantics: /readyz is 200 with the database answering, migrations current and keys loaded; 503 with Retry-After while the database is unreachable, and 200 again after', async () => {
    const ready = await fetch(new URL('/readyz', server.url));
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      draining: false,
      database: 'ok',
      migrations: 'ok',
      keys: 'ok',
    });
    await proxy.stop();
    try {
      const down = await fetch(new URL('/readyz', server.url));
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(await down.json()).toMatchObject({ status: 'unavailable', database: 'unavailable', keys: 'ok' });
      // Liveness is not readiness: the process answers, and the metrics listener still serves.
      expect((await fetch(metricsUrl)).status).toBe(200);
    } finally {
      await proxy.start();
    }
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await fetch(new URL('/readyz', server.url))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });
});

async function linesWith(file: string, needle: string): Promise<Record<string, unknown>[]> {
  // pino writes asynchronously to the file stream; give it a moment.
  for (let i = 0; i < 20; i++) {
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes(needle))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    if (lines.length) return lines;
    await new Promise((r) => setTimeout(r, 100));
  }
  return [];
}
