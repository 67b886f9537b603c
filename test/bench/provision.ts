import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Config, loadConfig } from '../../src/config/index.js';
import { type Database, openDatabase } from '../../src/db/orm.js';
import type { Sql } from '../../src/db/sql.js';
import { loadClient } from '../../src/db/tables/applications.js';
import { newId } from '../../src/entities/base.js';
import { createLogger } from '../../src/log.js';
import { createApplication } from '../../src/services/applications.js';
import { Ctx } from '../../src/services/context.js';
import { upsertGrant } from '../../src/services/grants.js';
import { createResource, listResources } from '../../src/services/resources.js';
import { digest, newCredential } from '../../src/services/secrets.js';
import { insertTokenPair, mintRefreshToken } from '../../src/services/tokens.js';
import { createUser, findUserByUsername } from '../../src/services/users.js';
import { adminQuery, urlFor } from '../helpers/pg.js';
import { freePort } from '../helpers/ports.js';
import { ROOT } from '../helpers/process.js';
import { CodeFlow, login } from './flow.js';
import type { BenchEnv } from './scenarios.js';

export const USERNAME = 'alice';
export const PASSWORD = 'alice-pass';
export const REDIRECT_URI = 'http://127.0.0.1:9999/cb';
/** The registered resource (RFC 8707) of the `*-resource` scenarios; it accepts `read` and `write`. */
export const RESOURCE = 'https://api.bench.example/';
/** A registered resource whose access tokens are JWTs (RFC 9068): the `cc-jwt` scenario. */
export const JWT_RESOURCE = 'https://jwt-api.bench.example/';
/**
 * Dynamic registration is open on the bench server and its per-address limit is the highest
 * the setting allows: every registration comes from 127.0.0.1, so the default (20 an hour)
 * would turn the `register` scenario into 429s after its first 20 requests.
 */
export const REGISTRATION_SETTINGS = {
  DYNAMIC_REGISTRATION: 'open',
  DYNAMIC_REGISTRATION_MAX_PER_HOUR: '100000',
} as const;
const REFRESH_SCOPES = ['read'];

export interface BenchOptions {
  /** An existing database to use (kept afterwards); otherwise a fresh one is created and dropped. */
  databaseUrl?: string;
  /** Passed to the server as WORKERS. */
  workers?: number;
  /** Also start the server a second time with METRICS_PORT (the `*-metrics` scenarios). */
  metricsTwin?: boolean;
  /** Run the primary server under `node --cpu-prof`, writing its profile into this folder at exit. */
  cpuProfDir?: string;
}

export interface Bench {
  env: BenchEnv;
  /** The server's stdout and stderr (JSON log lines at LOG_LEVEL=warn). */
  logFile: string;
  postgresVersion: string;
  /** The database's name, and whether `close` drops it. */
  database: { name: string; dropped: boolean };
  /** Settles if the server process ends by itself (not through `close`). */
  serverGone: Promise<void>;
  /** The server process (the primary, with WORKERS). */
  serverPid: number;
  /** Stops the server, closes the provisioning connection, drops the database if it made one. */
  close(): Promise<void>;
}

/** Fresh database → server in a child process → user, clients and a session → the scenario env. */
export async function startBench(opts: BenchOptions): Promise<Bench> {
  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
    cleanups.length = 0;
  };
  try {
    let databaseUrl = opts.databaseUrl;
    if (!databaseUrl) {
      const name = `latchkey_bench_${randomBytes(6).toString('hex')}`;
      await adminQuery(`create database ${name} template template0`);
      cleanups.push(() => adminQuery(`drop database if exists ${name} with (force)`));
      databaseUrl = urlFor(name);
    }
    const server = await startServerProcess(databaseUrl, opts.workers, {}, opts.cpuProfDir);
    cleanups.push(server.stop);

    // The server migrated the database; provision through the services, as the CLI would.
    const config = loadConfig({ ...process.env, NODE_ENV: 'production', DATABASE_URL: databaseUrl });
    const db = await openDatabase(config);
    cleanups.push(() => db.close());
    const [{ server_version: version }] = await db.sql.query<{ server_version: string }>(
      'show server_version',
    );
    const env = await provision(config, db, server.baseUrl);
    if (opts.metricsTwin) {
      const metricsPort = await freePort();
      const twin = await startServerProcess(databaseUrl, opts.workers, { METRICS_PORT: String(metricsPort) });
      cleanups.push(twin.stop);
      env.metricsTwin = {
        baseUrl: twin.baseUrl,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        pid: twin.pid,
      };
    }
    const database = { name: new URL(databaseUrl).pathname.slice(1), dropped: !opts.databaseUrl };
    return {
      env,
      logFile: server.logFile,
      postgresVersion: version,
      database,
      serverGone: server.gone,
      serverPid: server.pid,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

interface ServerProcess {
  pid: number;
  baseUrl: string;
  logFile: string;
  gone: Promise<void>;
  stop(): Promise<void>;
}

/** `node src/start.mjs` (the compiled server, as `npm start` runs it) on a free port, own event loop; resolves once /healthz is 200. */
async function startServerProcess(
  databaseUrl: string,
  workers?: number,
  extraEnv: Record<string, string> = {},
  cpuProfDir?: string,
): Promise<ServerProcess> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const logDir = path.join(ROOT, 'test-output/bench');
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `server-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const log = fs.openSync(logFile, 'a');
  // --perf-basic-prof as well: `perf record -e cpu-clock -g -p PID` then names the JavaScript
  // frames. perf samples only while the thread is on a CPU; V8's own profiler samples wall time,
  // which puts the time a woken PostgreSQL backend takes from this process on the socket write.
  const profile = cpuProfDir
    ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(cpuProfDir)}`, '--perf-basic-prof']
    : [];
  const child = spawn(process.execPath, [...profile, 'src/start.mjs'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: baseUrl,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      // The bench stops its servers itself: no load balancer to drain for.
      SHUTDOWN_DRAIN_SECONDS: '0',
      ...REGISTRATION_SETTINGS,
      ...(workers ? { WORKERS: String(workers) } : {}),
      ...extraEnv,
    },
    stdio: ['ignore', log, log],
    detached: true, // a Ctrl-C meant for the benchmark does not reach the server: we stop it
  });
  fs.closeSync(log);
  let stopping = false;
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(`code ${code}, signal ${signal}`)),
  );
  const gone = new Promise<void>((resolve) => {
    void exited.then((how) => {
      if (stopping) return;
      console.error(`bench: the server exited by itself (${how}); log ${logFile}`);
      resolve();
    });
  });
  const killOnExit = () => kill(child);
  process.once('exit', killOnExit);
  const stop = async () => {
    stopping = true;
    process.off('exit', killOnExit);
    kill(child);
    await exited;
    if (fs.statSync(logFile).size === 0) fs.rmSync(logFile);
  };
  const deadline = Date.now() + 60_000;
  while (!(await healthy(baseUrl))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      throw new Error(`the server did not become healthy at ${baseUrl}/healthz (log ${logFile}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid!, baseUrl, logFile, gone, stop };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

async function healthy(baseUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * The user and the resource (reused when they exist), two fresh clients, a logged-in session, a
 * refresh-token source.
 */
async function provision(config: Config, db: Database, baseUrl: string): Promise<BenchEnv> {
  const ctx = new Ctx({ config, db, log: createLogger('warn') });
  ctx.actor = { kind: 'cli' };
  const user =
    (await findUserByUsername(ctx, USERNAME)) ??
    (await createUser(ctx, { username: USERNAME, password: PASSWORD }));
  const cc = await createApplication(ctx, user, {
    name: 'bench client_credentials',
    clientType: 'confidential',
    grantTypes: ['client_credentials'],
  });
  const wanted = ['openid', 'read', 'profile', 'email', 'graphql'];
  const code = await createApplication(ctx, user, {
    name: 'bench authorization_code',
    clientType: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT_URI],
    skipAuthorization: true,
    scopes: wanted.filter((s) => s in config.scopes),
  });
  // RFC 8707: any application may ask for any registered resource, within its scopes and the
  // resource's (README, "Resource indicators"): registering it is all the clients need.
  const registered = (await listResources(ctx)).map((r) => r.identifier);
  if (!registered.includes(JWT_RESOURCE)) {
    await createResource(ctx, {
      identifier: JWT_RESOURCE,
      name: 'bench JWT API',
      scopes: ['read', 'write'],
      accessTokenFormat: 'jwt',
    });
  }
  if (!registered.includes(RESOURCE)) {
    await createResource(ctx, { identifier: RESOURCE, name: 'bench API', scopes: ['read', 'write'] });
  }
  const session = await login(baseUrl, USERNAME, PASSWORD);
  const flowClient = {
    baseUrl,
    clientId: code.application.clientId,
    clientSecret: code.clientSecret!,
    redirectUri: REDIRECT_URI,
  };

  /**
   * Refresh tokens written as the password grant writes them (one grant, a family per token),
   * a few hundred per transaction on each pool connection: seeding is not what is measured.
   */
  const seedRefreshTokens = async (count: number): Promise<string[]> => {
    const client = (await loadClient(db.sql, flowClient.clientId))!;
    const grant = await upsertGrant(db.sql, user.id, client.id, REFRESH_SCOPES);
    const values: string[] = [];
    const writeBatch = async (tx: Sql) => {
      for (let i = 0; i < 250 && values.length < count; i++) {
        const subject = {
          client,
          userId: user.id,
          grantId: grant.id,
          familyId: newId(),
          scopes: REFRESH_SCOPES,
        };
        // Minted as the server mints for this opaque-format client, without its key store.
        const accessValue = newCredential('accessToken');
        const access = {
          id: newId(),
          value: accessValue,
          digest: digest(accessValue),
          expiresIn: config.ttl.accessToken,
          format: 'opaque' as const,
          audience: null,
          jkt: null,
        };
        const refresh = mintRefreshToken();
        values.push(refresh.value);
        await insertTokenPair(tx, access, refresh, subject, config.ttl.refreshToken, {
          authTime: new Date(),
          sid: null,
        });
      }
    };
    const writer = async () => {
      while (values.length < count) await db.sql.transaction(writeBatch);
    };
    await Promise.all(Array.from({ length: config.database.poolSize }, writer));
    return values;
  };

  return {
    baseUrl,
    cc: { clientId: cc.application.clientId, clientSecret: cc.clientSecret! },
    flow: new CodeFlow(flowClient, session),
    resource: RESOURCE,
    jwtResource: JWT_RESOURCE,
    user: { username: USERNAME, password: PASSWORD },
    seedRefreshTokens,
  };
}
