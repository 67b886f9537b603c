import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { type RunningServer, type StartOptions, startServer } from '../../src/server.js';
import { Ctx } from '../../src/services/context.js';
import { createTestDatabase, type TestDatabase } from './pg.js';
import { freePort } from './ports.js';

export interface TestServer extends RunningServer {
  /** A service context acting as the CLI, for arranging data directly. */
  cli(): Ctx;
  database?: TestDatabase;
  /** Where this server's JSON log goes. */
  logFile: string;
  stop(): Promise<void>;
}

let serverCount = 0;

export type Backend = 'postgresql' | 'pglite';

/**
 * Starts a real server on a free port: PostgreSQL (a fresh database copied from the migrated
 * template) or PGlite in memory. Logs go to test-output/logs/, which the secrets test reads.
 */
export async function startTestServer(
  opts: {
    backend?: Backend;
    env?: Record<string, string>;
    databaseUrl?: string;
    /** A test resolver and CA for the outbound client (servers with self-signed certificates). */
    outbound?: StartOptions['outbound'];
    /** The issuer's host: `localhost` for WebAuthn, which Chromium refuses on an IP address. */
    issuerHost?: 'localhost';
  } = {},
): Promise<TestServer> {
  const backend = opts.backend ?? 'postgresql';
  let database: TestDatabase | undefined;
  let databaseUrl = opts.databaseUrl;
  if (backend === 'postgresql' && !databaseUrl) {
    database = await createTestDatabase();
    databaseUrl = database.url;
  }
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    ISSUER: `http://${opts.issuerHost ?? '127.0.0.1'}:${port}`,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CLEANUP_INTERVAL: '0',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  fs.mkdirSync('test-output/logs', { recursive: true });
  const logFile = path.join('test-output/logs', `${process.pid}-${Date.now()}-${++serverCount}.log`);
  const log = createLogger(config.logLevel, fs.createWriteStream(logFile, { flags: 'a' }), config.logLevels);
  const server = await startServer(config, {
    log,
    inMemory: backend === 'pglite',
    outbound: opts.outbound,
  });
  return {
    ...server,
    database,
    logFile,
    cli() {
      const ctx = new Ctx(server.runtime);
      ctx.actor = { kind: 'cli' };
      return ctx;
    },
    async stop() {
      await server.close();
      await database?.drop();
    },
  };
}
