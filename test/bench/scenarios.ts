import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  basicAuth,
  type CodeFlow,
  FlowFailure,
  type FlowOptions,
  KeepAliveClient,
  runFlows,
  runLoops,
} from './flow.js';
import type { ReferenceEnv } from './reference.js';

/** What the scenarios work against: a provisioned, running server. */
export interface BenchEnv {
  baseUrl: string;
  /** A confidential client_credentials client. */
  cc: { clientId: string; clientSecret: string };
  /** A logged-in authorization-code client (confidential, skips consent). */
  flow: CodeFlow;
  /** A registered resource (RFC 8707) both clients may ask for; it accepts `read` and `write`. */
  resource: string;
  /** A registered resource whose access tokens are JWTs (RFC 9068), scopes `read` and `write`. */
  jwtResource: string;
  user: { username: string; password: string };
  /** Fresh single-use refresh tokens of the flow client, scope `read`. */
  seedRefreshTokens(count: number): Promise<string[]>;
  /**
   * A second server process on the same database, identical but for METRICS_PORT (metrics
   * recorded and served): started only when a `*-metrics` scenario is selected.
   */
  metricsTwin?: { baseUrl: string; metricsUrl: string; pid: number };
}

/** Where a driver sends its requests: Latchkey, or the reference server (`--reference`). */
export interface Target {
  baseUrl: string;
}

export interface Load {
  connections: number;
  /** Concurrent flows (flow scenarios). */
  flowWorkers: number;
}

/** One scenario run. Latencies in ms; rate per second. */
export interface Measurement {
  rate: number;
  p50: number;
  p99: number;
  /** Answers outside 200–299 (flows: failed on a status or an error redirect). */
  non2xx: number;
  /** Socket errors and timeouts, plus 2xx answers failing the scenario's check. */
  errors: number;
  seconds: number;
  /** The first failure, with the request that caused it. */
  sample?: string;
  note?: string;
  /** The server process's CPU microseconds per request or flow (from /proc; absent elsewhere). */
  cpuUs?: number;
}

export interface Driver {
  run(seconds: number, load: Load): Promise<Measurement>;
  /** The server process it loads, when not the bench's main one (for its CPU per request). */
  serverPid?: number;
}

export interface Scenario {
  name: string;
  unit: 'req/s' | 'flows/s';
  /**
   * The scenario this one is measured against (the same work without one feature): when both
   * run, they run interleaved in rounds and the ratio of their medians is printed.
   */
  against?: string;
  /** Sends the precheck request(s); throws Skip when the server cannot run the scenario. */
  prepare(env: BenchEnv): Promise<Driver>;
  /**
   * The same work on the reference server (node-oidc-provider, `--reference`): the same driver
   * and load, so the pair's ratio is Latchkey's rate over the reference's.
   */
  reference?(ref: ReferenceEnv): Promise<Driver>;
}

/** Thrown by `prepare`: the scenario is skipped, with the reason. */
export class Skip extends Error {}

interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Is a 2xx body what the scenario expects? */
type Check = (body: string) => boolean;

/** A form POST; `authorization` '' sends none (a public client). */
const form = (path: string, fields: Record<string, string>, authorization: string): HttpRequest => ({
  method: 'POST',
  path,
  headers: {
    ...(authorization ? { Authorization: authorization } : {}),
    'Content-Type': 'application/x-www-form-urlencoded',
  },
  body: new URLSearchParams(fields).toString(),
});

const ccRequest = (env: BenchEnv, fields: Record<string, string> = {}) =>
  form(
    '/o/token/',
    { grant_type: 'client_credentials', ...fields },
    basicAuth(env.cc.clientId, env.cc.clientSecret),
  );
const refCcRequest = (ref: ReferenceEnv, fields: Record<string, string> = {}) =>
  form(
    '/token',
    { grant_type: 'client_credentials', ...fields },
    basicAuth(ref.cc.clientId, ref.cc.clientSecret),
  );

/**
 * RFC 7591 §3.1 registrations, each body different (its own name and loopback port): a public
 * native client with PKCE, as an MCP client registers itself.
 */
const registrations = (count: number): HttpRequest[] => {
  const run = randomBytes(4).toString('hex');
  return Array.from({ length: count }, (_, i) => ({
    method: 'POST' as const,
    path: '/o/register/',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      client_name: `bench client ${run}-${i}`,
      redirect_uris: [`http://127.0.0.1:${1024 + (i % 64_000)}/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }),
  }));
};

const refreshRequest = (env: BenchEnv, token: string) => {
  const { clientId, clientSecret } = env.flow.client;
  return form(
    '/o/token/',
    { grant_type: 'refresh_token', refresh_token: token },
    basicAuth(clientId, clientSecret),
  );
};

const hasAccessToken: Check = (body) => body.includes('"access_token":"');
const hasRefreshToken: Check = (body) => body.includes('"refresh_token":"');
const isRegistered: Check = (body) => body.includes('"client_id":"');
const isActive: Check = (body) => /"active"\s*:\s*true/.test(body);
const hasSubject: Check = (body) => body.includes('"sub":"');
const isJwt: Check = (body) => body.includes('"access_token":"eyJ');

/**
 * The scenarios, in the order they run. Adding one is one entry: a precheck that throws Skip when
 * the server cannot do it yet, and a driver (`fixed`, `pooled` or `flows`).
 */
export const scenarios: Scenario[] = [
  {
    name: 'baseline',
    unit: 'req/s',
    async prepare(env) {
      const req: HttpRequest = { method: 'GET', path: '/.well-known/openid-configuration' };
      await precheck(env, req, (body) => body.includes('"issuer"'));
      return fixed(env, req);
    },
    async reference(ref) {
      const req: HttpRequest = { method: 'GET', path: '/.well-known/openid-configuration' };
      await precheck(ref, req, (body) => body.includes('"issuer"'));
      return fixed(ref, req);
    },
  },
  {
    name: 'cc',
    unit: 'req/s',
    async prepare(env) {
      await precheck(env, ccRequest(env), hasAccessToken);
      return fixed(env, ccRequest(env), hasAccessToken);
    },
    async reference(ref) {
      await precheck(ref, refCcRequest(ref), hasAccessToken);
      return fixed(ref, refCcRequest(ref), hasAccessToken);
    },
  },
  {
    // RFC 8707 §2: the same client_credentials request naming a registered resource.
    name: 'cc-resource',
    unit: 'req/s',
    against: 'cc',
    async prepare(env) {
      const req = ccRequest(env, { resource: env.resource });
      const check: Check = (body) => hasAccessToken(body) && body.includes('"scope":"read write"');
      await precheck(env, req, check);
      return fixed(env, req, check);
    },
  },
  // RFC 9449: the same client_credentials request with a DPoP proof: ES256 (openid-client's
  // default) and PS256 (FAPI 2.0's other choice; RSA verification is about 4x cheaper than P-256).
  dpopScenario('cc-dpop', 'ES256'),
  dpopScenario('cc-dpop-ps256', 'PS256'),
  // The control: the same pooled driver without a proof, so the driver's own cost is seen.
  dpopScenario('cc-pooled', null),
  {
    // The same client_credentials request against the twin server that records metrics: the
    // cost of metrics on the token path (METRICS_PORT set vs unset).
    name: 'cc-metrics',
    unit: 'req/s',
    against: 'cc',
    async prepare(env) {
      const twin = env.metricsTwin;
      if (!twin) throw new Skip('no metrics twin server');
      const onTwin = { ...env, baseUrl: twin.baseUrl };
      await precheck(onTwin, ccRequest(env), hasAccessToken);
      const scraped = await (await fetch(twin.metricsUrl)).text();
      if (!/latchkey_tokens_issued_total\{grant_type="client_credentials"\} [1-9]/.test(scraped)) {
        throw new Skip('the twin server does not count tokens on /metrics');
      }
      return { ...fixed(onTwin, ccRequest(env), hasAccessToken), serverPid: twin.pid };
    },
  },
  {
    name: 'introspect',
    unit: 'req/s',
    async prepare(env) {
      const token = readJson(await precheck(env, ccRequest(env), hasAccessToken)).access_token;
      const req = form('/o/introspect/', { token }, basicAuth(env.cc.clientId, env.cc.clientSecret));
      await precheck(env, req, isActive);
      return fixed(env, req, isActive);
    },
    async reference(ref) {
      const token = readJson(await precheck(ref, refCcRequest(ref), hasAccessToken)).access_token;
      const req = form('/token/introspection', { token }, basicAuth(ref.cc.clientId, ref.cc.clientSecret));
      await precheck(ref, req, isActive);
      return fixed(ref, req, isActive);
    },
  },
  {
    name: 'refresh',
    unit: 'req/s',
    async prepare(env) {
      const [token] = await env.seedRefreshTokens(1);
      await precheck(env, refreshRequest(env, token), hasRefreshToken);
      return pooled(
        env,
        async (n) => (await env.seedRefreshTokens(n)).map((t) => refreshRequest(env, t)),
        hasRefreshToken,
      );
    },
  },
  {
    // Refresh rotation as clients do it: each of N loops holds one refresh token and sends the
    // one each answer gives back (RFC 6749 §6, rotated: OAuth 2.1 §4.3.1). Unlike `refresh` (a
    // pool of tokens seeded in the database) this needs only N tokens to start, so the reference
    // server, whose tokens come from real flows, runs it too (its public client, which it rotates).
    name: 'refresh-chain',
    unit: 'req/s',
    async prepare(env) {
      return chained(
        env,
        (n) => env.seedRefreshTokens(n),
        (t) => refreshRequest(env, t),
      );
    },
    async reference(ref) {
      const seed = async (n: number) => {
        const tokens: string[] = [];
        for (let i = 0; i < n; i++) tokens.push((await ref.userTokens('read')).refresh_token ?? '');
        return tokens;
      };
      return chained(ref, seed, (token) =>
        form(
          '/token',
          { grant_type: 'refresh_token', refresh_token: token, client_id: ref.publicClientId },
          '',
        ),
      );
    },
  },
  {
    // RFC 9068: client_credentials for a resource whose access tokens are signed JWTs.
    name: 'cc-jwt',
    unit: 'req/s',
    async prepare(env) {
      const req = ccRequest(env, { resource: env.jwtResource });
      await precheck(env, req, isJwt);
      return fixed(env, req, isJwt);
    },
    async reference(ref) {
      const req = refCcRequest(ref, { resource: ref.resource, scope: 'read' });
      await precheck(ref, req, isJwt);
      return fixed(ref, req, isJwt);
    },
  },
  { name: 'flow', unit: 'flows/s', prepare: (env) => flows(env, { scope: 'read', nonce: false }) },
  {
    // RFC 8707 §2: `resource` at the authorization request and at the token request.
    name: 'flow-resource',
    unit: 'flows/s',
    against: 'flow',
    prepare: (env) => flows(env, { scope: 'read', nonce: false, resource: env.resource }),
  },
  {
    // Each flow's token request carries a fresh ES256 proof, signed by the load driver.
    name: 'flow-dpop',
    unit: 'flows/s',
    against: 'flow',
    async prepare(env) {
      const key = await generateKeyPair('ES256');
      const jwk = await exportJWK(key.publicKey);
      const dpopProof = (htu: string) =>
        new SignJWT({
          htm: 'POST',
          htu,
          jti: randomBytes(16).toString('base64url'),
          iat: Math.floor(Date.now() / 1000),
        })
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
          .sign(key.privateKey);
      return flows(env, { scope: 'read', nonce: false, dpopProof });
    },
  },
  {
    name: 'flow-openid',
    unit: 'flows/s',
    prepare: (env) => flows(env, { scope: 'openid read', nonce: true }),
  },
  {
    name: 'userinfo',
    unit: 'req/s',
    async prepare(env) {
      const tokens = await flowOrSkip(env, { scope: 'openid read', nonce: true });
      const req: HttpRequest = {
        method: 'GET',
        path: '/o/userinfo/',
        headers: { Authorization: `Bearer ${tokens.access_token}` },
      };
      await precheck(env, req, hasSubject);
      return fixed(env, req, hasSubject);
    },
    async reference(ref) {
      const tokens = await ref.userTokens('openid read');
      const req: HttpRequest = {
        method: 'GET',
        path: '/me',
        headers: { Authorization: `Bearer ${tokens.access_token}` },
      };
      await precheck(ref, req, hasSubject);
      return fixed(ref, req, hasSubject);
    },
  },
  {
    name: 'graphql',
    unit: 'req/s',
    async prepare(env) {
      const tokens = await flowOrSkip(env, { scope: 'graphql', nonce: false });
      const req: HttpRequest = {
        method: 'POST',
        path: '/graphql',
        headers: { Authorization: `Bearer ${tokens.access_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: '{ viewer { id username } }' }),
      };
      const check: Check = (body) => body.includes(`"username":"${env.user.username}"`);
      await precheck(env, req, check);
      return fixed(env, req, check);
    },
  },
  {
    // RFC 7591 §3: open dynamic registration (the bench server's settings: provision.ts).
    name: 'register',
    unit: 'req/s',
    async prepare(env) {
      await precheck(env, registrations(1)[0], isRegistered);
      return pooled(env, async (n) => registrations(n), isRegistered);
    },
  },
];

/** The bare handler's load: a token-endpoint-shaped form POST (test/bench/bare.ts answers any). */
export function bareDriver(bare: Target): Driver {
  return fixed(
    bare,
    form('/', { grant_type: 'client_credentials' }, basicAuth('bare', 'bare')),
    hasAccessToken,
  );
}

/**
 * client_credentials with a DPoP proof signed with `alg`. Each proof is single-use, so they are
 * pooled: signed by the bench before each run, outside the server's CPU.
 */
function dpopScenario(name: string, alg: string | null): Scenario {
  const isBound: Check = (body) =>
    hasAccessToken(body) && body.includes(alg ? '"token_type":"DPoP"' : '"token_type":"Bearer"');
  const driver = async (target: Target, request: () => HttpRequest, htu: string) => {
    const proofs = await proofSigner(alg);
    const pool = async (n: number) =>
      Promise.all(Array.from({ length: n }, () => withProof(request(), proofs, htu)));
    await precheck(target, (await pool(1))[0], isBound);
    return pooled(target, pool, isBound);
  };
  return {
    name,
    unit: 'req/s',
    against: 'cc',
    prepare: (env) => driver(env, () => ccRequest(env), `${env.baseUrl}/o/token/`),
    // The reference accepts ES256 proofs (not PS256): only the ES256 scenario has a twin.
    ...(alg === 'ES256'
      ? { reference: (ref: ReferenceEnv) => driver(ref, () => refCcRequest(ref), `${ref.baseUrl}/token`) }
      : {}),
  };
}

/** Signs RFC 9449 §4.2 proofs with one fresh key of `alg` (null: no proofs, the control). */
async function proofSigner(alg: string | null): Promise<((htu: string) => Promise<string>) | null> {
  if (!alg) return null;
  const key = await generateKeyPair(alg);
  const jwk = await exportJWK(key.publicKey);
  return (htu) =>
    new SignJWT({
      htm: 'POST',
      htu,
      jti: randomBytes(16).toString('base64url'),
      iat: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
      .sign(key.privateKey);
}

async function withProof(
  req: HttpRequest,
  sign: ((htu: string) => Promise<string>) | null,
  htu: string,
): Promise<HttpRequest> {
  return sign ? { ...req, headers: { ...req.headers, DPoP: await sign(htu) } } : req;
}

/**
 * N loops, each holding one refresh token and sending the one each answer returns: seeded with
 * `seed(n)` tokens the first time (more when a later run has more connections), carried on
 * from run to run.
 */
function chained(
  target: Target,
  seed: (n: number) => Promise<string[]>,
  request: (token: string) => HttpRequest,
): Driver {
  const held: string[] = [];
  return {
    async run(seconds, load) {
      if (held.length < load.connections) held.push(...(await seed(load.connections - held.length)));
      const client = new KeepAliveClient(target.baseUrl);
      return runLoops({ seconds, workers: load.connections }, async (i) => {
        const req = request(held[i]);
        const res = await client.send(req.method, req.path, req.headers ?? {}, req.body);
        if (res.status !== 200) {
          throw new FlowFailure('status', `${describe(req)} → HTTP ${res.status}: ${res.body.slice(0, 200)}`);
        }
        const next = (JSON.parse(res.body) as { refresh_token?: unknown }).refresh_token;
        if (typeof next !== 'string') throw new FlowFailure('error', `${describe(req)} → no refresh_token`);
        held[i] = next;
      });
    },
  };
}

function describe(req: HttpRequest): string {
  const body = req.body ? ` ${req.body.replace(/(token|refresh_token)=[^&]+/g, '$1=…')}` : '';
  return `${req.method} ${req.path}${body}`;
}

/** One request that must answer 2xx with a body passing `check`; returns the body. */
async function precheck(env: Target, req: HttpRequest, check: Check): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${env.baseUrl}${req.path}`, { ...req, redirect: 'manual' });
  } catch (err) {
    throw new Skip(`precheck ${describe(req)} failed: ${(err as Error).message}`);
  }
  const body = await res.text();
  if (res.status < 200 || res.status > 299 || !check(body)) {
    throw new Skip(
      `precheck ${describe(req)} got HTTP ${res.status}: ${body.slice(0, 200).replace(/\s+/g, ' ')}`,
    );
  }
  return body;
}

function readJson(body: string): Record<string, string> {
  return JSON.parse(body) as Record<string, string>;
}

async function flowOrSkip(env: BenchEnv, opts: FlowOptions) {
  try {
    return await env.flow.run(opts);
  } catch (err) {
    throw new Skip(`precheck flow (scope "${opts.scope}") failed: ${(err as Error).message}`);
  }
}

/** Authorization-code flows by N concurrent workers. */
async function flows(env: BenchEnv, opts: FlowOptions): Promise<Driver> {
  await flowOrSkip(env, opts);
  return { run: (seconds, load) => runFlows(env.flow, { ...opts, seconds, workers: load.flowWorkers }) };
}

/** The same request over and over with autocannon. */
function fixed(env: Target, req: HttpRequest, check?: Check): Driver {
  return { run: (seconds, load) => cannon(env, [req], { seconds, connections: load.connections }, check) };
}

/**
 * Each request different and single-use (refresh tokens, registrations): a pool is issued before each run, sized
 * from the rate of the previous run (the warm-up), and autocannon sends exactly that many.
 */
function pooled(env: Target, issue: (count: number) => Promise<HttpRequest[]>, check?: Check): Driver {
  let lastRate = 0;
  return {
    async run(seconds, load) {
      const size = Math.ceil((lastRate || 1000) * seconds * 1.5) + 2 * load.connections;
      const pool = await issue(size);
      const result = await cannon(env, pool, { seconds, connections: load.connections }, check);
      lastRate = result.rate;
      if (result.seconds < seconds - 0.5) {
        result.note = `pool of ${size} used up after ${result.seconds.toFixed(1)} s`;
      }
      return result;
    },
  };
}

/**
 * Runs autocannon for `seconds`. With several requests, each is sent once in order (setupRequest
 * takes the next) and the run stops early when they run out.
 */
function cannon(
  env: Target,
  reqs: HttpRequest[],
  opts: { seconds: number; connections: number },
  check?: Check,
): Promise<Measurement> {
  let badBodies = 0;
  let sample: string | undefined;
  let next = 0;
  const single = reqs.length === 1;
  const request: autocannon.Request = {
    ...(single
      ? reqs[0]
      : { setupRequest: (base) => ({ ...base, ...reqs[Math.min(next++, reqs.length - 1)] }) }),
    onResponse(status, body) {
      const ok = status >= 200 && status <= 299;
      const badBody = ok && check !== undefined && !check(body);
      if (badBody) badBodies++;
      if (!ok || badBody) {
        sample ??= `${describe(reqs[0])} → HTTP ${status}: ${body.slice(0, 200).replace(/\s+/g, ' ')}`;
      }
    },
  };
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const instance = autocannon(
      {
        url: env.baseUrl,
        connections: single ? opts.connections : Math.min(opts.connections, reqs.length),
        duration: opts.seconds,
        ...(single ? {} : { amount: reqs.length }),
        timeout: 10,
        requests: [request],
      },
      (err, result) => {
        clearTimeout(timer);
        if (err) {
          reject(err);
          return;
        }
        resolve({
          rate: result.requests.total / result.duration,
          p50: result.latency.p50,
          p99: result.latency.p99,
          non2xx: result.non2xx,
          errors: result.errors + badBodies,
          seconds: result.duration,
          sample,
        });
      },
    );
    // With `amount`, autocannon ignores `duration`: stop it on time ourselves.
    if (!single) timer = setTimeout(() => instance.stop(), opts.seconds * 1000);
  });
}
