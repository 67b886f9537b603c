/**
 * `npm run bench:resource-server [-- --rounds N --seconds S --connections C]`: what
 * requireToken costs a route. One resource server process (test/bench/resource-server-app.ts)
 * serves the same trivial route unprotected and protected in each mode; Latchkey runs compiled
 * in its own process on PostgreSQL (test/bench/provision.ts); autocannon loads each protected
 * route right after the unprotected one (the order rotating every round), so each ratio compares
 * neighbours in time on a machine whose load drifts. Prints each route's median rate and the
 * median of its paired ratios, and the same for the resource server's CPU time per request
 * (read from the process around each load): the cost at the route's own speed, which other
 * processes on the machine disturb far less than req/s. Issue 16's target: JWT mode costs
 * under 15 %.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/db/orm.js';
import { createLogger } from '../../src/log.js';
import { type RequireTokenOptions, requireScopes, requireToken } from '../../src/resource-server/index.js';
import { createApplication } from '../../src/services/applications.js';
import { Ctx } from '../../src/services/context.js';
import { createResource } from '../../src/services/resources.js';
import { findUserByUsername } from '../../src/services/users.js';
import { urlFor } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { ROOT } from '../helpers/process.js';
import { basicAuth } from './flow.js';
import { startBench, USERNAME } from './provision.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const JWT_RESOURCE = 'https://notes.bench.example/jwt';
const OPAQUE_RESOURCE = 'https://notes.bench.example/opaque';

const ROUTES = [
  { path: '/open', label: 'unprotected (baseline)', token: 'none' },
  { path: '/jwt', label: 'JWT (verified-token cache)', token: 'jwt' },
  { path: '/jwt-uncached', label: 'JWT, signature checked every request', token: 'jwt' },
  { path: '/introspection', label: 'introspection, cache hit', token: 'opaque' },
  { path: '/introspection-uncached', label: 'introspection, cache off (miss)', token: 'opaque' },
] as const;

function load(url: string, headers: Record<string, string>, seconds: number) {
  return new Promise<{ requests: number; rate: number; failed: number; p99: number }>((resolve, reject) => {
    autocannon(
      { url, connections: CONNECTIONS, duration: seconds, requests: [{ method: 'GET', headers }] },
      (err, r) => {
        if (err) return reject(err);
        resolve({
          requests: r.requests.total,
          rate: r.requests.total / r.duration,
          failed: r.non2xx + r.errors + r.timeouts,
          p99: r.latency.p99,
        });
      },
    );
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The middleware's own CPU time per request, measured in this process: requireToken and
 * requireScopes called `n` times (after one priming call) on a synthetic request carrying the
 * token, with the answer checked. Short and CPU-bound, so far steadier than req/s on a shared
 * machine; related to the route's own CPU per request it gives the cost at the route's speed.
 */
async function middlewareMicros(options: RequireTokenOptions, token: string, n: number): Promise<number> {
  const guard = requireToken(options);
  const scopes = requireScopes('read');
  const authorization = `Bearer ${token}`;
  const rawHeaders = ['Host', '127.0.0.1', 'Authorization', authorization];
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = {
        method: 'GET',
        url: '/api',
        originalUrl: '/api',
        headers: { host: '127.0.0.1', authorization },
        rawHeaders,
      };
      const res = {
        headersSent: false,
        status: () => res,
        set: () => res,
        json: (body: unknown) => reject(new Error(`refused: ${JSON.stringify(body)}`)),
      };
      const next = () => scopes(req as never, res as never, () => resolve());
      guard(req as never, res as never, next as never);
    });
  await once();
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await once();
    const used = process.cpuUsage(before);
    runs.push((used.user + used.system) / n);
  }
  return median(runs);
}

const bench = await startBench({});
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'production',
  DATABASE_URL: urlFor(bench.database.name),
});
const db = await openDatabase(config);
let app: ReturnType<typeof spawn> | undefined;
try {
  const ctx = new Ctx({ config, db, log: createLogger('warn') });
  ctx.actor = { kind: 'cli' };
  await createResource(ctx, {
    identifier: JWT_RESOURCE,
    name: 'bench JWT',
    scopes: ['read'],
    accessTokenFormat: 'jwt',
  });
  await createResource(ctx, { identifier: OPAQUE_RESOURCE, name: 'bench opaque', scopes: ['read'] });
  const owner = (await findUserByUsername(ctx, USERNAME))!;
  const introspector = await createApplication(ctx, owner, {
    name: 'bench introspector',
    clientType: 'confidential',
    grantTypes: ['client_credentials'],
    scopes: ['introspection'],
  });
  const token = async (resource: string) => {
    const res = await fetch(`${bench.env.baseUrl}/o/token/`, {
      method: 'POST',
      headers: {
        Authorization: basicAuth(bench.env.cc.clientId, bench.env.cc.clientSecret),
        'Content-Type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read', resource }),
    });
    const json = (await res.json()) as { access_token?: string };
    if (!json.access_token) throw new Error(`token for ${resource}: ${res.status} ${JSON.stringify(json)}`);
    return json.access_token;
  };
  const tokens = { none: '', jwt: await token(JWT_RESOURCE), opaque: await token(OPAQUE_RESOURCE) };

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  app = spawn(process.execPath, ['--import', 'tsx', 'test/bench/resource-server-app.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      ISSUER: bench.env.baseUrl,
      JWT_RESOURCE,
      OPAQUE_RESOURCE,
      INTROSPECTION_CLIENT_ID: introspector.application.clientId,
      INTROSPECTION_CLIENT_SECRET: introspector.clientSecret!,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    app!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    app!.once('exit', (code) => reject(new Error(`the resource server exited (${code})`)));
  });
  const headersFor = (kind: keyof typeof tokens): Record<string, string> =>
    kind === 'none' ? {} : { Authorization: `Bearer ${tokens[kind]}` };
  for (const r of ROUTES) {
    const res = await fetch(`${base}${r.path}`, { headers: headersFor(r.token) });
    if (res.status !== 200) throw new Error(`precheck ${r.path}: ${res.status} ${await res.text()}`);
  }

  console.log(
    `resource-server bench: ${ROUNDS} rounds; each protected route right after the unprotected one, ${SECONDS} s each, ${CONNECTIONS} connections`,
  );
  let failed = 0;
  const cpu = async () => ((await (await fetch(`${base}/cpu`)).json()) as { micros: number }).micros;
  /** req/s, and the resource server's CPU microseconds per request. */
  const measure = async (r: (typeof ROUTES)[number], seconds = SECONDS) => {
    const before = await cpu();
    const m = await load(`${base}${r.path}`, headersFor(r.token), seconds);
    const used = (await cpu()) - before;
    failed += m.failed;
    return { rate: m.rate, cpu: used / m.requests };
  };
  for (const r of ROUTES) await measure(r, 2); // warm-up (JIT, connection pools, caches)
  failed = 0;
  const [open, ...guarded] = ROUTES;
  const rates = new Map<string, number[]>(ROUTES.map((r) => [r.path, []]));
  // The machine's load drifts (other processes): a ratio is taken between neighbours in time.
  const ratios = new Map<string, number[]>(guarded.map((r) => [r.path, []]));
  const cpus = new Map<string, number[]>(ROUTES.map((r) => [r.path, []]));
  const cpuRatios = new Map<string, number[]>(guarded.map((r) => [r.path, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = guarded.map((_, i) => guarded[(i + round) % guarded.length]);
    for (const r of order) {
      const baseline = await measure(open);
      const m = await measure(r);
      rates.get(open.path)!.push(baseline.rate);
      rates.get(r.path)!.push(m.rate);
      ratios.get(r.path)!.push(m.rate / baseline.rate);
      cpus.get(open.path)!.push(baseline.cpu);
      cpus.get(r.path)!.push(m.cpu);
      cpuRatios.get(r.path)!.push(baseline.cpu / m.cpu);
    }
    console.log(
      `round ${round + 1}: ${guarded.map((r) => `${r.path} ${ratios.get(r.path)!.at(-1)!.toFixed(2)}× (CPU ${cpuRatios.get(r.path)!.at(-1)!.toFixed(2)}×)`).join(', ')}`,
    );
  }
  const pct = (ratio: number) => `${((1 - ratio) * 100).toFixed(0)} %`;
  const each = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  console.log('');
  console.log(
    "| route | req/s (median) | vs unprotected: req/s (paired, each round) | server CPU per request | vs unprotected: CPU (paired, each round) | cost at the route's own speed |",
  );
  console.log('|---|---|---|---|---|---|');
  console.log(
    `| ${open.label} | ${median(rates.get(open.path)!).toFixed(0)} | 1.00× | ${median(cpus.get(open.path)!).toFixed(0)} µs | 1.00× | — |`,
  );
  for (const r of guarded) {
    const ratio = median(ratios.get(r.path)!);
    const cpuRatio = median(cpuRatios.get(r.path)!);
    console.log(
      `| ${r.label} | ${median(rates.get(r.path)!).toFixed(0)} | ${ratio.toFixed(2)}× [${each(ratios.get(r.path)!)}] | ${median(cpus.get(r.path)!).toFixed(0)} µs | ${cpuRatio.toFixed(2)}× [${each(cpuRatios.get(r.path)!)}] | ${pct(cpuRatio)} |`,
    );
  }
  console.log(`failed requests: ${failed}`);

  // The middleware alone, against the same Latchkey and tokens.
  const issuer = bench.env.baseUrl;
  const introspection = {
    clientId: introspector.application.clientId,
    clientSecret: introspector.clientSecret!,
  };
  const jwt: RequireTokenOptions = { issuer, resource: JWT_RESOURCE, mode: 'jwt' };
  const opaque: RequireTokenOptions = {
    issuer,
    resource: OPAQUE_RESOURCE,
    mode: 'introspection',
    introspection,
  };
  const own = median(cpus.get(open.path)!);
  const alone = [
    ['JWT (verified-token cache)', await middlewareMicros(jwt, tokens.jwt, 20_000)],
    [
      'JWT, signature checked every request',
      await middlewareMicros({ ...jwt, jwtCacheSeconds: 0 }, tokens.jwt, 1000),
    ],
    ['introspection, cache hit', await middlewareMicros(opaque, tokens.opaque, 20_000)],
    [
      'introspection, cache off (miss)',
      await middlewareMicros({ ...opaque, introspectionCacheSeconds: 0 }, tokens.opaque, 1000),
    ],
  ] as const;
  console.log('');
  console.log(
    `The middleware alone (CPU per request in this process; the unprotected route's own CPU per request above: ${own.toFixed(0)} µs):`,
  );
  console.log('');
  console.log("| mode | requireToken + requireScopes, CPU per request | cost at the route's own speed |");
  console.log('|---|---|---|');
  for (const [label, micros] of alone)
    console.log(`| ${label} | ${micros.toFixed(1)} µs | ${((micros / (own + micros)) * 100).toFixed(1)} % |`);
} finally {
  app?.kill('SIGTERM');
  await db.close();
  await bench.close();
}
