import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config/index.js';
import { type Database, runInTransaction, type Tx } from '../db/orm.js';
import type { Sql } from '../db/sql.js';
import type { OutboundClient } from '../http/outbound.js';
import type { Logger } from '../log.js';
import type { Readiness } from '../observability/readiness.js';
import type { BackchannelLogoutWorker } from './backchannel-logout.js';
import type { ClientCache } from './client-cache.js';
import type { KeyStore } from './keys.js';
import type { HotPathLimiter } from './limits.js';
import type { ResourceCache } from './resources.js';
import type { ServerKeys } from './server-secrets.js';
import type { AccessTokenStore } from './tokens.js';

/** The user behind a request: what authorization checks and the audit trail need. */
export interface Viewer {
  id: string;
  username: string;
  email?: string | null;
  isAdmin: boolean;
  isActive: boolean;
}

/** Who is acting, for authorization checks and the audit trail. */
export type Actor =
  | {
      kind: 'user';
      user: Viewer;
      /** `login`: the password was verified, the login is not finished (second factor, enrollment). */
      via: 'session' | 'bearer' | 'login';
      scopes?: readonly string[];
      sessionId?: string;
    }
  | { kind: 'client'; clientId: string }
  | { kind: 'cli' }
  /**
   * Whoever reached the RFC 7591 registration endpoint (holding an initial access token or not),
   * or the holder of one application's RFC 7592 registration access token: never privileged.
   */
  | { kind: 'registration'; clientId?: string }
  | { kind: 'anonymous' };

/** What every process has: settings, database, logger. The CLI has no more than this. */
export interface BaseRuntime {
  config: Config;
  db: Database;
  log: Logger;
}

/**
 * The server's runtime: the base plus the stores protocol requests share, all built before the
 * first request (src/server.ts), so request code never meets a missing one.
 */
export interface Runtime extends BaseRuntime {
  clients: ClientCache;
  /** Registered resources (RFC 8707), cached like clients. */
  resources: ResourceCache;
  keys: ServerKeys;
  clientAuthLimiter: HotPathLimiter;
  keyStore: KeyStore;
  /** Batched access-token writes and lookups, shared by the requests of this process. */
  accessTokens: AccessTokenStore;
  /** The one SSRF-safe client for every URL Latchkey fetches (src/http/outbound.ts). */
  outbound: OutboundClient;
  /** /readyz: database, migrations, keys, draining (src/observability/readiness.ts). */
  readiness: Readiness;
  /** Delivers queued back-channel logout tokens; logouts wake it (src/services/backchannel-logout.ts). */
  backchannelLogouts: BackchannelLogoutWorker;
}

/**
 * CLI commands also run inside a server that holds a PGlite directory (src/cli/remote.ts), with
 * the server's runtime: a service that runs in both asks this before touching a server store.
 */
export function isServerRuntime(runtime: BaseRuntime): runtime is Runtime {
  return 'keyStore' in runtime;
}

/**
 * What a service call needs: the runtime (the base one unless the service needs a server store:
 * then it takes a `ServerCtx`, and the CLI cannot call it), one forked EntityManager for this request or command
 * (created on first use, so hot paths that only run native SQL never pay for it), the actor and
 * the client address.
 */
export class Ctx<R extends BaseRuntime = BaseRuntime> {
  private forked?: EntityManager;
  actor: Actor = { kind: 'anonymous' };
  private address?: string;
  private addressOf?: () => string | undefined;
  /** The client that authenticated on this request, for the access log (never a label). */
  clientId?: string;
  /** The error code of the answer (GraphQL `extensions.code`), for the access log. */
  errorCode?: string;

  private childLog?: Logger;

  /** `bindings` (e.g. the request id) are attached to every log line, on first use only. */
  constructor(
    readonly runtime: R,
    private readonly bindings?: Record<string, string>,
  ) {}

  /** The client's address (TRUST_PROXY honoured), for limits and the audit log. */
  get ip(): string | undefined {
    if (this.addressOf) {
      this.address = this.addressOf();
      this.addressOf = undefined;
    }
    return this.address;
  }

  set ip(value: string | undefined) {
    this.address = value;
    this.addressOf = undefined;
  }

  /**
   * Resolves the address on first use: working it out (X-Forwarded-For through proxy-addr) is
   * per-request work most token and discovery requests never need.
   */
  resolveIp(resolve: () => string | undefined): void {
    this.addressOf = resolve;
  }

  get log(): Logger {
    this.childLog ??= this.bindings ? this.runtime.log.child(this.bindings) : this.runtime.log;
    return this.childLog;
  }

  get config(): Config {
    return this.runtime.config;
  }

  get sql(): Sql {
    return this.runtime.db.sql;
  }

  get em(): EntityManager {
    this.forked ??= this.runtime.db.orm.em.fork() as EntityManager;
    return this.forked;
  }

  /**
   * A change of several steps in one transaction on one connection (the data-access rule in
   * db/orm.ts): use `tx.em` and `tx.sql` inside, never `this.em` or `this.sql`.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return runInTransaction(this.runtime.db, this.em, fn);
  }

  /** The acting user, or undefined for anonymous, client and CLI actors. */
  get user(): Viewer | undefined {
    return this.actor.kind === 'user' ? this.actor.user : undefined;
  }
}

/** The context of a request to the server: every store is there. */
export type ServerCtx = Ctx<Runtime>;
