import { readFileSync } from 'node:fs';
import http from 'node:http';
import fc from 'fast-check';
import {
  buildSchema,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  getNamedType,
  getVariableValues,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  parse,
  validate,
} from 'graphql';
import { afterAll, beforeAll, expect } from 'vitest';
import { type ApplicationInput, createApplication } from '../../src/services/applications.js';
import { digest } from '../../src/services/secrets.js';
import { createUser } from '../../src/services/users.js';
import { Agent, hiddenInputs } from '../helpers/http.js';
import { authorize, authorizePath, pkce } from '../helpers/oauth.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * What the fuzz files under test/fuzz/ share (one file per door; each starts its own server
 * through setUpFuzzServer). Property-based fuzzing of every front door with fast-check: thousands of generated requests
 * against the token, revocation, introspection, device authorization, authorization and
 * userinfo endpoints and the GraphQL mutations. Each request mixes real credentials (clients,
 * secrets, tokens, codes, device codes, sessions, signed consent forms) with hostile parts
 * (unicode, NUL and control characters, very long values, invalid percent-encoding, duplicated
 * and unknown parameters, random methods, content types and encodings, malformed Basic and
 * Bearer headers, random JSON and GraphQL documents built from the committed schema).
 *
 * What must hold for every request: never a 5xx, never a stack trace or an internal detail in
 * the body; the JSON endpoints answer RFC 6749 §5.2 / RFC 6750 §3 error JSON on every 4xx; a
 * rejected request writes nothing (row count and newest row version of each credential table,
 * compared only around requests that were rejected; see WriteGuard); the authorization endpoint
 * never redirects to an unregistered URI and never sends CORS headers; GraphQL answers typed
 * errors and never INTERNAL_SERVER_ERROR. One run in four is well-formed (right credentials, no
 * edits), so successes happen and move the state the other runs then hit.
 *
 * Six GraphQL bugs this file found (500s on an unknown operationName, on variables that do not
 * coerce and on an undefined fragment; INTERNAL_SERVER_ERROR on an empty or malformed id; a
 * mutation that ran before its 406) each keep a property of their own below.
 *
 * Seeded and bounded: FUZZ_SEED (default below) picks the seed, FUZZ_SCALE multiplies the run
 * counts, FUZZ_STATS=1 prints how the server answered per property, FUZZ_SHRINK=1 shrinks a
 * counterexample (slow, and approximate: the server's state has moved on). A failure reports
 * the seed, the fast-check path and the exact request and response.
 */

export const envSeed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10);
export const SEED = Number.isNaN(envSeed) ? 20_250_611 : envSeed;
export const SCALE = Number(process.env.FUZZ_SCALE ?? '1') > 0 ? Number(process.env.FUZZ_SCALE ?? '1') : 1;
export const SHRINK = process.env.FUZZ_SHRINK === '1';
export const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
export const settings = (offset: number, numRuns: number) => ({
  seed: SEED + offset,
  numRuns: runs(numRuns),
  endOnFailure: !SHRINK,
});

/** One run in four is well-formed, so that successes (and the state they change) are fuzzed too. */
export const cleanArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);

/** `arb` one time in `n`, null otherwise (fc.option's freq is the reverse: null one time in freq). */
export const rarely = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

export const RUNS = { token: 900, forms: 800, userinfo: 450, authorize: 800, graphql: 900, junk: 600 };

export const FORM = 'application/x-www-form-urlencoded';
export const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
export const ALICE_PASSWORD = 'alice-password';
export const HANK_PASSWORD = 'hank-password';
export const REDIRECTS = {
  web: 'https://web.example/cb',
  web2: 'https://web.example/other',
  skip: 'https://skip.example/cb',
  pub: 'https://spa.example/callback',
  native: 'http://127.0.0.1/cb',
  imp: 'https://implicit.example/cb',
};
export const SCOPES = ['read', 'write', 'openid', 'profile', 'email', 'graphql', 'introspection'];

// ---------------------------------------------------------------------------------------------
// Fixtures: real clients, credentials and sessions the generators mix into their requests.

export interface Client {
  name: string;
  id: string;
  clientId: string;
  secret: string | null;
  redirects: string[];
}
export interface Credential {
  value: string;
  client: Client;
}
export interface Code extends Credential {
  redirect: string | null;
  verifier: string | null;
}

export let server: TestServer;
export let port = 0;
export const clients: Record<string, Client> = {};
export const pools = {
  access: [] as Credential[],
  refresh: [] as Credential[],
  codes: [] as Code[],
  devices: [] as Credential[],
};
/** PKCE pairs the authorization fuzzing uses: a code it obtains can then be redeemed. */
export const PKCE = [pkce(), pkce(), pkce()];
export const fx = {
  aliceCookie: '',
  ginaCookie: '',
  rootCookie: '',
  sessionCookieName: 'lk_session',
  consent: { csrf: '', request: '' },
  hankBearer: '',
  clientBearer: '',
  introspectionBearer: '',
  noScopeBearer: '',
  /** Gina's applications (she is the GraphQL user). */
  ginaApps: [] as string[],
  /** Ids the GraphQL generator uses: applications, tokens and users of several owners. */
  ids: [] as string[],
};

/** The users the fuzzer acts as: their ids are never fed to GraphQL (an admin could delete them). */
export const protectedIds: string[] = [];
export const allClients = () => Object.values(clients);
export const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length];
export const MAX_POOL = 80;
export function remember<T>(pool: T[], item: T): void {
  pool.push(item);
  if (pool.length > MAX_POOL) pool.splice(0, pool.length - MAX_POOL);
}

/**
 * Registers the shared server and fixtures for one fuzz file: a server with counting limits
 * raised, real clients, tokens, codes, device codes and sessions the generators mix in.
 */
export function setUpFuzzServer(): void {
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        // Failures are counted by design and this file makes thousands on purpose.
        CLIENT_AUTH_MAX_FAILURES: '1000000',
        LOGIN_MAX_FAILURES: '1000000',
        LOGIN_MAX_FAILURES_PER_IP: '1000000',
        AUTHORIZATION_CODE_TTL: '600',
        DEVICE_CODE_INTERVAL: '1',
      },
    });
    port = Number(new URL(server.url).port);

    const user = (username: string, password: string, extra: { isAdmin?: boolean } = {}) =>
      createUser(server.cli(), { username, password, email: `${username}@example.com`, ...extra });
    const [alice, gina, bob, hank, root, vic1, vic2] = await Promise.all([
      user('alice', ALICE_PASSWORD),
      user('gina', 'gina-password'),
      user('bob', 'bob-password'),
      user('hank', HANK_PASSWORD),
      user('root', 'root-password', { isAdmin: true }),
      user('victim-1', 'victim-password'),
      user('victim-2', 'victim-password'),
    ]);

    const make = async (name: string, input: Omit<ApplicationInput, 'name'>, owner = alice) => {
      const { application, clientSecret } = await createApplication(server.cli(), owner, { name, ...input });
      const client: Client = {
        name,
        id: application.id,
        clientId: application.clientId,
        secret: clientSecret,
        redirects: input.redirectUris ?? [],
      };
      return client;
    };
    const origins = ['https://app.example'];
    clients.cc = await make('service', {
      clientType: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: ['read', 'write', 'graphql'],
      allowedOrigins: origins,
    });
    clients.rs = await make('resource server', {
      clientType: 'confidential',
      grantTypes: ['client_credentials'],
      scopes: ['read', 'introspection'],
    });
    clients.pwd = await make('legacy', {
      clientType: 'confidential',
      grantTypes: ['password', 'refresh_token'],
      scopes: ['read', 'write', 'openid', 'profile', 'email', 'graphql'],
    });
    clients.web = await make('web', {
      clientType: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECTS.web, REDIRECTS.web2],
      allowedOrigins: origins,
    });
    clients.skip = await make('trusted', {
      clientType: 'confidential',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECTS.skip],
      skipAuthorization: true,
      accessTokenFormat: 'jwt',
      scopes: ['read', 'openid', 'profile', 'email'],
    });
    clients.pub = await make('spa', {
      clientType: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [REDIRECTS.pub],
      skipAuthorization: true,
      allowedOrigins: origins,
    });
    clients.native = await make('native', {
      clientType: 'public',
      grantTypes: ['authorization_code'],
      redirectUris: [REDIRECTS.native],
      skipAuthorization: true,
    });
    clients.imp = await make('implicit', {
      clientType: 'public',
      grantTypes: ['implicit'],
      redirectUris: [REDIRECTS.imp],
      skipAuthorization: true,
      scopes: ['read', 'openid'],
    });
    clients.tv = await make('tv', {
      clientType: 'public',
      grantTypes: [DEVICE, 'refresh_token'],
      scopes: ['read', 'openid'],
    });
    clients.tvc = await make('set-top box', { clientType: 'confidential', grantTypes: [DEVICE] });

    // Tokens: client_credentials, password (alice's, with openid; hank's, for GraphQL).
    const token = async (client: Client, form: Record<string, string>) => {
      const res = await send({
        method: 'POST',
        path: '/o/token/',
        headers: { 'content-type': FORM, authorization: basic(client.clientId, client.secret ?? '') },
        body: Buffer.from(new URLSearchParams(form).toString()),
      });
      expect(res.status, res.text).toBe(200);
      return JSON.parse(res.text) as { access_token: string; refresh_token?: string };
    };
    for (const scope of ['read', 'read write']) {
      remember(pools.access, {
        value: (await token(clients.cc, { grant_type: 'client_credentials', scope })).access_token,
        client: clients.cc,
      });
    }
    fx.clientBearer = (
      await token(clients.cc, { grant_type: 'client_credentials', scope: 'graphql' })
    ).access_token;
    fx.introspectionBearer = (
      await token(clients.rs, { grant_type: 'client_credentials', scope: 'introspection' })
    ).access_token;
    const passwordPairs = await Promise.all([
      token(clients.pwd, {
        grant_type: 'password',
        username: 'alice',
        password: ALICE_PASSWORD,
        scope: 'read openid profile email',
      }),
      token(clients.pwd, {
        grant_type: 'password',
        username: 'alice',
        password: ALICE_PASSWORD,
        scope: 'read openid',
      }),
      token(clients.pwd, {
        grant_type: 'password',
        username: 'hank',
        password: HANK_PASSWORD,
        scope: 'graphql read',
      }),
    ]);
    for (const pair of passwordPairs.slice(0, 2)) {
      remember(pools.access, { value: pair.access_token, client: clients.pwd });
      remember(pools.refresh, { value: pair.refresh_token!, client: clients.pwd });
    }
    fx.noScopeBearer = passwordPairs[0].access_token;
    fx.hankBearer = passwordPairs[2].access_token;

    // Browser sessions: alice (authorization), gina (GraphQL user), root (GraphQL admin).
    const login = async (username: string, password: string) => {
      const agent = new Agent(server.url);
      await agent.login(username, password);
      return agent;
    };
    const [aliceAgent, ginaAgent, rootAgent] = await Promise.all([
      login('alice', ALICE_PASSWORD),
      login('gina', 'gina-password'),
      login('root', 'root-password'),
    ]);
    fx.aliceCookie = aliceAgent.cookieHeader();
    fx.ginaCookie = ginaAgent.cookieHeader();
    fx.rootCookie = rootAgent.cookieHeader();
    fx.sessionCookieName = [...ginaAgent.cookies.keys()].find((k) => k.includes('session')) ?? 'lk_session';

    // Authorization codes: some redeemed (a replay must revoke, by design), most left to the fuzzer.
    const obtain = async (
      client: Client,
      redirect: string,
      pair: { verifier: string; challenge: string } | null,
    ) => {
      const { location } = await authorize(aliceAgent, {
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: redirect,
        scope: client === clients.skip ? 'read openid profile email' : 'read openid',
        state: 'fixture',
        code_challenge: pair?.challenge,
        code_challenge_method: pair ? 'S256' : undefined,
      });
      const code = location.searchParams.get('code');
      expect(code, String(location)).toBeTruthy();
      const item: Code = { value: code!, client, redirect, verifier: pair?.verifier ?? null };
      remember(pools.codes, item);
      return item;
    };
    const redeem = async (code: Code) => {
      const form: Record<string, string> = { grant_type: 'authorization_code', code: code.value };
      if (code.redirect) form.redirect_uri = code.redirect;
      if (code.verifier) form.code_verifier = code.verifier;
      if (!code.client.secret) form.client_id = code.client.clientId;
      const res = await send({
        method: 'POST',
        path: '/o/token/',
        headers: {
          'content-type': FORM,
          ...(code.client.secret ? { authorization: basic(code.client.clientId, code.client.secret) } : {}),
        },
        body: Buffer.from(new URLSearchParams(form).toString()),
      });
      expect(res.status, res.text).toBe(200);
      const body = JSON.parse(res.text) as { access_token: string; refresh_token?: string };
      remember(pools.access, { value: body.access_token, client: code.client });
      if (body.refresh_token) remember(pools.refresh, { value: body.refresh_token, client: code.client });
    };
    for (const [client, redirect] of [
      [clients.skip, REDIRECTS.skip],
      [clients.skip, REDIRECTS.skip],
      [clients.pub, REDIRECTS.pub],
      [clients.web, REDIRECTS.web],
    ] as const) {
      await redeem(await obtain(client, redirect, PKCE[0]));
    }
    await obtain(clients.skip, REDIRECTS.skip, PKCE[1]);
    await obtain(clients.skip, REDIRECTS.skip, null);
    await obtain(clients.pub, REDIRECTS.pub, PKCE[2]);
    await obtain(clients.web, REDIRECTS.web2, PKCE[1]);
    await obtain(clients.native, 'http://127.0.0.1:43123/cb', PKCE[0]);

    // Device codes: pending, approved and denied.
    const startDevice = async (client: Client) => {
      const form: Record<string, string> = { scope: 'read' };
      if (!client.secret) form.client_id = client.clientId;
      const res = await send({
        method: 'POST',
        path: '/o/device_authorization/',
        headers: {
          'content-type': FORM,
          ...(client.secret ? { authorization: basic(client.clientId, client.secret) } : {}),
        },
        body: Buffer.from(new URLSearchParams(form).toString()),
      });
      expect(res.status, res.text).toBe(200);
      const body = JSON.parse(res.text) as { device_code: string; user_code: string };
      remember(pools.devices, { value: body.device_code, client });
      return body.user_code;
    };
    for (const [client, decision] of [
      [clients.tv, 'allow'],
      [clients.tv, 'deny'],
      [clients.tv, null],
      [clients.tvc, 'allow'],
      [clients.tvc, null],
    ] as const) {
      const userCode = await startDevice(client);
      if (!decision) continue;
      const page = await aliceAgent.submitForm('/o/device/', { user_code: userCode }, '/o/device/');
      expect(page.status).toBe(200);
      const hidden = hiddenInputs(page.text, '/o/device/confirm/');
      await aliceAgent.post('/o/device/confirm/', {
        ...hidden,
        ...(decision === 'allow' ? { allow: 'Allow' } : {}),
      });
    }

    // A signed consent form for alice (the web client asks for consent).
    const consentPage = await aliceAgent.get(
      authorizePath({
        response_type: 'code',
        client_id: clients.web.clientId,
        redirect_uri: REDIRECTS.web,
        scope: 'read write',
        state: 'consent',
        code_challenge: PKCE[2].challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(consentPage.text).toContain('name="consent_request"');
    const hidden = hiddenInputs(consentPage.text, '/o/authorize/');
    fx.consent = { csrf: hidden.csrf_token ?? '', request: hidden.consent_request ?? '' };
    fx.aliceCookie = aliceAgent.cookieHeader();

    // GraphQL objects: gina's and bob's applications, tokens, victims an admin may change.
    const ginaApps = await Promise.all(
      ['one', 'two', 'three'].map((n, i) =>
        make(
          `gina ${n}`,
          i === 0
            ? {
                clientType: 'public',
                grantTypes: ['authorization_code'],
                redirectUris: ['https://gina.example/cb'],
              }
            : { clientType: 'confidential', grantTypes: ['client_credentials'] },
          gina,
        ),
      ),
    );
    const bobApp = await make(
      'bob app',
      { clientType: 'confidential', grantTypes: ['client_credentials'] },
      bob,
    );
    const tokenIds = await server.runtime.db.sql.query<{ id: string }>(
      'select id from access_tokens union all select id from refresh_tokens',
    );
    protectedIds.push(alice.id, gina.id, hank.id, root.id);
    fx.ginaApps = ginaApps.map((a) => a.id);
    fx.ids = [
      ...ginaApps.map((a) => a.id),
      bobApp.id,
      clients.web.id,
      ...tokenIds.map((t) => t.id),
      vic1.id,
      vic2.id,
      bob.id,
    ];
  }, 120_000);

  afterAll(async () => {
    if (STATS) {
      console.log(`snapshots took ${Math.round(snapshotMs)} ms in all`);
      for (const [property, table] of stats) {
        console.log(
          `${property}\n${[...table]
            .sort()
            .map(([k, n]) => `  ${k}: ${n}`)
            .join('\n')}`,
        );
      }
    }
    pool.destroy();
    await server?.stop();
  });
}

// ---------------------------------------------------------------------------------------------
// Transport: node:http, so that any method, duplicated header and raw body byte can be sent.

export interface Req {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}
export interface Res {
  status: number;
  type: string;
  text: string;
  headers: http.IncomingHttpHeaders;
}

export const pool = new http.Agent({ keepAlive: true, maxSockets: 1 });

export function send(req: Req, attempt = 0): Promise<Res> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...req.headers };
    if (req.body) headers['content-length'] = String(req.body.length);
    const r = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent: pool },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
      },
    );
    r.setTimeout(20_000, () => r.destroy(new Error('no answer within 20 s')));
    r.on('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed after its previous answer: send again, once.
      if (attempt === 0 && r.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        send(req, 1).then(resolve, reject);
        return;
      }
      reject(err);
    });
    r.end(req.body);
  });
}

/** Header values as Node lets a client send them (tab, visible ASCII, latin-1). */
export const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '').slice(0, 6000);

export const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

export function describeExchange(req: Req, res?: Res): string {
  const lines = [`${req.method} ${clip(req.path, 600)}`];
  for (const [k, v] of Object.entries(req.headers)) lines.push(`${k}: ${clip(JSON.stringify(v), 300)}`);
  if (req.body)
    lines.push(`body (${req.body.length} bytes): ${clip(JSON.stringify(req.body.toString('latin1')), 800)}`);
  if (res) {
    lines.push(`→ HTTP ${res.status} ${res.type}`);
    for (const h of ['location', 'www-authenticate', 'cache-control']) {
      if (res.headers[h]) lines.push(`  ${h}: ${clip(String(res.headers[h]), 300)}`);
    }
    lines.push(clip(res.text, 800));
  }
  return lines.join('\n');
}

/** FUZZ_STATS=1 prints, per property, how the server answered and how many snapshots were compared. */
export const STATS = process.env.FUZZ_STATS === '1';
export const stats = new Map<string, Map<string, number>>();
export let currentProperty = '';
/** Names the running property in FUZZ_STATS output. */
export function startProperty(): void {
  currentProperty = expect.getState().currentTestName ?? '';
}
export function count(key: string): void {
  if (!STATS) return;
  const table = stats.get(currentProperty) ?? new Map<string, number>();
  table.set(key, (table.get(key) ?? 0) + 1);
  stats.set(currentProperty, table);
}

export class Violation extends Error {
  override name = 'Violation';
}

export function must(ok: unknown, what: string, req: Req, res?: Res): asserts ok {
  if (!ok) throw new Violation(`${what}\n--- request ---\n${describeExchange(req, res)}`);
}

// ---------------------------------------------------------------------------------------------
// Oracles: no leak, error JSON, nothing written.

export const LEAKS: Array<[string, RegExp]> = [
  ['a stack frame', /(?:^|\\n|\n)\s*at\s+(?:async\s+)?\S+.*(?:\(|:\d+:\d+)/m],
  ['a stack frame', /\bat (?:async )?(?:new )?[\w$.<>[\]]+ \((?:file:|node:|\/|[A-Za-z]:\\)/],
  ['a source line reference', /[\w-]\.(?:ts|js|mjs|cjs|tsx):\d+/],
  [
    'an internal path',
    /node_modules|node:internal|\/work\/|\/src\/(?:oauth|oidc|services|graphql|web|db|http|entities)\//,
  ],
  [
    'an error class name',
    /\b(?:Type|Range|Reference|Syntax|URI|Eval|Aggregate)Error\b|\b[A-Z]\w*(?:Error|Exception):/,
  ],
  [
    'a database error',
    /invalid input syntax for|violates (?:[\w-]+ )?constraint|duplicate key value|syntax error at or near|invalid byte sequence|out of range for type|value too long for type|null value in column|relation "[^"]+" does not exist|column "[^"]+" does not exist|MikroORM|DriverException/i,
  ],
];

export function leakIn(text: string): string | undefined {
  for (const [what, re] of LEAKS) if (re.test(text)) return what;
  return undefined;
}

export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** A request whose own text looks like a leak would make an echoed parameter a false alarm. */
export function looksLeaky(req: Req): boolean {
  const body = req.body?.toString('latin1') ?? '';
  const utf8 = req.body?.toString('utf8') ?? '';
  const headers = Object.values(req.headers).flat().join('\n');
  const text = [req.path, safeDecode(req.path), body, utf8, safeDecode(body), headers].join('\n');
  return leakIn(text) !== undefined || leakIn(text.replace(/\\n/g, '\n')) !== undefined;
}

export function checkCommon(req: Req, res: Res): void {
  must(res.status < 500, `HTTP ${res.status}: a request must never cause a 5xx`, req, res);
  const leak = leakIn(res.text) ?? leakIn(res.text.replace(/\\n/g, '\n'));
  must(!leak, `the response body contains ${leak}`, req, res);
  for (const value of [res.headers['www-authenticate'], res.headers.location].flat()) {
    if (value) must(!leakIn(value), 'a response header contains an internal detail', req, res);
  }
}

/** Node's own HTTP parser refused the request (unknown method, oversized head): the app never saw it. */
export const refusedByNode = (res: Res) =>
  res.type === '' && res.text === '' && [400, 413, 414, 431].includes(res.status);

/** RFC 6749 §5.2 / RFC 6750 §3: a 4xx from a JSON endpoint is {error, error_description}. */
export function checkErrorJson(req: Req, res: Res): { error: string; error_description: string } | undefined {
  if (res.status < 400 || req.method === 'HEAD' || refusedByNode(res)) return undefined;
  must(
    /^application\/json\b/.test(res.type),
    'a 4xx from a JSON endpoint must be application/json',
    req,
    res,
  );
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    must(false, 'a 4xx from a JSON endpoint must be valid JSON', req, res);
  }
  const doc = body as Record<string, unknown>;
  must(
    doc && typeof doc === 'object' && Object.keys(doc).sort().join() === 'error,error_description',
    'a 4xx body must be exactly {error, error_description}',
    req,
    res,
  );
  must(
    /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(String(doc.error)),
    'error must be an RFC 6749 §5.2 code',
    req,
    res,
  );
  must(
    /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/.test(String(doc.error_description)),
    'error_description must use the RFC 6749 §5.2 characters only',
    req,
    res,
  );
  return doc as { error: string; error_description: string };
}

/**
 * The credential tables, as row count and newest row version: every INSERT and UPDATE in
 * PostgreSQL writes a row version stamped with its transaction id (xmin), so an unchanged count
 * and an unchanged max(xmin) mean nothing was inserted, updated or deleted; cheaper than hashing
 * every row after each of thousands of requests, and stricter. Two writes happen on rejected
 * requests by design: the polling bookkeeping of device codes (RFC 8628 §3.5: last poll, interval),
 * so device_codes is compared by a digest of its rows without those columns; and the revocation of
 * a token family when a used code or refresh token is replayed (RFC 6749 §4.1.2, OAuth 2.1 §4.3.1),
 * for which the rows of access_tokens and refresh_tokens written since may only be revoked ones.
 */
export const TABLES = [
  'access_tokens',
  'refresh_tokens',
  'authorization_codes',
  'grants',
  'applications',
  'users',
  'device_codes',
] as const;
export type Table = (typeof TABLES)[number];
export const FAMILY_REVOCATION = new Set<Table>(['access_tokens', 'refresh_tokens']);
export const DEVICE_ROW = "(to_jsonb(x) - '{last_polled_at,poll_interval}'::text[])::text";

export const SNAPSHOT_SQL = TABLES.map(
  (t) =>
    `select '${t}' as t, count(*)::int as n, coalesce(max(xmin::text::bigint), 0)::text as v, ${
      t === 'device_codes' ? `md5(coalesce(string_agg(${DEVICE_ROW}, '|' order by ${DEVICE_ROW}), ''))` : "''"
    } as h from ${t} x`,
).join(' union all ');

export type Snapshot = Record<Table, { n: number; v: string; h: string }>;

export let snapshotMs = 0;
export async function snapshot(): Promise<Snapshot> {
  const t0 = performance.now();
  const rows = await server.runtime.db.sql.query<{ t: Table; n: number; v: string; h: string }>(SNAPSHOT_SQL);
  snapshotMs += performance.now() - t0;
  return Object.fromEntries(rows.map((r) => [r.t, { n: r.n, v: r.v, h: r.h }])) as Snapshot;
}

/** Rows of a token table written after `since` that are not revoked (a family revocation writes only revoked ones). */
export async function unrevokedWritesSince(table: Table, since: string): Promise<number> {
  const rows = await server.runtime.db.sql.query<{ n: number }>(
    `select count(*)::int as n from ${table} where xmin::text::bigint > $1::bigint and revoked_at is null`,
    [since],
  );
  return rows[0].n;
}

/**
 * Holds the snapshot taken after the last request. Before a request it makes sure there is one;
 * after a rejected request it compares; after any other request it drops it (a success writes).
 */
export class WriteGuard {
  private last: Snapshot | null = null;

  /** Something other than the request under test wrote (the fuzzer's own housekeeping). */
  invalidate(): void {
    this.last = null;
  }

  async before(): Promise<void> {
    this.last ??= await snapshot();
  }

  async after(req: Req, res: Res, rejected: boolean, familyRevocationAllowed = false): Promise<void> {
    count(`HTTP ${res.status}`);
    count(rejected ? 'rejected: snapshot compared' : 'accepted');
    if (!rejected) {
      this.last = null;
      return;
    }
    const before = this.last!;
    const now = await snapshot();
    this.last = now;
    const changed: Table[] = [];
    for (const t of TABLES) {
      if (before[t].n !== now[t].n) changed.push(t);
      else if (t === 'device_codes') {
        if (before[t].h !== now[t].h) changed.push(t);
      } else if (before[t].v !== now[t].v) {
        if (!(familyRevocationAllowed && FAMILY_REVOCATION.has(t))) changed.push(t);
        else if ((await unrevokedWritesSince(t, before[t].v)) > 0) changed.push(t);
      }
    }
    must(
      changed.length === 0,
      `a rejected request (HTTP ${res.status}) wrote to ${changed
        .map((t) => `${t} (${before[t].n} → ${now[t].n} rows)`)
        .join(', ')}`,
      req,
      res,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Generators: hostile strings, real values, form bodies.

export const SPECIALS = [
  '',
  ' ',
  '\0',
  'a\0b',
  '%00',
  '%zz',
  '%',
  '%E0%A4%A',
  '%FF%FE',
  '%C0%AF',
  '%ED%A0%80',
  '\r\n',
  '\t',
  '\u0007',
  '\u007f',
  '\u0085',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\udfff',
  '\u{1F600}',
  '𝕏',
  'é',
  'e\u0301',
  'ß',
  'İ',
  '“quoted”',
  '"',
  "'",
  '\\',
  '\\u0000',
  '<script>alert(1)</script>',
  "' OR '1'='1",
  '; drop table users; --',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, sent literally
  '${7*7}',
  '{{7*7}}',
  '../../etc/passwd',
  'null',
  'undefined',
  'NaN',
  'true',
  '[]',
  '{}',
  '[object Object]',
  '__proto__',
  'constructor',
  '-1',
  '0',
  '1e309',
  '9'.repeat(40),
  'lk_at_',
  'lk_rt_',
  'lk_ac_',
  'lk_dc_',
  'lk_cs_',
  '=',
  '&',
  '+',
  ' read ',
  'read\u0000write',
  'read\nwrite',
  'openid\topenid',
];

export const hostile: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 5, arbitrary: fc.constantFrom(...SPECIALS) },
    { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
    {
      weight: 1,
      arbitrary: fc.string({
        unit: fc.constantFrom(
          '\0',
          '\u0001',
          '\u001f',
          '\u007f',
          '\u0080',
          '\ud800',
          '\udc00',
          '%',
          '&',
          '=',
          '+',
          'a',
        ),
        maxLength: 12,
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(257, 513, 2049, 4097, 9000), fc.constantFrom('a', 'é', '%', '\0', '𝕏'))
        .map(([n, c]) => c.repeat(n)),
    },
  )
  .filter((s) => !leakIn(s));

export const ident = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,11}$/);

/** A real credential (maybe slightly altered) or something hostile. */
export const realValue: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('access', 'refresh', 'code', 'device', 'secret', 'clientId', 'bearer'), fc.nat())
  .map(([kind, i]) => {
    switch (kind) {
      case 'access':
        return pick(pools.access, i).value;
      case 'refresh':
        return pick(pools.refresh, i).value;
      case 'code':
        return pick(pools.codes, i).value;
      case 'device':
        return pick(pools.devices, i).value;
      case 'secret':
        return pick(allClients(), i).secret ?? '';
      case 'clientId':
        return pick(allClients(), i).clientId;
      default:
        return pick([fx.hankBearer, fx.clientBearer, fx.introspectionBearer], i);
    }
  });

export const altered: fc.Arbitrary<string> = fc
  .tuple(
    realValue,
    fc.constantFrom('cut', 'append', 'flip', 'upper', 'prefix', 'space', 'twice', 'nul'),
    fc.nat(),
  )
  .map(([v, how, i]) => {
    const at = v.length ? i % v.length : 0;
    switch (how) {
      case 'cut':
        return v.slice(0, at);
      case 'append':
        return `${v}x`;
      case 'flip':
        return v.slice(0, at) + (v[at] === 'A' ? 'B' : 'A') + v.slice(at + 1);
      case 'upper':
        return v.toUpperCase();
      case 'prefix':
        return v.slice(0, 6);
      case 'space':
        return ` ${v} `;
      case 'twice':
        return v + v;
      default:
        return `${v}\0`;
    }
  });

export const tokenish = fc.oneof(
  { weight: 5, arbitrary: realValue },
  { weight: 2, arbitrary: altered },
  { weight: 3, arbitrary: hostile },
);

export const scopeArb = fc.oneof(
  { weight: 5, arbitrary: fc.subarray(SCOPES, { minLength: 1 }).map((s) => s.join(' ')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'READ',
      'nope',
      'read  write',
      ' read',
      'read+write',
      'read,write',
      'openid openid',
    ),
  },
  { weight: 2, arbitrary: hostile },
);

/** How a parameter reaches the wire. */
export type Enc = 'pct' | 'plus' | 'raw' | 'latin1' | 'double';
export const encArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Enc>('pct') },
  { weight: 3, arbitrary: fc.constantFrom<Enc>('plus', 'raw', 'latin1', 'double') },
);

export interface Param {
  n: string;
  v: string;
  e: Enc;
}
export const P = (n: string, v: string): Param => ({ n, v, e: 'pct' });

export function pct(bytes: Buffer, plus: boolean): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c)) out += c;
    else if (plus && b === 0x20) out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function encode(s: string, e: Enc): Buffer {
  switch (e) {
    case 'pct':
      return Buffer.from(pct(Buffer.from(s, 'utf8'), false));
    case 'plus':
      return Buffer.from(pct(Buffer.from(s, 'utf8'), true));
    case 'raw':
      return Buffer.from(s, 'utf8');
    case 'latin1':
      return Buffer.from(s, 'latin1');
    default:
      return Buffer.from(pct(Buffer.from(pct(Buffer.from(s, 'utf8'), false)), false));
  }
}

export const PARAM_NAMES = [
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'scope',
  'username',
  'password',
  'client_id',
  'client_secret',
  'device_code',
  'token',
  'token_type_hint',
  'access_token',
  'response_type',
  'state',
  'nonce',
  'prompt',
  'max_age',
  'code_challenge',
  'code_challenge_method',
  'response_mode',
  'request',
  'request_uri',
  'login_hint',
  'resource',
  'audience',
  'consent_request',
  'csrf_token',
  'allow',
];
export const paramName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PARAM_NAMES) },
  { weight: 2, arbitrary: ident },
  { weight: 1, arbitrary: hostile },
  { weight: 1, arbitrary: fc.constantFrom(...PARAM_NAMES).map((n) => n.toUpperCase()) },
);

/** Edits of a parameter list: drop, duplicate, replace, add, re-encode. */
export interface Edit {
  op: 'drop' | 'dupSame' | 'dupOther' | 'replace' | 'add' | 'reencode' | 'empty' | 'noValue';
  i: number;
  v: string;
  n: string;
  e: Enc;
}
export const editArb: fc.Arbitrary<Edit> = fc.record({
  op: fc.constantFrom(
    'drop',
    'dupSame',
    'dupOther',
    'replace',
    'replace',
    'replace',
    'add',
    'add',
    'reencode',
    'empty',
    'noValue',
  ),
  i: fc.nat(),
  v: fc.oneof({ weight: 40, arbitrary: tokenish }, { weight: 1, arbitrary: fc.constant('x'.repeat(70_000)) }),
  n: paramName,
  e: encArb,
});
export const editsArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Edit[]>([]) },
  { weight: 5, arbitrary: fc.array(editArb, { minLength: 1, maxLength: 4 }) },
);

export function applyEdits(params: Param[], edits: Edit[]): Param[] {
  const out = [...params];
  for (const ed of edits) {
    const i = out.length ? ed.i % out.length : 0;
    switch (ed.op) {
      case 'drop':
        if (out.length) out.splice(i, 1);
        break;
      case 'dupSame':
        if (out.length) out.splice(i, 0, { ...out[i] });
        break;
      case 'dupOther':
        if (out.length) out.push({ n: out[i].n, v: ed.v, e: ed.e });
        break;
      case 'replace':
        if (out.length) out[i] = { ...out[i], v: ed.v, e: ed.e };
        break;
      case 'reencode':
        if (out.length) out[i] = { ...out[i], e: ed.e };
        break;
      case 'empty':
        if (out.length) out[i] = { ...out[i], v: '' };
        break;
      case 'noValue':
        out.splice(i, 0, { n: ed.n, v: '\u0000NOVALUE', e: 'pct' });
        break;
      default:
        out.splice(i, 0, { n: ed.n, v: ed.v, e: ed.e });
    }
  }
  return out;
}

/** Junk that breaks the form syntax itself, spliced between parameters. */
export const JUNK_SEGMENTS = [
  '%zz',
  '%',
  '&',
  '==',
  '=x',
  'a=%E0%A4%A',
  '%00=x',
  'x=%00',
  'x=%FF',
  '&&&',
  'x=1=2',
  ';',
  '%26',
  '+',
];
export const junkSegmentsArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Array<[number, string]>>([]) },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...JUNK_SEGMENTS)), {
      minLength: 1,
      maxLength: 3,
    }),
  },
);

export function formBody(params: Param[], junk: Array<[number, string]> = []): Buffer {
  const parts = params.map((p) =>
    p.v === '\u0000NOVALUE'
      ? encode(p.n, 'pct')
      : Buffer.concat([encode(p.n, p.e === 'raw' ? 'raw' : 'pct'), Buffer.from('='), encode(p.v, p.e)]),
  );
  for (const [at, seg] of junk) parts.splice(parts.length ? at % (parts.length + 1) : 0, 0, Buffer.from(seg));
  const joined: Buffer[] = [];
  parts.forEach((p, i) => {
    if (i) joined.push(Buffer.from('&'));
    joined.push(p);
  });
  return Buffer.concat(joined);
}

/** A query string Node will send: bytes outside visible ASCII (and '#') percent-encoded, the rest as is. */
export function urlSafe(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    out +=
      b > 0x20 && b < 0x7f && b !== 0x23
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export const OTHER_METHODS = [
  'GET',
  'PUT',
  'PATCH',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'SEARCH',
  'FOO',
  'post',
];
export const postMostly = fc.oneof(
  { weight: 25, arbitrary: fc.constant('POST') },
  { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) },
);

export const FORM_TYPES_OK = [
  'application/x-www-form-urlencoded; charset=UTF-8',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/x-www-form-urlencoded;charset=latin1',
  ' application/x-www-form-urlencoded ',
];
export const OTHER_TYPES = [
  '',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=XyZ',
  'application/xml',
  '*/*',
  'application/x-www-form-urlencoded2',
  ';;;',
  'application/json; charset=utf-16',
  'text/html',
];
/** undefined: no Content-Type header at all. */
export const formType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 24, arbitrary: fc.constant(FORM) },
  { weight: 3, arbitrary: fc.constantFrom(...FORM_TYPES_OK) },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>(undefined, ...OTHER_TYPES) },
  { weight: 1, arbitrary: hostile.map(headerSafe) },
);

/** Headers any request may carry: Origin, Accept, a bogus Content-Encoding, X-Forwarded-For. */
export const extraHeaders: fc.Arbitrary<Record<string, string>> = fc
  .record({
    origin: rarely(
      fc.constantFrom('https://app.example', 'null', 'https://evil.example', '*', 'https://app.example:443'),
      4,
    ),
    accept: rarely(
      fc.constantFrom(
        'application/json',
        'text/html',
        '*/*',
        'application/xml',
        'text/html;q=0.1, application/json',
      ),
      3,
    ),
    encoding: rarely(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-junk', 'gzip, gzip'), 20),
    forwarded: rarely(fc.constantFrom('1.2.3.4', 'junk', '::1, 10.0.0.1', '999.999.999.999'), 15),
  })
  .map((h) => {
    const out: Record<string, string> = {};
    if (h.origin) out.origin = h.origin;
    if (h.accept) out.accept = h.accept;
    if (h.encoding) out['content-encoding'] = h.encoding;
    if (h.forwarded) out['x-forwarded-for'] = h.forwarded;
    return out;
  });

export const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
/** RFC 6749 §2.3.1 Basic credentials (form-urlencoded, then base64); lone surrogates become U+FFFD, not an exception. */
export const basic = (id: string, secret: string) =>
  `Basic ${b64(`${pct(Buffer.from(id, 'utf8'), true)}:${pct(Buffer.from(secret, 'utf8'), true)}`)}`;
export const MALFORMED_AUTH = [
  'Basic',
  'Basic ',
  'Basic !!!',
  `Basic ${b64('no-colon')}`,
  `Basic ${b64(':secret')}`,
  `Basic ${b64('id:')}`,
  `Basic ${b64('%zz:%zz')}`,
  `Basic ${b64('a%00:b')}`,
  `Basic ${b64('é:ü')}`,
  `Basic ${b64(Buffer.from([0xff, 0xfe, 0x3a, 0x80]))}`,
  `Basic ${'A'.repeat(3000)}`,
  `Basic ${b64('x:y')}===`,
  `Basic\t${b64('x:y')}`,
  'Digest username="x", response="y"',
  'Bearer',
  'Bearer ',
  'Bearer  ',
  'bearer lk_at_x',
  'Bearer a b c',
  `Bearer ${'z'.repeat(5000)}`,
  'NTLM TlRMTVNTUAABAAAA',
  'Negotiate',
  'Token abc',
  '*',
];

/** How a request authenticates its client (RFC 6749 §2.3): right, wrong, both, malformed, none. */
export const AUTH_KINDS = [
  'basic',
  'basic',
  'basic',
  'post',
  'post',
  'id',
  'none',
  'wrongSecret',
  'otherSecret',
  'both',
  'mismatch',
  'malformed',
  'bearer',
  'introspectionBearer',
  'duplicate',
  'unknown',
  'basicLowercase',
] as const;
export type AuthKind = (typeof AUTH_KINDS)[number];
export interface AuthChoice {
  kind: AuthKind;
  other: number;
  junk: string;
  malformed: string;
  sameClient: boolean;
}
export const authArb: fc.Arbitrary<AuthChoice> = fc.record({
  kind: fc.constantFrom(...AUTH_KINDS),
  other: fc.nat(),
  junk: hostile,
  malformed: fc.oneof(
    fc.constantFrom(...MALFORMED_AUTH),
    hostile.map((s) => `Basic ${s}`),
  ),
  sameClient: fc.boolean(),
});

export interface Authenticated {
  headers: Record<string, string | string[]>;
  params: Param[];
  /** The request authenticated (or tried to) with HTTP Basic. */
  basic: boolean;
}

export function authenticate(a: AuthChoice, scenarioClient: Client | undefined): Authenticated {
  const other = pick(allClients(), a.other);
  const c =
    scenarioClient && (a.sameClient || a.kind === 'basic' || a.kind === 'post') ? scenarioClient : other;
  const secretOf = (x: Client) => x.secret ?? '';
  const basicHeader = (x: Client, secret = secretOf(x)) => basic(x.clientId, secret);
  switch (a.kind) {
    case 'basic':
      return c.secret
        ? { headers: { authorization: basicHeader(c) }, params: [], basic: true }
        : { headers: {}, params: [P('client_id', c.clientId)], basic: false };
    case 'basicLowercase':
      return {
        headers: { authorization: basicHeader(c).replace('Basic', 'basic') },
        params: [],
        basic: true,
      };
    case 'post':
      return {
        headers: {},
        params: c.secret
          ? [P('client_id', c.clientId), P('client_secret', c.secret)]
          : [P('client_id', c.clientId)],
        basic: false,
      };
    case 'id':
      return { headers: {}, params: [P('client_id', c.clientId)], basic: false };
    case 'none':
      return { headers: {}, params: [], basic: false };
    case 'wrongSecret':
      return { headers: { authorization: basicHeader(c, a.junk || 'wrong') }, params: [], basic: true };
    case 'otherSecret':
      return { headers: { authorization: basicHeader(c, secretOf(other) || 'x') }, params: [], basic: true };
    case 'both':
      return {
        headers: { authorization: basicHeader(c) },
        params: [P('client_secret', secretOf(c) || 'x')],
        basic: true,
      };
    case 'mismatch':
      return {
        headers: { authorization: basicHeader(c) },
        params: [P('client_id', other.clientId)],
        basic: true,
      };
    case 'malformed':
      return { headers: { authorization: headerSafe(a.malformed) }, params: [], basic: false };
    case 'bearer':
      return {
        headers: { authorization: `Bearer ${pick(pools.access, a.other).value}` },
        params: c.secret ? [] : [P('client_id', c.clientId)],
        basic: false,
      };
    case 'introspectionBearer':
      return { headers: { authorization: `Bearer ${fx.introspectionBearer}` }, params: [], basic: false };
    case 'duplicate':
      return { headers: { authorization: [basicHeader(other), basicHeader(c)] }, params: [], basic: true };
    default:
      return { headers: {}, params: [P('client_id', a.junk), P('client_secret', a.junk)], basic: false };
  }
}

export interface Scenario {
  client?: Client;
  params: Param[];
}

export interface FormRequest {
  /** A well-formed request (the scenario as is, right client authentication): keeps state moving. */
  clean: boolean;
  method: string;
  path: string;
  scenario: Scenario;
  auth: AuthChoice;
  edits: Edit[];
  junk: Array<[number, string]>;
  type: string | undefined;
  extra: Record<string, string>;
  query: string | null;
  wholeBody: Buffer | null;
}

export const wholeBodyArb: fc.Arbitrary<Buffer | null> = fc.oneof(
  { weight: 30, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(70_000, 0x61)) },
);

export function formRequestArb(
  path: fc.Arbitrary<string>,
  scenario: fc.Arbitrary<Scenario>,
): fc.Arbitrary<FormRequest> {
  return fc.record({
    clean: cleanArb,
    method: postMostly,
    path,
    scenario,
    auth: authArb,
    edits: editsArb,
    junk: junkSegmentsArb,
    type: formType,
    extra: extraHeaders,
    query: rarely(fc.tuple(paramName, tokenish), 12).map((q) => (q ? `${q[0]}=${q[1]}` : null)),
    wholeBody: wholeBodyArb,
  });
}

export function buildFormRequest(f: FormRequest): { req: Req; usedBasic: boolean } {
  if (f.clean) {
    const auth = authenticate({ ...f.auth, kind: 'basic' }, f.scenario.client);
    const { 'content-encoding': _, ...extra } = f.extra;
    return {
      req: {
        method: 'POST',
        path: f.path,
        headers: { ...extra, ...auth.headers, 'content-type': FORM },
        body: formBody([...f.scenario.params.filter((p) => p.n !== 'scope'), ...auth.params]),
      },
      usedBasic: auth.basic,
    };
  }
  const auth = authenticate(f.auth, f.scenario.client);
  const params = applyEdits([...f.scenario.params, ...auth.params], f.edits);
  const headers: Record<string, string | string[]> = { ...f.extra, ...auth.headers };
  if (f.type !== undefined) headers['content-type'] = f.type;
  const path = f.query === null ? f.path : `${f.path}?${urlSafe(Buffer.from(f.query, 'utf8'))}`;
  return {
    req: { method: f.method, path, headers, body: f.wholeBody ?? formBody(params, f.junk) },
    usedBasic: auth.basic,
  };
}

/** The checks every form-encoded protocol endpoint answers to. */
export async function exchangeForm(guard: WriteGuard, f: FormRequest) {
  const { req, usedBasic } = buildFormRequest(f);
  fc.pre(!looksLeaky(req));
  await guard.before();
  const res = await send(req);
  checkCommon(req, res);
  const err = checkErrorJson(req, res);
  if (err && res.status === 401 && err.error === 'invalid_client' && usedBasic) {
    must(
      /^Basic\b/.test(String(res.headers['www-authenticate'] ?? '')),
      'RFC 6749 §5.2: a 401 invalid_client after HTTP Basic carries WWW-Authenticate: Basic',
      req,
      res,
    );
  }
  if (req.path.startsWith('/o/token') && res.status === 200) {
    // RFC 6749 §5.1: a Bearer token response that no cache keeps.
    const body = JSON.parse(res.text) as Record<string, unknown>;
    must(
      typeof body.access_token === 'string' &&
        body.token_type === 'Bearer' &&
        typeof body.expires_in === 'number' &&
        res.headers['cache-control'] === 'no-store',
      'RFC 6749 §5.1: a 200 from the token endpoint is a Bearer token response with Cache-Control: no-store',
      req,
      res,
    );
  }
  const familyRevoked =
    err?.error === 'invalid_grant' && /already been used|no longer valid/.test(err.error_description);
  await guard.after(req, res, res.status >= 400, familyRevoked);
  return { req, res, err };
}

// ---------------------------------------------------------------------------------------------
// Scenarios of the token endpoint: each grant type, with real material, before edits.

export const clientPick = (names: string[]) => fc.constantFrom(...names).map((n) => clients[n]);
export const optional = (name: string, v: string | null): Param[] => (v === null ? [] : [P(name, v)]);

export const tokenScenario: fc.Arbitrary<Scenario> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(clientPick(['cc', 'cc', 'rs', 'pwd', 'pub']), fc.option(scopeArb))
      .map(([client, scope]) => ({
        client,
        params: [P('grant_type', 'client_credentials'), ...optional('scope', scope)],
      })),
  },
  {
    weight: 6,
    arbitrary: fc.tuple(fc.nat(), fc.boolean(), fc.boolean()).map(([i, withRedirect, withVerifier]) => {
      const code = pick(pools.codes, i);
      return {
        client: code.client,
        params: [
          P('grant_type', 'authorization_code'),
          P('code', code.value),
          ...optional('redirect_uri', withRedirect || i % 4 !== 0 ? code.redirect : null),
          ...optional('code_verifier', withVerifier || i % 3 !== 0 ? code.verifier : null),
        ],
      };
    }),
  },
  {
    weight: 6,
    arbitrary: fc.tuple(fc.nat(), rarely(scopeArb, 3)).map(([i, scope]) => {
      const token = pick(pools.refresh, i);
      return {
        client: token.client,
        params: [
          P('grant_type', 'refresh_token'),
          P('refresh_token', token.value),
          ...optional('scope', scope),
        ],
      };
    }),
  },
  {
    weight: 4,
    arbitrary: fc.nat().map((i) => {
      const dev = pick(pools.devices, i);
      return { client: dev.client, params: [P('grant_type', DEVICE), P('device_code', dev.value)] };
    }),
  },
  {
    // argon2 makes every password check cost a quarter of a second: a small share only.
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          ['alice', ALICE_PASSWORD],
          ['alice', 'wrong-password'],
          ['nobody', 'whatever'],
          ['ALICE', ALICE_PASSWORD],
          ['alice', ''],
          ['', ALICE_PASSWORD],
        ),
        fc.option(scopeArb),
      )
      .map(([[username, password], scope]) => ({
        client: clients.pwd,
        params: [
          P('grant_type', 'password'),
          ...optional('username', username || null),
          ...optional('password', password || null),
          ...optional('scope', scope),
        ],
      })),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.constantFrom(
            'implicit',
            'token',
            'urn:ietf:params:oauth:grant-type:jwt-bearer',
            'urn:ietf:params:oauth:grant-type:token-exchange',
            'CLIENT_CREDENTIALS',
            'client_credentials ',
            'authorization_code\0',
            'password',
            DEVICE.toUpperCase(),
          ),
          hostile,
        ),
        fc.nat(),
      )
      .map(([grantType, i]) => ({ client: pick(allClients(), i), params: [P('grant_type', grantType)] })),
  },
);

/** Fresh OpenID tokens through the code flow with alice's session (earlier fuzzing may have revoked the others). */
export async function freshOpenIdTokens(): Promise<string[]> {
  const fresh: string[] = [];
  for (const client of [clients.skip, clients.pub]) {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: client.redirects[0],
      scope: 'read openid profile email',
      state: 'fresh',
      code_challenge: PKCE[0].challenge,
      code_challenge_method: 'S256',
    });
    const page = await send({
      method: 'GET',
      path: `/o/authorize/?${query}`,
      headers: { cookie: fx.aliceCookie },
    });
    const code = new URL(String(page.headers.location)).searchParams.get('code');
    expect(code, describeExchange({ method: 'GET', path: '/o/authorize/', headers: {} }, page)).toBeTruthy();
    const form: Record<string, string> = {
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: client.redirects[0],
      code_verifier: PKCE[0].verifier,
    };
    if (!client.secret) form.client_id = client.clientId;
    const res = await send({
      method: 'POST',
      path: '/o/token/',
      headers: {
        'content-type': FORM,
        ...(client.secret ? { authorization: basic(client.clientId, client.secret) } : {}),
      },
      body: Buffer.from(new URLSearchParams(form).toString()),
    });
    harvest(client, res);
    if (res.status === 200) fresh.push((JSON.parse(res.text) as { access_token: string }).access_token);
  }
  return fresh;
}

/** Successful token responses feed the pools, so later requests reuse fresh and rotated tokens. */
export function harvest(client: Client | undefined, res: Res): void {
  if (res.status !== 200 || !client || !/json/.test(res.type)) return;
  const body = JSON.parse(res.text) as {
    access_token?: string;
    refresh_token?: string;
    device_code?: string;
  };
  if (body.access_token) remember(pools.access, { value: body.access_token, client });
  if (body.refresh_token) remember(pools.refresh, { value: body.refresh_token, client });
  if (body.device_code) remember(pools.devices, { value: body.device_code, client });
}

/** The client a successful request authenticated as: the scenario's, unless the auth choice swapped it. */
export function clientOf(f: FormRequest): Client | undefined {
  const { kind, sameClient, other } = f.auth;
  if (f.clean || kind === 'basic' || kind === 'post') return f.scenario.client;
  return f.scenario.client && sameClient ? f.scenario.client : pick(allClients(), other);
}

// ---------------------------------------------------------------------------------------------
// GraphQL: documents built from the committed schema's mutations.

export const SCHEMA = buildSchema(
  readFileSync(new URL('../../schema/schema.graphql', import.meta.url), 'utf8'),
);
export const MUTATIONS = Object.values(SCHEMA.getMutationType()!.getFields());

/** A GraphQL value, printable both as a literal and as JSON for a variable. */
export type GV =
  | { k: 'str'; v: string }
  | { k: 'enum'; v: string }
  | { k: 'num'; v: number }
  | { k: 'bool'; v: boolean }
  | { k: 'null' }
  | { k: 'list'; v: GV[] }
  | { k: 'obj'; v: Array<[string, GV]> };

export function toJson(g: GV): unknown {
  switch (g.k) {
    case 'null':
      return null;
    case 'list':
      return g.v.map(toJson);
    case 'obj':
      return Object.fromEntries(g.v.map(([k, v]) => [k, toJson(v)]));
    default:
      return g.v;
  }
}

export function toLiteral(g: GV): string {
  switch (g.k) {
    case 'str':
      return JSON.stringify(g.v);
    case 'enum':
      return /^[_A-Za-z][_0-9A-Za-z]*$/.test(g.v) ? g.v : JSON.stringify(g.v);
    case 'num':
    case 'bool':
      return String(g.v);
    case 'null':
      return 'null';
    case 'list':
      return `[${g.v.map(toLiteral).join(', ')}]`;
    default:
      return `{${g.v.map(([k, v]) => `${k}: ${toLiteral(v)}`).join(', ')}}`;
  }
}

export const gstr = (a: fc.Arbitrary<string>): fc.Arbitrary<GV> => a.map((v) => ({ k: 'str', v }));
export const junkGV: fc.Arbitrary<GV> = fc.oneof(
  gstr(hostile),
  fc
    .oneof(fc.integer(), fc.double(), fc.constantFrom(2 ** 31, -(2 ** 53), 1e300))
    .map((v): GV => ({ k: 'num', v })),
  fc.boolean().map((v): GV => ({ k: 'bool', v })),
  fc.constant<GV>({ k: 'null' }),
  fc.array(gstr(hostile), { maxLength: 3 }).map((v): GV => ({ k: 'list', v })),
  fc.tuple(ident, gstr(hostile)).map(([k, v]): GV => ({ k: 'obj', v: [[k, v]] })),
);

export const ID_VALUES = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map((i) => pick(fx.ids, i)) },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.nat().map((i) => pick(allClients(), i).clientId) },
  { weight: 2, arbitrary: hostile },
);
export const URI_VALUES = fc.oneof(
  fc.constantFrom(
    'https://ok.example/cb',
    'http://127.0.0.1:8080/cb',
    'http://localhost/cb',
    'http://[::1]/cb',
    'javascript:alert(1)',
    'data:text/html,hi',
    'https://ok.example/cb#fragment',
    'https://*.example/cb',
    'http://evil.example/cb',
    'com.example.app:/cb',
    'https://ok.example/cb?x=1',
    '//no-scheme.example/cb',
    'https://user:pass@ok.example/cb',
    'https://app.example',
    'null',
    '*',
    `https://ok.example/${'a'.repeat(3000)}`,
  ),
  hostile,
);

export function stringFor(field: string): fc.Arbitrary<string> {
  if (/uri|origin/i.test(field)) return URI_VALUES;
  if (/scope/i.test(field)) return fc.oneof(fc.constantFrom(...SCOPES, 'READ', 'nope'), hostile);
  if (/username/i.test(field))
    return fc.oneof(fc.constantFrom('new-user', 'root', 'gina', 'a', 'x'.repeat(200)), ident, hostile);
  if (/password/i.test(field))
    return fc.oneof(fc.constantFrom('correct horse battery staple', 'short', ''), hostile);
  if (/email/i.test(field))
    return fc.oneof(fc.constantFrom('new@example.com', 'not-an-email', 'a@b'), hostile);
  if (/name/i.test(field)) return fc.oneof(fc.constantFrom('My App', ' ', 'x'.repeat(300)), hostile);
  return hostile;
}

export const gvCache = new Map<string, fc.Arbitrary<GV>>();

/** Values for an input type: mostly well-typed (with hostile contents), sometimes of the wrong shape. */
export function gvFor(type: GraphQLInputType, field: string, depth = 0): fc.Arbitrary<GV> {
  const key = `${type.toString()}|${field}|${depth}`;
  const cached = gvCache.get(key);
  if (cached) return cached;
  let arb: fc.Arbitrary<GV>;
  if (isNonNullType(type)) {
    arb = fc.oneof(
      { weight: 14, arbitrary: gvFor(type.ofType, field, depth) },
      { weight: 1, arbitrary: fc.constant<GV>({ k: 'null' }) },
      { weight: 1, arbitrary: junkGV },
    );
  } else if (isListType(type)) {
    arb = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .array(gvFor(type.ofType, field, depth + 1), { maxLength: 4 })
          .map((v): GV => ({ k: 'list', v })),
      },
      { weight: 2, arbitrary: gvFor(type.ofType, field, depth + 1) },
      { weight: 1, arbitrary: junkGV },
    );
  } else if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    arb = fc.oneof(
      {
        weight: 10,
        arbitrary: fc
          .tuple(
            fc.tuple(
              ...fields.map((f) =>
                fc.option(gvFor(f.type, f.name, depth + 1), { freq: isNonNullType(f.type) ? 12 : 2 }),
              ),
            ),
            rarely(fc.tuple(ident, junkGV), 8),
          )
          .map(([values, extra]): GV => {
            const entries: Array<[string, GV]> = [];
            values.forEach((v, i) => {
              if (v !== null) entries.push([fields[i].name, v]);
            });
            if (extra) entries.push(extra);
            return { k: 'obj', v: entries };
          }),
      },
      { weight: 1, arbitrary: junkGV },
    );
  } else if (isEnumType(type)) {
    const values = type.getValues().map((v) => v.name);
    arb = fc.oneof(
      { weight: 10, arbitrary: fc.constantFrom(...values).map((v): GV => ({ k: 'enum', v })) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...values).map((v): GV => ({ k: 'enum', v: v.toLowerCase() })),
      },
      { weight: 1, arbitrary: fc.constantFrom(...values).map((v): GV => ({ k: 'str', v })) },
      { weight: 1, arbitrary: ident.map((v): GV => ({ k: 'enum', v })) },
    );
  } else {
    switch (type.name) {
      case 'ID':
        arb = fc.oneof({ weight: 8, arbitrary: gstr(ID_VALUES) }, { weight: 1, arbitrary: junkGV });
        break;
      case 'Boolean':
        arb = fc.oneof(
          { weight: 8, arbitrary: fc.boolean().map((v): GV => ({ k: 'bool', v })) },
          { weight: 1, arbitrary: junkGV },
        );
        break;
      case 'Int':
        arb = fc.oneof(
          { weight: 4, arbitrary: fc.integer({ min: -5, max: 200 }).map((v): GV => ({ k: 'num', v })) },
          { weight: 1, arbitrary: junkGV },
        );
        break;
      default:
        arb = fc.oneof({ weight: 8, arbitrary: gstr(stringFor(field)) }, { weight: 1, arbitrary: junkGV });
    }
  }
  gvCache.set(key, arb);
  return arb;
}

/** Every leaf (and, two levels deep, every object) a field of this type offers without required arguments. */
export function fullSelection(type: GraphQLOutputType, depth = 0): string {
  const named = getNamedType(type);
  if (!isObjectType(named)) return '';
  const parts: string[] = [];
  for (const f of Object.values(named.getFields())) {
    if (f.args.some((a) => isNonNullType(a.type))) continue;
    const inner = getNamedType(f.type);
    if (isLeafType(inner)) parts.push(f.name);
    else if (depth < 2 && isObjectType(inner)) {
      const sub = fullSelection(f.type, depth + 1);
      if (sub) parts.push(`${f.name} ${sub}`);
    }
  }
  return `{ ${parts.join(' ')} }`;
}

export type ArgMode = 'literal' | 'variable' | 'undeclared' | 'unprovided' | 'omit';
export interface ArgChoice {
  name: string;
  type: string;
  mode: ArgMode;
  declared: string;
  value: GV;
}
export interface Call {
  field: string;
  args: ArgChoice[];
  extraArg: [string, GV] | null;
  selection: string;
}

export const WRONG_TYPES = [
  'String',
  'String!',
  'ID',
  '[ID!]!',
  'Int',
  'Boolean!',
  'JSONObject',
  'Nope',
  'CreateApplicationInput',
  'UpdateUserInput!',
];

export function callArb(field: GraphQLField<unknown, unknown>): fc.Arbitrary<Call> {
  const object = isObjectType(getNamedType(field.type));
  const selection = object
    ? fc.oneof(
        { weight: 6, arbitrary: fc.constant(fullSelection(field.type)) },
        { weight: 2, arbitrary: fc.constant('{ __typename }') },
        { weight: 1, arbitrary: fc.constantFrom('{ nope }', '', '{ id }', '{ __typename @skip(if: true) }') },
      )
    : fc.oneof({ weight: 9, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constant('{ id }') });
  const args = fc.tuple(
    ...field.args.map((a) =>
      fc.record({
        name: fc.constant(a.name),
        type: fc.constant(a.type.toString()),
        mode: fc.oneof(
          { weight: 10, arbitrary: fc.constantFrom<ArgMode>('literal', 'variable') },
          { weight: 1, arbitrary: fc.constantFrom<ArgMode>('undeclared', 'unprovided', 'omit') },
        ),
        declared: fc.oneof(
          { weight: 12, arbitrary: fc.constant(a.type.toString()) },
          { weight: 1, arbitrary: fc.constantFrom(...WRONG_TYPES) },
        ),
        value: gvFor(a.type, a.name),
      }),
    ),
  );
  return fc.record({
    field: fc.constant(field.name),
    args,
    extraArg: rarely(fc.tuple(ident, junkGV), 15),
    selection,
  });
}

export const mutationCall = fc.oneof(...MUTATIONS.map((m) => callArb(m)));

export interface Operation {
  query: string;
  variables: Record<string, unknown>;
}

export function buildOperation(calls: Call[], keyword: string, name: string | null): Operation {
  const decls: string[] = [];
  const variables: Record<string, unknown> = {};
  let n = 0;
  const fields = calls.map((call, ci) => {
    const args: string[] = [];
    for (const a of call.args) {
      if (a.mode === 'omit') continue;
      if (a.mode === 'literal') {
        args.push(`${a.name}: ${toLiteral(a.value)}`);
        continue;
      }
      const v = `v${n++}`;
      args.push(`${a.name}: $${v}`);
      if (a.mode !== 'undeclared') decls.push(`$${v}: ${a.declared}`);
      if (a.mode !== 'unprovided') variables[v] = toJson(a.value);
    }
    if (call.extraArg) args.push(`${call.extraArg[0]}: ${toLiteral(call.extraArg[1])}`);
    const alias = calls.length > 1 ? `a${ci}: ` : '';
    return `${alias}${call.field}${args.length ? `(${args.join(', ')})` : ''} ${call.selection}`;
  });
  const head = [keyword, name ?? ''].filter(Boolean).join(' ');
  const vars = decls.length ? `(${decls.join(', ')})` : '';
  return { query: `${head}${vars} { ${fields.join(' ')} }`, variables };
}

export interface Corruption {
  how: 'truncate' | 'insert' | 'delete' | 'brace' | 'fragment' | 'twoOps' | 'aliasBomb' | 'comment';
  at: number;
  ch: string;
}
export function corrupt(query: string, c: Corruption | null): string {
  if (!c) return query;
  const at = query.length ? c.at % query.length : 0;
  switch (c.how) {
    case 'truncate':
      return query.slice(0, at);
    case 'insert':
      return query.slice(0, at) + c.ch + query.slice(at);
    case 'delete':
      return query.slice(0, at) + query.slice(at + 1);
    case 'brace':
      return `${query} }`;
    case 'fragment':
      return `${query} fragment F on Mutation { __typename }`;
    case 'twoOps':
      return `${query} query Other { viewer { id } }`;
    case 'aliasBomb':
      return `query { ${Array.from({ length: 300 }, (_, i) => `x${i}: __typename`).join(' ')} }`;
    default:
      return `# ${c.ch}\n${query}`;
  }
}

export const corruptionArb: fc.Arbitrary<Corruption | null> = rarely(
  fc.record({
    how: fc.constantFrom(
      'truncate',
      'insert',
      'delete',
      'brace',
      'fragment',
      'twoOps',
      'aliasBomb',
      'comment',
    ),
    at: fc.nat(),
    ch: fc.oneof(
      fc.constantFrom('{', '}', '(', ')', '$', '"', '\\', '\0', '@', '!', ':', '...', '\u2028'),
      hostile,
    ),
  }),
  6,
);

export const ACTORS = [
  'anonymous',
  'gina',
  'gina',
  'gina',
  'root',
  'hank',
  'hank',
  'client',
  'noScope',
  'junkBearer',
  'malformed',
  'junkCookie',
  'cookieAndBearer',
] as const;
export type Actor = (typeof ACTORS)[number];

export function actorHeaders(actor: Actor, junk: string, malformed: string): Record<string, string> {
  switch (actor) {
    case 'anonymous':
      return {};
    case 'gina':
      return { cookie: fx.ginaCookie };
    case 'root':
      return { cookie: fx.rootCookie };
    case 'hank':
      return { authorization: `Bearer ${fx.hankBearer}` };
    case 'client':
      return { authorization: `Bearer ${fx.clientBearer}` };
    case 'noScope':
      return { authorization: `Bearer ${fx.noScopeBearer}` };
    case 'junkBearer':
      return { authorization: headerSafe(`Bearer ${junk}`) };
    case 'malformed':
      return { authorization: headerSafe(malformed) };
    case 'junkCookie':
      return { cookie: headerSafe(`${fx.sessionCookieName}=${junk}; lk_csrf=${junk}`) };
    default:
      return { cookie: fx.ginaCookie, authorization: headerSafe(`Bearer ${junk}`) };
  }
}

export interface GqlRequest {
  clean: boolean;
  actor: Actor;
  junk: string;
  malformed: string;
  calls: Call[];
  keyword: string;
  name: string | null;
  operationName: 'same' | 'other' | 'none';
  corruption: Corruption | null;
  envelope:
    | 'normal'
    | 'variablesString'
    | 'variablesArray'
    | 'queryNumber'
    | 'noQuery'
    | 'batch'
    | 'persisted'
    | 'json'
    | 'bytes'
    | 'truncatedJson';
  randomJson: string;
  method: string;
  type: string | undefined;
  preflight: boolean;
  extra: Record<string, string>;
}

export const gqlRequestArb: fc.Arbitrary<GqlRequest> = fc.record({
  clean: cleanArb,
  actor: fc.constantFrom(...ACTORS),
  junk: hostile,
  malformed: fc.constantFrom(...MALFORMED_AUTH),
  calls: fc.oneof(
    { weight: 6, arbitrary: fc.array(mutationCall, { minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.array(mutationCall, { minLength: 2, maxLength: 3 }) },
  ),
  keyword: fc.oneof(
    { weight: 12, arbitrary: fc.constant('mutation') },
    { weight: 1, arbitrary: fc.constantFrom('query', 'subscription', '', 'Mutation') },
  ),
  name: fc.option(ident, { freq: 3 }),
  operationName: fc.constantFrom<'same' | 'other' | 'none'>('none', 'none', 'same', 'other'),
  corruption: corruptionArb,
  envelope: fc.oneof(
    { weight: 30, arbitrary: fc.constant<GqlRequest['envelope']>('normal') },
    {
      weight: 1,
      arbitrary: fc.constantFrom<GqlRequest['envelope']>(
        'variablesString',
        'variablesArray',
        'queryNumber',
        'noQuery',
        'batch',
        'persisted',
        'json',
        'bytes',
        'truncatedJson',
      ),
    },
  ),
  randomJson: fc.json({ maxDepth: 3 }),
  method: fc.oneof(
    { weight: 25, arbitrary: fc.constant('POST') },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
  ),
  type: fc.oneof(
    { weight: 25, arbitrary: fc.constant<string | undefined>('application/json') },
    {
      weight: 2,
      arbitrary: fc.constantFrom<string | undefined>(
        'application/json; charset=utf-8',
        'application/graphql-response+json',
        'text/plain',
        FORM,
        'application/graphql',
        'multipart/form-data; boundary=x',
        undefined,
        'application/json; charset=latin1',
      ),
    },
  ),
  preflight: fc.boolean(),
  extra: extraHeaders,
});

export function buildGqlRequest(g: GqlRequest): {
  req: Req;
  /** The request after the clean-run normalisation. */
  effective: GqlRequest;
  query: string;
  variables: Record<string, unknown>;
  operationName?: string;
} {
  if (g.clean) {
    // A clean run: an authenticated caller, well-declared arguments, an untouched JSON envelope.
    const { 'content-encoding': _, accept: __, ...extra } = g.extra;
    g = {
      ...g,
      actor: pick(['gina', 'gina', 'root', 'hank'] as const, g.junk.length),
      calls: g.calls.map((c) => ({
        ...c,
        extraArg: null,
        args: c.args.map((a) => ({
          ...a,
          mode: a.mode === 'literal' ? 'literal' : 'variable',
          declared: a.type,
        })),
      })),
      keyword: 'mutation',
      corruption: null,
      envelope: 'normal',
      method: 'POST',
      type: 'application/json',
      extra,
    };
  }
  const op = buildOperation(g.calls, g.keyword, g.name);
  const query = corrupt(op.query, g.corruption);
  const operationName =
    g.operationName === 'same' ? (g.name ?? undefined) : g.operationName === 'other' ? 'Other' : undefined;
  const doc: Record<string, unknown> = { query, variables: op.variables, operationName };
  let body: string | Buffer;
  switch (g.envelope) {
    case 'variablesString':
      body = JSON.stringify({ ...doc, variables: JSON.stringify(op.variables) });
      break;
    case 'variablesArray':
      body = JSON.stringify({ ...doc, variables: [op.variables] });
      break;
    case 'queryNumber':
      body = JSON.stringify({ ...doc, query: 42 });
      break;
    case 'noQuery':
      body = JSON.stringify({ variables: op.variables });
      break;
    case 'batch':
      body = JSON.stringify([doc, doc]);
      break;
    case 'persisted':
      body = JSON.stringify({ ...doc, extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } });
      break;
    case 'json':
      body = g.randomJson;
      break;
    case 'bytes':
      body = Buffer.concat([
        Buffer.from('{"query":"'),
        Buffer.from([0xff, 0xfe, 0x00, 0xc0]),
        Buffer.from('"}'),
      ]);
      break;
    case 'truncatedJson':
      body = JSON.stringify(doc).slice(0, -3);
      break;
    default:
      body = JSON.stringify(doc);
  }
  const headers: Record<string, string> = { ...g.extra, ...actorHeaders(g.actor, g.junk, g.malformed) };
  if (g.type !== undefined) headers['content-type'] = g.type;
  if (g.preflight) headers['apollo-require-preflight'] = 'true';
  if (g.method === 'GET' || g.method === 'HEAD') {
    const q = new URLSearchParams({ query, variables: JSON.stringify(op.variables) });
    return {
      req: { method: g.method, path: `/graphql?${q}`, headers },
      effective: g,
      query,
      variables: op.variables,
      operationName,
    };
  }
  return {
    req: { method: g.method, path: '/graphql', headers, body: Buffer.from(body) },
    effective: g,
    query,
    variables: op.variables,
    operationName,
  };
}

/** How many root fields the executed operation has, or null when it would not even parse. */
export function rootFields(query: string, operationName?: string): number | null {
  try {
    const doc = parse(query);
    const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
    if (!op) return null;
    return op.selectionSet.selections.every((s) => s.kind === Kind.FIELD)
      ? op.selectionSet.selections.length
      : 99;
  } catch {
    return null;
  }
}

export interface GqlBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message?: unknown; path?: unknown[]; extensions?: { code?: unknown } }>;
}

/**
 * GraphQL checks: JSON, typed errors, no INTERNAL_SERVER_ERROR. Returns whether the request was
 * rejected as a whole: refused before execution (HTTP 4xx), or a single mutation field whose
 * resolver failed (errors at the root field and no data). A document of several mutations that
 * fails half-way is not "rejected": GraphQL runs mutations in order and keeps what succeeded.
 */
export function checkGraphql(req: Req, res: Res, query: string, operationName?: string): boolean {
  checkCommon(req, res);
  if (req.method !== 'POST' || refusedByNode(res)) return res.status >= 400;
  must(
    /^application\/(?:graphql-response\+)?json\b/.test(res.type),
    'POST /graphql always answers JSON',
    req,
    res,
  );
  let body: GqlBody;
  try {
    body = JSON.parse(res.text) as GqlBody;
  } catch {
    must(false, 'POST /graphql answered invalid JSON', req, res);
    return false;
  }
  must(
    body.errors !== undefined || body.data !== undefined,
    'a GraphQL response has data or errors',
    req,
    res,
  );
  for (const e of body.errors ?? []) {
    must(typeof e.message === 'string', 'every GraphQL error has a message', req, res);
    const code = e.extensions?.code;
    must(typeof code === 'string', 'every GraphQL error carries extensions.code', req, res);
    must(
      code !== 'INTERNAL_SERVER_ERROR',
      'an unexpected server error surfaced as INTERNAL_SERVER_ERROR',
      req,
      res,
    );
  }
  if (res.status === 401) {
    must(
      /^Bearer\b.*error="invalid_token"/.test(String(res.headers['www-authenticate'] ?? '')),
      'RFC 6750 §3.1: a GraphQL 401 carries a Bearer invalid_token challenge',
      req,
      res,
    );
  }
  if (res.status >= 400) return true;
  if (!body.errors?.length || body.data) return false;
  const executed = rootFields(query, operationName);
  return executed === 1 && body.errors.every((e) => !Array.isArray(e.path) || e.path.length === 1);
}

export function variablesDoNotCoerce(query: string, variables: unknown, operationName?: string): boolean {
  try {
    const doc = parse(query);
    if (validate(SCHEMA, doc).length) return false;
    // Without operationName the plugin coerces the variables of every operation in the document.
    const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const visited =
      typeof operationName === 'string' ? ops.filter((o) => o.name?.value === operationName) : ops;
    const inputs = (
      variables && typeof variables === 'object' && !Array.isArray(variables) ? variables : {}
    ) as Record<string, unknown>;
    return visited.some(
      (op) => (getVariableValues(SCHEMA, op.variableDefinitions ?? [], inputs).errors?.length ?? 0) > 0,
    );
  } catch {
    return false;
  }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in a successful answer (new applications, users, tokens) become arguments of later mutations. */
export function harvestIds(res: Res): void {
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return;
  }
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'id' && typeof x === 'string' && !protectedIds.includes(x) && !fx.ids.includes(x))
          remember(fx.ids, x);
        else walk(x);
      }
    }
  };
  walk((body as GqlBody).data);
}

/** Hank's Bearer token dies when a fuzzed revokeTokens matches it; a fresh one keeps the actor useful. */
export async function keepHankBearerAlive(guard: WriteGuard): Promise<void> {
  const rows = await server.runtime.db.sql.query<{ n: number }>(
    'select count(*)::int as n from access_tokens where token_digest = $1 and revoked_at is null',
    [digest(fx.hankBearer)],
  );
  if (rows[0].n > 0) return;
  const res = await send({
    method: 'POST',
    path: '/o/token/',
    headers: { 'content-type': FORM, authorization: basic(clients.pwd.clientId, clients.pwd.secret!) },
    body: Buffer.from(
      new URLSearchParams({
        grant_type: 'password',
        username: 'hank',
        password: HANK_PASSWORD,
        scope: 'graphql read',
      }).toString(),
    ),
  });
  guard.invalidate();
  if (res.status === 200) fx.hankBearer = (JSON.parse(res.text) as { access_token: string }).access_token;
}

/** The describe title of each fuzz file: the door, the seed and any scale, so a failure can be replayed. */
export const suiteTitle = (door: string) =>
  `fuzzing ${door} (fast-check, seed ${SEED}${SCALE === 1 ? '' : `, scale ${SCALE}`})`;
