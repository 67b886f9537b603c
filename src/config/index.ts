import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_SCOPES } from './scopes.js';

/**
 * Every setting Latchkey reads, from the environment, with its default. This is the only
 * module that looks at process.env; everything else receives a `Config`.
 * The README's configuration table lists every variable with this default; a test
 * (test/unit/config-readme.test.ts) keeps the two in step.
 */

const seconds = (def: number, min = 1, max = 10 * 365 * 86_400) =>
  z.coerce
    .number({ message: 'must be a whole number of seconds' })
    .int('must be a whole number of seconds')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);

const count = (def: number, min = 1, max = 1_000_000) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(def);

/** A whole number whose default depends on the machine (computed in loadConfig). */
const derivedCount = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .optional();

const bool = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? def : ['1', 'true', 'yes', 'on'].includes(v)));

const issuer = z
  .string()
  .default('http://localhost:8000')
  .transform((v, ctx) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
      return z.NEVER;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: 'must use http or https' });
      return z.NEVER;
    }
    if (url.search || url.hash || url.username || url.password) {
      ctx.addIssue({
        code: 'custom',
        message: 'must not carry a query, fragment or credentials (RFC 8414 §2)',
      });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, '');
  });

const databaseUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (!/^postgres(ql)?:\/\//.test(v)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a postgresql:// URL (leave unset for embedded PGlite)',
      });
      return z.NEVER;
    }
    return v;
  });

const scopes = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return DEFAULT_SCOPES;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of scope name to description' });
      return z.NEVER;
    }
    const shape = z.record(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/), z.string().min(1));
    const result = shape.safeParse(parsed);
    if (!result.success || Object.keys(result.data).length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a non-empty JSON object of scope name (RFC 6749 §3.3 characters) to description',
      });
      return z.NEVER;
    }
    return result.data;
  });

const trustProxy = z
  .string()
  .optional()
  .transform((v, ctx): boolean | number | string => {
    if (v === undefined || v === '' || v === 'false' || v === '0') return false;
    if (v === 'true') return true;
    if (/^\d+$/.test(v)) return Number(v);
    if (/^[\w.:/, -]+$/.test(v)) return v;
    ctx.addIssue({
      code: 'custom',
      message: 'must be false, true, a hop count, or a list of addresses/subnets',
    });
    return z.NEVER;
  });

const keyEncryptionKey = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    if (v.length < 32) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 32 characters of secret material' });
      return z.NEVER;
    }
    return v;
  });

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** The modules whose log level LOG_LEVELS may set (see src/log.ts `moduleLog`). */
export const LOG_MODULES = ['access', 'graphql', 'db', 'cleanup', 'keys', 'backchannel'] as const;

const logLevels = z
  .string()
  .optional()
  .transform((v, ctx): Partial<Record<(typeof LOG_MODULES)[number], (typeof LEVELS)[number]>> | undefined => {
    if (v === undefined || v.trim() === '') return undefined;
    const out: Partial<Record<(typeof LOG_MODULES)[number], (typeof LEVELS)[number]>> = {};
    for (const part of v.split(',')) {
      const [name, level] = part.split('=').map((s) => s.trim());
      const module = LOG_MODULES.find((m) => m === name);
      const known = LEVELS.find((l) => l === level);
      if (!module || !known) {
        ctx.addIssue({
          code: 'custom',
          message: `must be module=level pairs separated by commas (modules: ${LOG_MODULES.join(', ')}; levels: ${LEVELS.join(', ')})`,
        });
        return z.NEVER;
      }
      out[module] = known;
    }
    return out;
  });

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number({ message: 'must be a port number' }).int().min(0).max(65535).default(8000),
  HOST: z.string().min(1).default('127.0.0.1'),
  ISSUER: issuer,
  DATABASE_URL: databaseUrl,
  DATABASE_POOL_SIZE: count(10, 1, 200),
  DATA_DIR: z.string().min(1).default('./data'),
  MIGRATE_ON_START: bool(true),
  LOG_LEVEL: z.enum(LEVELS).default('info'),
  /** Per-module levels over LOG_LEVEL, e.g. `access=warn,db=debug`. */
  LOG_LEVELS: logLevels,
  /** Prometheus /metrics on its own listener; 0 = off. */
  METRICS_PORT: z.coerce.number({ message: 'must be a port number' }).int().min(0).max(65535).default(0),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** After SIGTERM, /readyz answers 503 this long before the listener closes; default derived below. */
  SHUTDOWN_DRAIN_SECONDS: derivedCount(0, 300),
  TRUST_PROXY: trustProxy,
  WORKERS: count(1, 1, 64),
  SCOPES: scopes,
  AUTHORIZATION_CODE_TTL: seconds(60, 1, 600),
  ACCESS_TOKEN_TTL: seconds(3600),
  REFRESH_TOKEN_TTL: seconds(14 * 86_400),
  ID_TOKEN_TTL: seconds(3600),
  DEVICE_CODE_TTL: seconds(600, 60, 86_400),
  DEVICE_CODE_INTERVAL: seconds(5, 1, 60),
  REFRESH_GRACE_SECONDS: seconds(0, 0, 300),
  // RFC 9700 §4.14.2: reuse of a rotated refresh token revokes its family at once. Opt in (a few
  // seconds) only for clients that really send concurrent refreshes with the same token.
  REFRESH_CONCURRENCY_WINDOW_SECONDS: seconds(0, 0, 60),
  PKCE_ALLOW_PLAIN: bool(false),
  SESSION_IDLE_TIMEOUT: seconds(24 * 3600, 60),
  SESSION_MAX_AGE: seconds(14 * 86_400, 60),
  LOGIN_MAX_FAILURES: count(5),
  LOGIN_MAX_FAILURES_PER_IP: count(50),
  LOGIN_WINDOW: seconds(15 * 60),
  CLIENT_AUTH_MAX_FAILURES: count(10),
  /** argon2 computations running at once per process; default derived below. */
  PASSWORD_HASH_CONCURRENCY: derivedCount(1, 256),
  /** argon2 computations waiting for a slot; beyond it, 503 + Retry-After. Default 4 × concurrency. */
  PASSWORD_HASH_QUEUE: derivedCount(0, 10_000),
  CLIENT_CACHE_TTL: seconds(5, 0, 300),
  CLEANUP_INTERVAL: seconds(60, 0, 86_400),
  CLEANUP_BATCH_SIZE: count(1000, 100, 100_000),
  BODY_LIMIT_BYTES: count(64 * 1024, 1024, 10 * 1024 * 1024),
  KEY_ENCRYPTION_KEY: keyEncryptionKey,
  ACCESS_TOKEN_AUDIENCE: z.string().min(1).max(2000).optional(),
  GRAPHQL_INTROSPECTION: bool(true),
  GRAPHQL_MAX_DEPTH: count(12, 2, 64),
  GRAPHQL_MAX_COST: count(5000, 10, 1_000_000),
  /** Most fields one operation may select, aliases and expanded fragments included. */
  GRAPHQL_MAX_FIELDS: count(500, 10, 5000),
  /** Most database round trips one operation may need: root fields but `viewer`, and `totalCount`s. */
  GRAPHQL_MAX_ROUND_TRIPS: count(20, 1, 200),
  /** Development and tests only: the outbound client may reach loopback/private addresses, and http on loopback. */
  OUTBOUND_ALLOW_PRIVATE_NETWORK: bool(false),
  /** Accept https-URL client ids, resolved by fetching their client ID metadata document. */
  CLIENT_ID_METADATA_DOCUMENTS: bool(false),
  /** Client metadata document fetches one address (IPv6: one /64) may cause per hour. */
  CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR: count(60, 1, 100_000),
  /** RFC 9126: how long a pushed authorization request's request_uri may be used (seconds). */
  PAR_TTL: seconds(60, 1, 60),
  /** RFC 9126 §5/§6: every authorization request must be pushed. */
  REQUIRE_PAR: bool(false),
  /** RFC 7591: off (no endpoint), open (anyone), token (an initial access token is required). */
  DYNAMIC_REGISTRATION: z.enum(['off', 'open', 'token']).default('off'),
  /** Dynamic registrations admitted per address (IPv6: per /64) per hour. */
  DYNAMIC_REGISTRATION_MAX_PER_HOUR: count(20, 1, 100_000),
  /**
   * A dynamically registered application never used within this many seconds is deleted. At least
   * 600: longer than any CLIENT_CACHE_TTL (≤ 300), so no instance still holds a cached record of a
   * metadata-document client the cleanup deletes.
   */
  DYNAMIC_REGISTRATION_ABANDONED_AFTER: seconds(86_400, 600),
  /** RFC 9449 §8–9: DPoP proofs must carry a server nonce (handed out in DPoP-Nonce). */
  DPOP_NONCES: bool(false),
  /** OIDC Back-Channel Logout: most logout tokens waiting for delivery; beyond it the oldest are dropped. */
  BACKCHANNEL_LOGOUT_MAX_PENDING: count(10_000, 1, 10_000_000),
  /** Delivery attempts per logout token before it is given up. */
  BACKCHANNEL_LOGOUT_MAX_ATTEMPTS: count(10, 1, 100),
  /** Seconds after the logout past which an undelivered logout token is given up. */
  BACKCHANNEL_LOGOUT_MAX_AGE: seconds(86_400, 60, 30 * 86_400),
  /** Seconds before the first retry; each further retry waits twice as long (with jitter, at most an hour). */
  BACKCHANNEL_LOGOUT_RETRY_BASE: seconds(5, 1, 3600),
  /** Seconds between the delivery worker's polls for due logout tokens (it also wakes on each logout). */
  BACKCHANNEL_LOGOUT_POLL_INTERVAL: seconds(10, 1, 3600),
  /** Who must have a second factor: nobody, administrators, every user. */
  MFA_REQUIRED: z.enum(['off', 'admins', 'all']).default('off'),
});

type Env = z.infer<typeof schema>;

/** The settings as the code reads them: the shape `configFrom` gives, so it is written once. */
export type Config = ReturnType<typeof configFrom>;

/** The schema itself, for the test that keeps the README's configuration table in step with it. */
export { schema as configSchema };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses an environment into a Config; throws ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    input[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = String(issue.path[0] ?? 'environment');
    const shown =
      input[name] === undefined || /KEY|SECRET|PASSWORD|DATABASE_URL/.test(name)
        ? ''
        : ` (got "${input[name]}")`;
    throw new ConfigError(`Invalid configuration: ${name} ${friendly(issue.message)}${shown}`);
  }
  if (result.data.NODE_ENV === 'production' && result.data.OUTBOUND_ALLOW_PRIVATE_NETWORK) {
    // In production it would let anyone who can supply a URL probe the internal network (SSRF).
    throw new ConfigError(
      'Invalid configuration: OUTBOUND_ALLOW_PRIVATE_NETWORK must not be true when NODE_ENV is production',
    );
  }
  return configFrom(result.data);
}

/** Groups the parsed environment by concern and fills the defaults that depend on other values. */
function configFrom(e: Env) {
  const hashConcurrency = e.PASSWORD_HASH_CONCURRENCY ?? defaultHashConcurrency();
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    issuer: e.ISSUER,
    /** true when cookies must be Secure (issuer served over https). */
    secureCookies: e.ISSUER.startsWith('https:'),
    database: {
      url: e.DATABASE_URL,
      poolSize: e.DATABASE_POOL_SIZE,
      dataDir: path.resolve(e.DATA_DIR),
    },
    migrateOnStart: e.MIGRATE_ON_START,
    logLevel: e.LOG_LEVEL,
    logLevels: e.LOG_LEVELS ?? {},
    /** Prometheus metrics listener; port 0: off (nothing is recorded either). */
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    /** Seconds /readyz answers 503 after SIGTERM before the listener closes (load balancers notice). */
    shutdownDrainSeconds: e.SHUTDOWN_DRAIN_SECONDS ?? (e.NODE_ENV === 'production' ? 5 : 0),
    trustProxy: e.TRUST_PROXY,
    workers: e.WORKERS,
    scopes: Object.freeze({ ...e.SCOPES }) as Readonly<Record<string, string>>,
    ttl: {
      authorizationCode: e.AUTHORIZATION_CODE_TTL,
      accessToken: e.ACCESS_TOKEN_TTL,
      refreshToken: e.REFRESH_TOKEN_TTL,
      idToken: e.ID_TOKEN_TTL,
      deviceCode: e.DEVICE_CODE_TTL,
      pushedRequest: e.PAR_TTL,
    },
    requirePar: e.REQUIRE_PAR,
    deviceCodeInterval: e.DEVICE_CODE_INTERVAL,
    refresh: {
      graceSeconds: e.REFRESH_GRACE_SECONDS,
      concurrencyWindowSeconds: e.REFRESH_CONCURRENCY_WINDOW_SECONDS,
    },
    pkceAllowPlain: e.PKCE_ALLOW_PLAIN,
    session: { idleTimeout: e.SESSION_IDLE_TIMEOUT, maxAge: e.SESSION_MAX_AGE },
    limits: {
      loginMaxFailures: e.LOGIN_MAX_FAILURES,
      loginMaxFailuresPerIp: e.LOGIN_MAX_FAILURES_PER_IP,
      loginWindow: e.LOGIN_WINDOW,
      clientAuthMaxFailures: e.CLIENT_AUTH_MAX_FAILURES,
    },
    passwordHashing: {
      concurrency: hashConcurrency,
      queue: e.PASSWORD_HASH_QUEUE ?? 4 * hashConcurrency,
    },
    clientCacheTtl: e.CLIENT_CACHE_TTL,
    cleanup: { interval: e.CLEANUP_INTERVAL, batchSize: e.CLEANUP_BATCH_SIZE },
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    keyEncryptionKey: e.KEY_ENCRYPTION_KEY,
    /** `aud` of JWT access tokens (RFC 9068 §2.2); the issuer unless configured. */
    accessTokenAudience: e.ACCESS_TOKEN_AUDIENCE ?? e.ISSUER,
    dynamicRegistration: {
      policy: e.DYNAMIC_REGISTRATION,
      maxPerHour: e.DYNAMIC_REGISTRATION_MAX_PER_HOUR,
      abandonedAfter: e.DYNAMIC_REGISTRATION_ABANDONED_AFTER,
    },
    graphql: {
      introspection: e.GRAPHQL_INTROSPECTION,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxCost: e.GRAPHQL_MAX_COST,
      maxFields: e.GRAPHQL_MAX_FIELDS,
      maxRoundTrips: e.GRAPHQL_MAX_ROUND_TRIPS,
    },
    outbound: { allowPrivateNetwork: e.OUTBOUND_ALLOW_PRIVATE_NETWORK },
    clientIdMetadataDocuments: e.CLIENT_ID_METADATA_DOCUMENTS,
    clientIdMetadataDocumentsMaxPerHour: e.CLIENT_ID_METADATA_DOCUMENTS_MAX_PER_HOUR,
    dpop: { nonces: e.DPOP_NONCES },
    mfaRequired: e.MFA_REQUIRED,
    backchannelLogout: {
      maxPending: e.BACKCHANNEL_LOGOUT_MAX_PENDING,
      maxAttempts: e.BACKCHANNEL_LOGOUT_MAX_ATTEMPTS,
      maxAge: e.BACKCHANNEL_LOGOUT_MAX_AGE,
      retryBase: e.BACKCHANNEL_LOGOUT_RETRY_BASE,
      pollInterval: e.BACKCHANNEL_LOGOUT_POLL_INTERVAL,
    },
  };
}

/**
 * argon2 is CPU-bound (~250 ms, 64 MiB each): more at once than cores only adds latency and
 * memory. It also runs on libuv's thread pool (4 threads by default), which WebCrypto signing,
 * fs and DNS share, so at most 3 keeps one thread free for them.
 */
function defaultHashConcurrency(): number {
  return Math.max(1, Math.min(os.availableParallelism(), 3));
}

function friendly(message: string): string {
  if (/^Invalid option/.test(message))
    return `must be one of ${message.replace(/^Invalid option: expected one of /, '')}`;
  if (/^Invalid input: expected number/.test(message)) return 'must be a number';
  if (/Too small/i.test(message) || /Too big/i.test(message)) return message.toLowerCase();
  return message;
}
