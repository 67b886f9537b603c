import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, basic, hiddenInputs } from '../helpers/http.js';
import { makeClient } from '../helpers/oauth.js';
import { createTestDatabase, PG_ADMIN_URL } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { runCli, SERVER_START_MS, type Spawned, spawnProcess, waitForHealthy } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Reliability. A server killed with SIGKILL under load loses nothing it answered with a 200
 * (PostgreSQL and PGlite). A database outage is answered with 503s — RFC 6749 §5.2
 * `temporarily_unavailable` JSON on the protocol endpoints, a readable page on the pages, never a
 * 500 or a stack trace — and the service heals by itself once the database is back.
 *
 * The three scenarios run side by side (they share nothing) to keep the file short.
 */

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) {
    try {
      await c();
    } catch {
      // keep cleaning up
    }
  }
});

/** A stack trace or a source location leaking into a response body. */
const STACK = /\n\s+at\s|\bat\s+\S+\s+\(|\.[cm]?[jt]s:\d+:\d+|node_modules/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Credentials {
  clientId: string;
  clientSecret: string;
}

interface Answer {
  status: number;
  json: Record<string, unknown>;
  text: string;
  headers: Headers;
}

/** POSTs a form with HTTP Basic client authentication; `null` when no answer arrived. */
async function postForm(
  base: string,
  pathname: string,
  form: Record<string, string>,
  client?: Credentials,
  timeoutMs = 5000,
): Promise<Answer | null> {
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (client) headers.Authorization = basic(client.clientId, client.clientSecret);
  try {
    const res = await fetch(new URL(pathname, base), {
      method: 'POST',
      headers,
      body: new URLSearchParams(form),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, json, text, headers: res.headers };
  } catch {
    return null; // refused, cut or timed out
  }
}

/** Runs `fn` over `items` with at most `width` in flight. */
async function eachLimited<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Crash safety
// ---------------------------------------------------------------------------------------------

function parseCli(res: { code: number | null; stdout: string; stderr: string }): Record<string, string> {
  if (res.code !== 0) throw new Error(`CLI failed (${res.code}): ${res.stderr}`);
  return JSON.parse(res.stdout) as Record<string, string>;
}

const createUser = (env: Record<string, string>) =>
  runCli(['create-user', '--username', 'alice', '--password', 'alice-password'], env).then(parseCli);

/**
 * One confidential application, registered with the CLI: client_credentials as a resource server
 * allowed the `introspection` scope (it may introspect every token), and password + refresh_token
 * for the refresh chains.
 */
async function createApplication(env: Record<string, string>): Promise<Credentials> {
  const app = parseCli(
    await runCli(
      [
        'create-application',
        '--owner',
        'alice',
        '--name',
        'crash-test',
        '--client-type',
        'confidential',
        '--grant-types',
        'client_credentials,password,refresh_token',
        '--scopes',
        'read,introspection',
      ],
      env,
    ),
  );
  return { clientId: app.client_id, clientSecret: app.client_secret };
}

/**
 * The same application, registered by its owner through GraphQL (session cookie). An owner who
 * is not an admin may not give it the `introspection` scope; it introspects only its own tokens.
 */
async function createApplicationThroughGraphql(base: string): Promise<Credentials> {
  const owner = new Agent(base);
  await owner.login('alice', 'alice-password');
  const res = await owner.request('POST', '/graphql', {
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({
      query: `mutation ($input: CreateApplicationInput!) {
        createApplication(input: $input) { application { clientId } clientSecret }
      }`,
      variables: {
        input: {
          name: 'crash-test',
          clientType: 'CONFIDENTIAL',
          grantTypes: ['CLIENT_CREDENTIALS', 'PASSWORD', 'REFRESH_TOKEN'],
          scopes: ['read'],
        },
      },
    }),
  });
  const payload = JSON.parse(res.text).data?.createApplication;
  if (!payload?.clientSecret) throw new Error(`createApplication: ${res.status} ${res.text}`);
  return { clientId: payload.application.clientId, clientSecret: payload.clientSecret };
}

interface Chain {
  /** The refresh token of the chain's last 200: its only live refresh token. */
  last: string;
  /** A request presenting `last` got no answer: it may or may not have consumed it. */
  ambiguous: boolean;
  refreshes: number;
}

/**
 * client_credentials workers and refresh-rotation chains (each refresh presents the token of the
 * previous 200). Records every access token from a 200 and every answered request that was not a
 * 200 (before the crash there must be none). Every loop is bounded by count and time.
 */
async function startLoad(base: string, client: Credentials) {
  const accessTokens: string[] = [];
  const unexpected: string[] = [];
  const deadline = Date.now() + 20_000;
  const all = { stop: false };
  const settling = { stop: false };
  const token = (form: Record<string, string>, timeoutMs?: number) =>
    postForm(base, '/o/token/', form, client, timeoutMs);

  const ccWorker = async () => {
    for (let i = 0; i < 400 && !all.stop && Date.now() < deadline; i++) {
      const res = await token({ grant_type: 'client_credentials', scope: 'read' });
      if (!res) return; // the server is gone
      if (res.status === 200) accessTokens.push(res.json.access_token as string);
      else unexpected.push(`client_credentials: ${res.status} ${res.text.slice(0, 200)}`);
    }
  };
  const chainWorker = async (chain: Chain, flag: { stop: boolean }) => {
    for (let i = 0; i < 300 && !flag.stop && !all.stop && Date.now() < deadline; i++) {
      const res = await token({ grant_type: 'refresh_token', refresh_token: chain.last });
      if (!res) {
        chain.ambiguous = true;
        return;
      }
      if (res.status !== 200) {
        unexpected.push(`refresh: ${res.status} ${res.text.slice(0, 200)}`);
        return;
      }
      accessTokens.push(res.json.access_token as string);
      chain.last = res.json.refresh_token as string;
      chain.refreshes++;
    }
  };
  const newChain = async (): Promise<Chain> => {
    const form = { grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'read' };
    const res = await token(form, 20_000);
    if (res?.status !== 200) throw new Error(`password grant: ${res?.status} ${res?.text}`);
    accessTokens.push(res.json.access_token as string);
    return { last: res.json.refresh_token as string, ambiguous: false, refreshes: 0 };
  };

  // The client_credentials load starts at once; the chains join as soon as they have a token.
  const started = Date.now();
  const ccLoops = [ccWorker(), ccWorker(), ccWorker()];
  const chains = await Promise.all([newChain(), newChain(), newChain(), newChain()]);
  // Two chains go idle just before the crash (their last refresh token handed out, never
  // presented); two keep rotating through it.
  const settled = chains.slice(0, 2);
  const cut = chains.slice(2);
  const settledLoops = settled.map((c) => chainWorker(c, settling));
  const otherLoops = [...cut.map((c) => chainWorker(c, all)), ...ccLoops];
  return {
    accessTokens,
    unexpected,
    settled,
    cut,
    /** Waits for ~1.5 s of load, with some refreshes done by every chain (bounded). */
    async warm() {
      const enough = () =>
        Date.now() - started >= 1500 && chains.every((c) => c.refreshes >= 3) && accessTokens.length >= 30;
      while (!enough() && Date.now() - started < 10_000) await sleep(50);
    },
    /** Stops the settling chains and waits until none of them has a request in flight. */
    async settle() {
      settling.stop = true;
      await Promise.all(settledLoops);
    },
    async finish() {
      all.stop = true;
      settling.stop = true;
      await Promise.all([...settledLoops, ...otherLoops]);
    },
  };
}

/** The crash scenario for either back end. */
async function crashUnderLoad(opts: {
  env: Record<string, string>;
  /** Registers the user and application (the first server is starting or running). */
  provision: (first: Spawned, base: string) => Promise<Credentials>;
  afterKill?: () => void;
  afterRestart?: (second: Spawned) => void;
}): Promise<{ second: Spawned; tokens: number }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serverEnv = {
    ...opts.env,
    PORT: String(port),
    ISSUER: base,
    LOG_LEVEL: 'warn',
    CLEANUP_INTERVAL: '0',
  };
  const spawnServer = () => spawnProcess('node', ['--import', 'tsx', 'src/main.ts'], serverEnv);

  const first = spawnServer();
  cleanups.push(() => first.stop('SIGKILL'));
  const client = await opts.provision(first, base);
  expect(await waitForHealthy(`${base}/healthz`, SERVER_START_MS, first), first.output()).toBe(200);

  const load = await startLoad(base, client);
  // ~1.5 s of load; then the settling chains go idle and the server is killed mid-load.
  await load.warm();
  await load.settle();
  await first.stop('SIGKILL');
  await load.finish();
  expect(first.child.signalCode).toBe('SIGKILL');
  expect(load.unexpected).toEqual([]);
  expect(load.settled.every((c) => c.refreshes > 0)).toBe(true);
  opts.afterKill?.();

  const second = spawnServer();
  cleanups.push(() => second.stop('SIGKILL'));
  expect(await waitForHealthy(`${base}/healthz`, SERVER_START_MS, second), second.output()).toBe(200);
  opts.afterRestart?.(second);

  // Every access token whose response was a 200 is active (checked first: presenting a cut
  // chain's token below may count as reuse and revoke that family, as designed).
  const inactive: string[] = [];
  await eachLimited([...new Set(load.accessTokens)], 8, async (token) => {
    const res = await postForm(base, '/o/introspect/', { token }, client, 10_000);
    if (res?.status !== 200 || res.json.active !== true)
      inactive.push(`${token.slice(0, 12)}…: ${res?.status} ${res?.text}`);
  });
  expect(inactive).toEqual([]);

  // RFC 6749 §6 with rotation: a refresh token handed out in a 200 and never presented works
  // exactly once.
  for (const chain of load.settled) {
    const form = { grant_type: 'refresh_token', refresh_token: chain.last };
    const once = await postForm(base, '/o/token/', form, client);
    expect(once?.status, once?.text).toBe(200);
    expect(once?.json.refresh_token).toEqual(expect.any(String));
    const twice = await postForm(base, '/o/token/', form, client);
    expect(twice?.status, twice?.text).toBe(400);
    expect(twice?.json.error).toBe('invalid_grant');
  }
  // A chain cut mid-request: its last token may or may not have been consumed (no assertion on
  // which), but it is never a 5xx and never usable twice.
  for (const chain of load.cut) {
    const form = { grant_type: 'refresh_token', refresh_token: chain.last };
    const once = await postForm(base, '/o/token/', form, client);
    expect([200, 400], once?.text).toContain(once?.status);
    if (once?.status === 400) {
      expect(once.json.error).toBe('invalid_grant');
      expect(chain.ambiguous).toBe(true);
    } else {
      const twice = await postForm(base, '/o/token/', form, client);
      expect(twice?.json.error, twice?.text).toBe('invalid_grant');
    }
  }
  // The restarted server issues tokens.
  const fresh = await postForm(base, '/o/token/', { grant_type: 'client_credentials' }, client);
  expect(fresh?.status, fresh?.text).toBe(200);
  return { second, tokens: load.accessTokens.length };
}

describe.concurrent('kill -9 under client_credentials and refresh-token load, then restart', () => {
  it('PostgreSQL: every access token from a 200 introspects active; every refresh token handed out and not yet used works exactly once', async () => {
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const env = { DATABASE_URL: db.url };
    const { tokens } = await crashUnderLoad({
      env,
      // The database is migrated already: the CLI runs while the server starts.
      provision: async () => {
        await createUser(env);
        return createApplication(env);
      },
    });
    expect(tokens).toBeGreaterThanOrEqual(30);
  }, 300_000);

  it('PGlite: the data directory survives and its stale lock is taken over; every access token from a 200 introspects active; every refresh token handed out and not yet used works exactly once; a graceful stop releases the lock', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'latchkey-crash-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const dataDir = path.join(dir, 'data');
    const lockFile = path.join(dataDir, 'latchkey.lock');
    const env = { DATA_DIR: dataDir, DATABASE_URL: '' };
    const { second, tokens } = await crashUnderLoad({
      env,
      // The server holds the directory: the CLI sends its command through the server's socket;
      // the application is registered through the running server's GraphQL API.
      provision: async (first, base) => {
        expect(await waitForHealthy(`${base}/healthz`, SERVER_START_MS, first), first.output()).toBe(200);
        await createUser(env);
        return createApplicationThroughGraphql(base);
      },
      // The dead process left its lock behind; the restarted server took it over.
      afterKill: () => expect(fs.existsSync(lockFile)).toBe(true),
      afterRestart: (proc) => expect(JSON.parse(fs.readFileSync(lockFile, 'utf8')).pid).toBe(proc.child.pid),
    });
    expect(tokens).toBeGreaterThanOrEqual(30);
    await second.stop('SIGTERM');
    expect(second.child.exitCode).toBe(0);
    expect(fs.existsSync(lockFile)).toBe(false);
  }, 300_000);
});

// ---------------------------------------------------------------------------------------------
// Database outage
// ---------------------------------------------------------------------------------------------

/**
 * An in-process server whose DATABASE_URL points at a TCP proxy in front of the shared
 * PostgreSQL (which other test files use: it is never stopped itself).
 */
async function serverBehindProxy(): Promise<{ server: TestServer; proxy: TcpProxy }> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  const admin = new URL(PG_ADMIN_URL);
  const proxy = await startTcpProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
  cleanups.push(() => proxy.stop());
  const proxied = new URL(db.url);
  proxied.port = String(proxy.port);
  const server = await startTestServer({ databaseUrl: proxied.href });
  cleanups.push(() => server.stop());
  return { server, proxy };
}

async function untilStatus(url: string, status: number, withinMs: number): Promise<Response> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (res.status === status || Date.now() > deadline) return res;
    await sleep(100);
  }
}

const graphqlRequest = (agent: Agent, headers: Record<string, string> = {}) =>
  agent.request('POST', '/graphql', {
    body: JSON.stringify({ query: '{ viewer { username } applications(first: 5) { totalCount } }' }),
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
  });

describe.concurrent('PostgreSQL outage (a TCP proxy between Latchkey and PostgreSQL stops, then starts again)', () => {
  it('while the database is unreachable: /healthz 503, OAuth endpoints 503 temporarily_unavailable JSON with Retry-After, pages a friendly 503 page, never a 500 or a stack trace, the process stays up; once it is back the service resumes without a restart', async () => {
    const { server, proxy } = await serverBehindProxy();
    const base = server.url;
    const clients = server.runtime.clients;

    // A client whose record is cached, one never looked up before the outage, a logged-in
    // browser and an anonymous one holding a login form.
    const ccInput = { grantTypes: ['client_credentials' as const], scopes: ['read', 'introspection'] };
    const cachedApp = await makeClient(server, ccInput, 'bob');
    const unseenApp = await makeClient(server, ccInput, 'bob');
    const cached = { clientId: cachedApp.clientId, clientSecret: cachedApp.clientSecret! };
    const unseen = { clientId: unseenApp.clientId, clientSecret: unseenApp.clientSecret! };
    const browser = new Agent(base);
    await browser.login('bob', 'bob-password');
    const anonymous = new Agent(base);
    const loginForm = hiddenInputs((await anonymous.get('/accounts/login/')).text, '/accounts/login/');

    const first = await postForm(
      base,
      '/o/token/',
      { grant_type: 'client_credentials', scope: 'read' },
      cached,
    );
    expect(first?.status).toBe(200);
    const token = first!.json.access_token as string;
    expect((await postForm(base, '/o/introspect/', { token }, cached))?.json.active).toBe(true);
    expect((await browser.get('/o/applications/')).status).toBe(200);
    const cachedRecord = await clients.get(cached.clientId);
    expect(cachedRecord?.clientId).toBe(cached.clientId);

    // Every answer from here on must be neither a 500 (or other 5xx but 503) nor carry a stack.
    const bad: string[] = [];
    const note = (what: string, status: number | undefined, body: string) => {
      if (status === undefined || (status >= 500 && status !== 503) || STACK.test(body))
        bad.push(`${what}: ${status ?? 'no answer'} ${body.slice(0, 300)}`);
    };

    // A light load across the outage (~15 requests/s): tokens and introspection, 200 or 503 only.
    let loading = true;
    const statuses: number[] = [];
    const load = (async () => {
      for (let i = 0; i < 1000 && loading; i++) {
        const res =
          i % 2
            ? await postForm(base, '/o/introspect/', { token }, cached, 10_000)
            : await postForm(
                base,
                '/o/token/',
                { grant_type: 'client_credentials', scope: 'read' },
                cached,
                10_000,
              );
        note(`load #${i}`, res?.status, res?.text ?? '');
        if (res) statuses.push(res.status);
        if (
          res &&
          res.status !== 200 &&
          !(res.status === 503 && res.json.error === 'temporarily_unavailable')
        )
          bad.push(`load #${i}: ${res.status} ${res.text.slice(0, 300)}`);
        await sleep(60);
      }
    })();
    await sleep(300);

    await proxy.stop();
    const down = Date.now();

    const health = await untilStatus(`${base}/healthz`, 503, 5000);
    expect(health.status).toBe(503);
    expect(health.headers.get('content-type')).toMatch(/application\/json/);
    expect(await health.json()).toMatchObject({ status: 'unavailable', database: 'unavailable' });

    // RFC 6749 §5.2 / §4.1.2.1: temporarily_unavailable, as JSON, with Retry-After.
    const expectUnavailable = (what: string, res: Answer | null) => {
      note(what, res?.status, res?.text ?? '');
      expect(res?.status, `${what}: ${res?.text}`).toBe(503);
      expect(res!.headers.get('content-type'), what).toMatch(/application\/json/);
      expect(res!.json, what).toMatchObject({ error: 'temporarily_unavailable' });
      expect(res!.headers.get('retry-after'), what).toMatch(/^\d+$/);
      expect(res!.headers.get('cache-control'), what).toBe('no-store');
    };
    const cc = { grant_type: 'client_credentials', scope: 'read' };
    expectUnavailable('token, client not cached', await postForm(base, '/o/token/', cc, unseen));
    expectUnavailable('token', await postForm(base, '/o/token/', cc, cached));
    expectUnavailable('introspect', await postForm(base, '/o/introspect/', { token }, cached));
    expectUnavailable('revoke', await postForm(base, '/o/revoke_token/', { token }, cached));
    // A client served from the cache gets past authentication and fails at the token insert.
    // (Losing the LISTEN connection drops the cache, so the cached record is pinned here.)
    const pinned = vi.spyOn(clients, 'get').mockResolvedValue(cachedRecord);
    try {
      expectUnavailable('token, client cached', await postForm(base, '/o/token/', cc, cached));
      expectUnavailable(
        'introspect, client cached',
        await postForm(base, '/o/introspect/', { token }, cached),
      );
      expect(pinned).toHaveBeenCalled();
    } finally {
      pinned.mockRestore();
    }

    // Pages: the error page with a sentence for people, and no stack.
    const expectFriendlyPage = (what: string, res: { status: number; text: string; headers: Headers }) => {
      note(what, res.status, res.text);
      expect(res.status, `${what}: ${res.text.slice(0, 300)}`).toBe(503);
      expect(res.headers.get('content-type'), what).toMatch(/text\/html/);
      expect(res.text, what).toMatch(/temporarily unavailable\. Please try again/i);
      expect(res.headers.get('retry-after'), what).toMatch(/^\d+$/);
    };
    expectFriendlyPage('applications page', await browser.get('/o/applications/'));
    expectFriendlyPage('login page with a session', await browser.get('/accounts/login/'));
    expectFriendlyPage(
      'login form submitted',
      await anonymous.post('/accounts/login/', { ...loginForm, username: 'bob', password: 'bob-password' }),
    );
    // The anonymous login page needs no database: it renders, or is the 503 page.
    const loginPage = await anonymous.get('/accounts/login/');
    note('login page, anonymous', loginPage.status, loginPage.text);
    expect([200, 503]).toContain(loginPage.status);

    expect(Date.now() - down).toBeLessThan(10_000); // all of the above answered promptly
    expect(statuses).toContain(503); // the load saw the outage too
    expect(bad).toEqual([]);

    // PostgreSQL is reachable again: within ~10 s the same process is healthy and issues tokens.
    await proxy.start();
    const up = Date.now();
    expect(await waitForHealthy(`${base}/healthz`, 10_000)).toBe(200);
    let again: Answer | null;
    do {
      again = await postForm(base, '/o/token/', cc, unseen);
      if (again?.status !== 200) await sleep(200);
    } while (again?.status !== 200 && Date.now() - up < 10_000);
    expect(again?.status, again?.text).toBe(200);
    const fresh = again!.json.access_token as string;
    expect((await postForm(base, '/o/introspect/', { token: fresh }, cached))?.json.active).toBe(true);
    expect((await browser.get('/o/applications/')).status).toBe(200);
    const gql = await graphqlRequest(browser);
    expect(gql.status, gql.text).toBe(200);
    expect(JSON.parse(gql.text).data.viewer.username).toBe('bob');

    loading = false;
    await load;
    expect(statuses.at(-1)).toBe(200);
    expect(bad).toEqual([]);
  });

  describe('GraphQL while the database is unreachable', () => {
    const outage = {} as { server: TestServer; proxy: TcpProxy; browser: Agent; bearer: string };
    beforeAll(async () => {
      const { server, proxy } = await serverBehindProxy();
      const app = await makeClient(
        server,
        { grantTypes: ['client_credentials'], scopes: ['graphql'] },
        'carol',
      );
      const issued = await postForm(
        server.url,
        '/o/token/',
        { grant_type: 'client_credentials' },
        { clientId: app.clientId, clientSecret: app.clientSecret! },
      );
      const browser = new Agent(server.url);
      await browser.login('carol', 'carol-password');
      expect((await graphqlRequest(browser)).status).toBe(200);
      await proxy.stop();
      expect((await untilStatus(`${server.url}/healthz`, 503, 5000)).status).toBe(503);
      Object.assign(outage, { server, proxy, browser, bearer: issued!.json.access_token as string });
    });

    it('answers a typed SERVICE_UNAVAILABLE error with 503, not a 500, to a session cookie and to a Bearer token', async () => {
      for (const [who, agent, headers] of [
        ['session', outage.browser, {}],
        ['bearer', new Agent(outage.server.url), { Authorization: `Bearer ${outage.bearer}` }],
      ] as const) {
        const res = await graphqlRequest(agent, headers);
        expect(res.text, who).not.toMatch(STACK);
        expect(res.status, `${who}: ${res.text}`).toBe(503);
        expect(JSON.parse(res.text).errors?.[0]?.extensions?.code, who).toBe('SERVICE_UNAVAILABLE');
      }
    });
  });
});
