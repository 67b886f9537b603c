import pino, { type Logger } from 'pino';

export type { Logger };

/** Per-module levels (LOG_LEVELS) of a root logger, and its module loggers, for `moduleLog`. */
const moduleLevels = new WeakMap<Logger, Readonly<Record<string, string>>>();
const moduleLoggers = new WeakMap<Logger, Map<string, Logger>>();

/**
 * Structured JSON logs. Nothing secret is ever passed to the logger; the redaction list is a
 * second line of defence for headers and fields that could carry credentials.
 * `levels` (LOG_LEVELS) set the level of single modules' loggers (`moduleLog`).
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
  levels: Readonly<Record<string, string>> = {},
): Logger {
  const root = pino(
    {
      level,
      base: { service: 'latchkey' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          '*.password',
          '*.client_secret',
          '*.clientSecret',
          '*.token',
          '*.access_token',
          '*.refresh_token',
          '*.code',
          '*.code_verifier',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
  moduleLevels.set(root, levels);
  return root;
}

/**
 * The logger of one module (`access`, `db`, `cleanup`, …): its lines carry `module` and follow
 * the level LOG_LEVELS gives the module (a pino child has its own level, below or above its
 * parent's), else the parent's.
 */
export function moduleLog(log: Logger, module: string): Logger {
  let cache = moduleLoggers.get(log);
  if (!cache) {
    cache = new Map();
    moduleLoggers.set(log, cache);
  }
  let child = cache.get(module);
  if (!child) {
    child = log.child({ module }, { level: moduleLevels.get(log)?.[module] ?? log.level });
    cache.set(module, child);
  }
  return child;
}
