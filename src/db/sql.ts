import { createHash } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { PoolStats } from '../observability/metrics.js';
import { sqlSpan } from '../observability/tracing.js';

export type Row = Record<string, unknown>;

/**
 * The narrow SQL interface the hot paths use (token issuance, introspection, sessions, limits):
 * one native statement instead of an ORM unit of work. Placeholders are PostgreSQL's `$1`.
 * Both back ends run the same text: PostgreSQL through node-postgres (statements prepared once
 * per connection), PGlite through the ORM's single connection.
 */
export interface Sql {
  query<R extends object = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a statement and returns the number of rows it touched. */
  execute(text: string, params?: readonly unknown[]): Promise<number>;
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/**
 * Lets a test watch every statement a database runs (ORM and native SQL alike), e.g. to prove
 * that a GraphQL listing does not issue one query per row. Costs nothing while nobody watches.
 */
export class QueryObserver {
  private listener?: (statement: string) => void;

  watch(listener: (statement: string) => void): () => void {
    this.listener = listener;
    return () => {
      this.listener = undefined;
    };
  }

  notify(statement: string): void {
    this.listener?.(statement);
  }
}

/** Distinguishes "the database is not answering" from bad SQL or a constraint violation. */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `lk_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);

export function isUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|Client has encountered a connection error|terminating connection/i.test(
    err.message,
  );
}

function wrap(err: unknown): never {
  if (isUnavailable(err)) throw new DatabaseUnavailableError('database unavailable', { cause: err });
  throw err;
}

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Statements on one node-postgres client or pool (a transaction's client: see db/orm.ts `runInTransaction`). */
export class PgClientSql implements Sql {
  constructor(
    private readonly client: Queryable,
    private readonly observer?: QueryObserver,
  ) {}

  private async run(text: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    this.observer?.notify(text);
    try {
      return await sqlSpan(text, () =>
        this.client.query({ name: statementName(text), text, values: params as unknown[] }),
      );
    } catch (err) {
      return wrap(err);
    }
  }
  async query<R extends object = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return (await this.run(text, params)).rows as R[];
  }
  async execute(text: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.run(text, params)).rowCount ?? 0;
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this); // already inside one
  }
}

export class PgPoolSql implements Sql {
  readonly pool: pg.Pool;
  private readonly direct: PgClientSql;

  constructor(
    url: string,
    max: number,
    private readonly observer?: QueryObserver,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: 3000,
      idleTimeoutMillis: 30_000,
      application_name: 'latchkey',
    });
    // An idle client losing its server must not crash the process (database outage).
    this.pool.on('error', () => {});
    this.direct = new PgClientSql(this.pool, observer);
  }
  query<R extends object = Row>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return this.direct.query<R>(text, params);
  }
  execute(text: string, params?: readonly unknown[]): Promise<number> {
    return this.direct.execute(text, params);
  }
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      return wrap(err);
    }
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await fn(new PgClientSql(client, this.observer));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      return wrap(err);
    } finally {
      client.release(broken);
    }
  }
  /** Connections currently running a query. */
  busy(): number {
    return this.pool.totalCount - this.pool.idleCount;
  }
  stats(): PoolStats {
    const { totalCount, idleCount, waitingCount, options } = this.pool;
    return {
      pool: 'sql',
      max: options.max ?? 0,
      total: totalCount,
      inUse: totalCount - idleCount,
      waiting: waitingCount,
    };
  }
  close(): Promise<void> {
    return this.pool.end();
  }
}

/** What the ORM's PGlite knex client gives us: its single connection, serialised by its pool. */
export interface ConnectionPool {
  acquireConnection(): Promise<PGlite>;
  releaseConnection(connection: PGlite): Promise<unknown>;
}

/** Statements on PGlite's one connection, already held by the caller (a pool slot or an ORM transaction). */
export class PgliteConnectionSql implements Sql {
  constructor(
    private readonly db: PGlite,
    private readonly observer?: QueryObserver,
  ) {}
  async query<R extends object = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    this.observer?.notify(text);
    return (await sqlSpan(text, () => this.db.query<R>(text, params as unknown[]))).rows;
  }
  async execute(text: string, params: readonly unknown[] = []): Promise<number> {
    this.observer?.notify(text);
    return (await sqlSpan(text, () => this.db.query(text, params as unknown[]))).affectedRows ?? 0;
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/**
 * PGlite is one connection. Going through the ORM's pool (max 1) keeps raw statements from
 * interleaving with an ORM transaction in flight.
 */
export class PgliteSql implements Sql {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly observer?: QueryObserver,
  ) {}

  private async withConnection<T>(fn: (db: PgliteConnectionSql, raw: PGlite) => Promise<T>): Promise<T> {
    const raw = await this.pool.acquireConnection();
    try {
      return await fn(new PgliteConnectionSql(raw, this.observer), raw);
    } finally {
      await this.pool.releaseConnection(raw);
    }
  }
  query<R extends object = Row>(text: string, params?: readonly unknown[]): Promise<R[]> {
    return this.withConnection((db) => db.query<R>(text, params));
  }
  execute(text: string, params?: readonly unknown[]): Promise<number> {
    return this.withConnection((db) => db.execute(text, params));
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.withConnection(async (db, raw) => {
      await raw.query('BEGIN');
      try {
        const result = await fn(db);
        await raw.query('COMMIT');
        return result;
      } catch (err) {
        await raw.query('ROLLBACK');
        throw err;
      }
    });
  }
}
