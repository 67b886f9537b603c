import cluster from 'node:cluster';
import { type Config, ConfigError, loadConfig } from './config/index.js';
import { DataDirLockedError } from './db/lock.js';
import { createLogger, type Logger } from './log.js';
import { startTracing } from './observability/tracing.js';
import { startServer } from './server.js';
import { KeyEncryptionError } from './services/key-crypto.js';
import { startLine } from './start-line.js';

/** A worker exits with this when it cannot start at all: the primary stops instead of re-forking. */
const EXIT_CANNOT_START = 78;

/**
 * `npm start`: config → database → app → listen; SIGTERM/SIGINT drain and close.
 * With WORKERS=n (PostgreSQL only) a primary process forks n workers that share the port.
 */
async function main() {
  let config: Config;
  try {
    config = loadConfig();
    if (config.workers > 1 && !config.database.url) {
      throw new ConfigError(
        'Invalid configuration: WORKERS above 1 needs DATABASE_URL (a PGlite directory belongs to one process)',
      );
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, undefined, config.logLevels);
  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config, log);
    return;
  }
  await runServer(config, log);
}

/** Forks the workers, replaces one that dies unexpectedly, and passes shutdown signals on. */
function runPrimary(config: Config, log: Logger): void {
  let stopping = false;
  const fork = (index: number) => {
    // Only the first worker runs the background cleanup: the others would find nothing to delete.
    const worker = cluster.fork({
      LATCHKEY_WORKER: String(index),
      ...(index > 0 ? { CLEANUP_INTERVAL: '0' } : {}),
      // Each worker has its own counters: worker i serves /metrics on METRICS_PORT + i.
      ...(config.metrics.port > 0 ? { METRICS_PORT: String(config.metrics.port + index) } : {}),
    });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      if (code === EXIT_CANNOT_START) {
        stopping = true;
        for (const other of Object.values(cluster.workers ?? {})) other?.process.kill('SIGTERM');
        process.exit(1);
      }
      log.error({ worker: index, code, signal }, 'worker died; starting another');
      setTimeout(() => fork(index), 1000);
    });
  };
  for (let i = 0; i < config.workers; i++) fork(i);
  log.info({ workers: config.workers }, 'cluster started');
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Start failures an operator fixes by changing a setting: one line, no stack trace. */
function operatorLine(err: unknown, config: Config): string | undefined {
  if (err instanceof DataDirLockedError || err instanceof KeyEncryptionError) return err.message;
  if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    return `Port ${config.port} is already in use: set PORT to another port (or stop the process using it).`;
  }
  if ((err as NodeJS.ErrnoException).code === 'EACCES') {
    return `Port ${config.port} needs privileges on ${config.host}: set PORT to a port above 1023.`;
  }
  return undefined;
}

async function runServer(config: Config, log: Logger): Promise<void> {
  let server: Awaited<ReturnType<typeof startServer>>;
  const isWorker = cluster.isWorker;
  // A person at a terminal gets one readable line instead of the JSON "listening" record.
  const human = process.stdout.isTTY === true && (process.env.LATCHKEY_WORKER ?? '0') === '0';
  let tracing: Awaited<ReturnType<typeof startTracing>>;
  try {
    // Before the server: its request listener is wrapped in spans only when tracing is on.
    tracing = await startTracing();
    if (tracing) log.info('tracing on (OpenTelemetry)');
    server = await startServer(config, { log, quietListening: human });
  } catch (err) {
    const line = operatorLine(err, config);
    if (line) {
      process.stderr.write(`${line}\n`);
      process.exit(isWorker ? EXIT_CANNOT_START : 1);
    }
    log.fatal({ err: { name: (err as Error).name, message: (err as Error).message } }, 'failed to start');
    process.exit(1);
  }
  if (human) process.stdout.write(`${await startLine(server, config)}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000 + config.shutdownDrainSeconds * 1000);
    force.unref();
    server
      .close()
      .then(() => tracing?.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
