import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import { serveCliSocket } from './cli/remote.js';
import type { Config } from './config/index.js';
import { listen } from './db/listen.js';
import { type Database, migrate, openDatabase } from './db/orm.js';
import { BACKCHANNEL_CHANNEL } from './db/tables/backchannel-logouts.js';
import { graphqlDoor } from './graphql/index.js';
import { OutboundClient, type OutboundOptions } from './http/outbound.js';
import { createLogger, type Logger, moduleLog } from './log.js';
import { protocolDoor } from './oauth/index.js';
import { observeOperations } from './observability/index.js';
import { Readiness } from './observability/readiness.js';
import { traced } from './observability/tracing.js';
import { BackchannelLogoutWorker } from './services/backchannel-logout.js';
import { startCleanup } from './services/cleanup.js';
import { CLIENT_CHANNEL, ClientCache, type DocumentRequester } from './services/client-cache.js';
import { resolveDocumentClient } from './services/client-metadata-documents.js';
import type { BaseRuntime, Runtime } from './services/context.js';
import { encryptAtRest } from './services/encrypt-at-rest.js';
import { KEYS_CHANNEL, KeyStore } from './services/keys.js';
import { HotPathLimiter } from './services/limits.js';
import { RESOURCE_CHANNEL, ResourceCache } from './services/resources.js';
import { loadServerKeys } from './services/server-secrets.js';
import { AccessTokenStore } from './services/tokens.js';
import { hstsHeader } from './web/security-headers.js';

export interface StartOptions {
  log?: Logger;
  /** PGlite in memory instead of DATA_DIR (tests). */
  inMemory?: boolean;
  /** The caller announces the start itself (a readable line at a terminal). */
  quietListening?: boolean;
  /** Tests: how the outbound client resolves names and which CA it trusts (self-signed servers). */
  outbound?: Pick<OutboundOptions, 'resolve' | 'ca' | 'timeoutMs' | 'maxConcurrent'>;
}

export interface RunningServer {
  url: string;
  /** The Prometheus listener's `/metrics` URL, when METRICS_PORT is set. */
  metricsUrl?: string;
  runtime: Runtime;
  close(): Promise<void>;
}

/** Opens the database, migrates, builds the app and listens. The caller owns shutdown. */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel, undefined, config.logLevels);
  const db = await openDatabase(config, { inMemory: opts.inMemory });
  const stops: Array<() => Promise<void> | void> = [];
  try {
    if (config.migrateOnStart) {
      const applied = await migrate(db);
      if (applied.length) log.info({ applied }, 'migrations applied');
    }
    const outbound = new OutboundClient({
      ...opts.outbound,
      allowPrivateNetwork: config.outbound.allowPrivateNetwork,
    });
    const documentPolicy = {
      knownScopes: config.scopes,
      maxFetchesPerHour: config.clientIdMetadataDocumentsMaxPerHour,
    };
    const documents = config.clientIdMetadataDocuments
      ? (clientId: string, requester: DocumentRequester) =>
          resolveDocumentClient(db.sql, outbound, clientId, documentPolicy, requester.ip)
      : null;
    const clients = new ClientCache(db.sql, config.clientCacheTtl, documents);
    const resources = new ResourceCache(db.sql, config.clientCacheTtl);
    const runtime = await prepareRuntime({ config, db, log }, { clients, resources, outbound });
    if (config.database.url) {
      // Other instances announce client changes and key rotations; act on them at once.
      // A reload still running at shutdown is awaited (and none starts after), so it never meets
      // a closed pool.
      let stopped = false;
      let reloading: Promise<void> = Promise.resolve();
      const reloadKeys = () => {
        if (stopped) return;
        reloading = runtime.keyStore
          .load()
          .catch((err) => log.warn({ err: (err as Error).message }, 'reloading keys failed'));
      };
      const listener = listen(
        config.database.url,
        {
          [CLIENT_CHANNEL]: {
            onMessage: (clientId) => clients.invalidate(clientId),
            onGap: () => clients.invalidate(),
          },
          [RESOURCE_CHANNEL]: {
            onMessage: (identifier) => resources.invalidate(identifier),
            onGap: () => resources.invalidate(),
          },
          [KEYS_CHANNEL]: { onMessage: reloadKeys, onGap: reloadKeys },
          // Another instance queued logout tokens: any instance may deliver them.
          [BACKCHANNEL_CHANNEL]: {
            onMessage: () => runtime.backchannelLogouts.kick(),
            onGap: () => runtime.backchannelLogouts.kick(),
          },
        },
        moduleLog(log, 'db'),
      );
      stops.push(async () => {
        stopped = true;
        await listener.close();
        await reloading;
      });
    }
    stops.push(startCleanup(runtime));
    // Pending logout tokens (of this or an earlier process) go out from the start. Stopped before
    // the pool closes, its round in progress awaited: no delivery writes to a closed pool.
    runtime.backchannelLogouts.start();
    stops.push(() => runtime.backchannelLogouts.stop());
    if (db.kind === 'pglite' && !opts.inMemory) {
      // The CLI cannot open a PGlite directory this process holds: it sends commands here.
      const { execute } = await import('./cli/index.js');
      stops.push(await serveCliSocket(runtime, (argv, out, err) => execute(runtime, argv, out, err)));
    }

    const graphql = await graphqlDoor(runtime);
    stops.push(() => graphql.stop());
    const app = createApp(runtime, graphql.router);
    const door = protocolDoor(runtime, app);
    const hsts = hstsHeader(config);
    const server = http.createServer(
      traced((req, res) => {
        if (hsts) res.setHeader('Strict-Transport-Security', hsts);
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const pathname = q < 0 ? url : url.slice(0, q);
        const route = door.match(pathname);
        if (route) void door.handle(req, res, route, pathname, q < 0 ? '' : url.slice(q + 1));
        else app(req, res);
      }),
    );
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
    const operations = await observeOperations(runtime);
    stops.push(operations.stop);
    if (!opts.quietListening) {
      log.info(
        { url, issuer: config.issuer, database: db.kind, metrics: operations.metricsUrl },
        'listening',
      );
    }

    let closing: Promise<void> | undefined;
    return {
      url,
      metricsUrl: operations.metricsUrl,
      runtime,
      close() {
        closing ??= (async () => {
          // /readyz turns 503 first; the load balancer stops sending before the listener closes.
          runtime.readiness.drain();
          const drain = config.shutdownDrainSeconds;
          if (drain > 0) {
            log.info({ seconds: drain }, 'draining: /readyz answers 503 until the listener closes');
            await new Promise((r) => setTimeout(r, drain * 1000));
          }
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
            setTimeout(() => server.closeAllConnections(), 5000).unref();
          });
          // Clients that hung up leave handlers running; let their queries finish first.
          await db.drain(5000);
          await shutdown(stops, db);
        })();
        return closing;
      },
    };
  } catch (err) {
    await shutdown(stops, db);
    throw err;
  }
}

/**
 * Work every instance does before serving: stored secrets are encrypted when a key is set, and
 * server secrets and signing keys exist. Returns the runtime with every store request code needs.
 */
async function prepareRuntime(
  base: BaseRuntime,
  stores: Pick<Runtime, 'clients' | 'resources' | 'outbound'>,
): Promise<Runtime> {
  const { db, config, log } = base;
  if (config.keyEncryptionKey) await encryptAtRest(db.sql, config.keyEncryptionKey, log);
  const keys = await loadServerKeys(db.sql, config.keyEncryptionKey);
  const keyStore = new KeyStore(db.sql, config, moduleLog(log, 'keys'));
  await keyStore.init();
  return {
    ...base,
    ...stores,
    keys,
    keyStore,
    backchannelLogouts: new BackchannelLogoutWorker({ ...base, keyStore, outbound: stores.outbound }),
    readiness: new Readiness({ db, keyStore }),
    clientAuthLimiter: new HotPathLimiter(db.sql, config.limits.loginWindow),
    accessTokens: new AccessTokenStore(db.sql),
  };
}

async function shutdown(stops: Array<() => Promise<void> | void>, db: Database): Promise<void> {
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch {
      // keep closing the rest
    }
  }
  await db.close();
}
