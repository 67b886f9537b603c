/**
 * The database layer and its data-access rule:
 * - Admin CRUD (users, applications, audit events) goes through the ORM, on the request's forked
 *   EntityManager (`ctx.em`): entities are loaded, changed and flushed — no raw SQL on those
 *   tables and no identity-map surgery.
 * - Protocol tables (codes, tokens, refresh tokens, device codes, grants, sessions) go through
 *   native SQL (`Sql`, in their table modules), one statement per step on the hot paths.
 * - A change of several steps (disable a user → end sessions + revoke tokens; delete an
 *   application; rotate a secret; each with its audit event) runs in ONE transaction on ONE
 *   connection: `ctx.transaction(({ em, sql }) => …)` (`runInTransaction` below). ORM work goes
 *   through `em`, native statements through `sql`; never `ctx.em`/`ctx.sql` inside — on
 *   PostgreSQL those are other connections (another pool), on PGlite they would wait for the
 *   single connection this transaction holds.
 * - Slow work (argon2) and side effects other instances see (cache invalidation notices) stay
 *   outside: before the transaction, or after it commits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type Options, ReflectMetadataProvider } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { type EntityManager, type Knex, MikroORM, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PGliteDriver } from 'mikro-orm-pglite';
import type pg from 'pg';
import { migrationsList } from '../../migrations/index.js';
import type { Config } from '../config/index.js';
import { entities } from '../entities/index.js';
import type { PoolStats } from '../observability/metrics.js';
import { MIGRATIONS_DIR } from '../paths.js';
import { DataDirLock } from './lock.js';
import {
  type ConnectionPool,
  PgClientSql,
  PgliteConnectionSql,
  PgliteSql,
  PgPoolSql,
  QueryObserver,
  type Sql,
} from './sql.js';

export type Orm = MikroORM;

export interface Database {
  orm: Orm;
  sql: Sql;
  observer: QueryObserver;
  /** Waits (at most `timeoutMs`) until no query is running: requests finish before the pools close. */
  drain(timeoutMs: number): Promise<void>;
  kind: 'postgresql' | 'pglite';
  /** The connection pools' sizes and queues, for the metrics. */
  pools(): PoolStats[];
  close(): Promise<void>;
}

/** ORM options shared by both back ends: entities, migrations from the static list. */
export function baseOptions(observer?: QueryObserver): Options {
  return {
    // Lets a QueryObserver see the ORM's statements too (tests that count statements).
    onQuery: (sql: string) => {
      observer?.notify(sql);
      return sql;
    },
    entities,
    metadataProvider: ReflectMetadataProvider,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    extensions: [Migrator],
    migrations: {
      migrationsList,
      path: MIGRATIONS_DIR,
      pathTs: MIGRATIONS_DIR,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
      silent: true,
    },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    debug: false,
  };
}

export interface OpenOptions {
  /** PGlite only: an in-memory database instead of DATA_DIR (tests, migration generation). */
  inMemory?: boolean;
}

export async function openDatabase(config: Config, opts: OpenOptions = {}): Promise<Database> {
  if (config.database.url) return openPostgres(config.database.url, config.database.poolSize);
  return openPglite(opts.inMemory ? undefined : config.database.dataDir);
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const observer = new QueryObserver();
  const orm = await MikroORM.init<PostgreSqlDriver>({
    ...baseOptions(observer),
    driver: PostgreSqlDriver,
    clientUrl: url,
    pool: { min: 0, max: Math.max(2, Math.ceil(poolSize / 2)), acquireTimeoutMillis: 5000 },
    driverOptions: { connection: { connectionTimeoutMillis: 3000 } },
  } as Options<PostgreSqlDriver>);
  const sql = new PgPoolSql(url, poolSize, observer);
  return {
    orm,
    sql,
    observer,
    drain: (timeoutMs) => waitUntilIdle(() => sql.busy() + ormBusy(orm), timeoutMs),
    kind: 'postgresql',
    pools: () => [sql.stats(), ormPoolStats(orm)],
    async close() {
      await Promise.allSettled([orm.close(true), sql.close()]);
    },
  };
}

async function openPglite(dataDir: string | undefined): Promise<Database> {
  let lock: DataDirLock | undefined;
  let pglite: PGlite;
  if (dataDir) {
    lock = DataDirLock.acquire(dataDir); // creates the directory (and its parents)
    const pgdata = path.join(dataDir, 'pgdata');
    fs.mkdirSync(path.dirname(pgdata), { recursive: true });
    pglite = new PGlite(pgdata);
  } else {
    pglite = new PGlite();
  }
  try {
    await pglite.waitReady;
    const observer = new QueryObserver();
    const orm = (await MikroORM.init({
      ...baseOptions(observer),
      driver: PGliteDriver,
      dbName: 'postgres',
      // PGlite is a single connection: never a larger pool (transaction isolation breaks).
      pool: { min: 1, max: 1, acquireTimeoutMillis: 60_000 },
      driverOptions: { connection: { pglite: () => pglite } },
    } as Options)) as unknown as Orm;
    const knexClient = orm.em.getConnection().getKnex().client as unknown as ConnectionPool;
    const sql = new PgliteSql(knexClient, observer);
    return {
      orm,
      sql,
      observer,
      drain: (timeoutMs) => waitUntilIdle(() => ormBusy(orm), timeoutMs),
      kind: 'pglite',
      pools: () => [ormPoolStats(orm)],
      async close() {
        try {
          await orm.close(true);
          await pglite.close();
        } finally {
          lock?.release();
        }
      },
    };
  } catch (err) {
    await pglite.close().catch(() => {});
    lock?.release();
    throw err;
  }
}

/** One transaction: ORM work through `em`, native statements through `sql`, on the same connection. */
export interface Tx {
  em: EntityManager;
  sql: Sql;
}

/**
 * Runs `fn` in one ORM transaction and hands it a `Sql` bound to that transaction's connection,
 * so ORM flushes and native statements commit or roll back together. `fn` throwing rolls back
 * everything; the ORM flushes `tx.em` before COMMIT. Entities already loaded in `em` may be
 * changed inside (the transaction's fork starts with them); MikroORM merges them back on commit.
 */
export async function runInTransaction<T>(
  db: Database,
  em: EntityManager,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  try {
    return await inOneTransaction(db, em, fn);
  } catch (err) {
    // The rollback undid the rows, not the entities changed in memory: forget them, so that a
    // later flush of this request cannot write half of the change after all.
    em.clear();
    throw err;
  }
}

function inOneTransaction<T>(db: Database, em: EntityManager, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return em.transactional(async (txEm) => {
    const knexTx = txEm.getTransactionContext<Knex.Transaction>();
    if (!knexTx) throw new Error('runInTransaction: the EntityManager opened no transaction');
    // A knex transaction's client hands out the one connection the transaction runs on.
    const connection: unknown = await knexTx.client.acquireConnection();
    const sql =
      db.kind === 'pglite'
        ? new PgliteConnectionSql(connection as PGlite, db.observer)
        : new PgClientSql(connection as pg.PoolClient, db.observer);
    return fn({ em: txEm, sql });
  });
}

/** Applies pending migrations; returns the names applied. Safe to run concurrently and repeatedly. */
export async function migrate(db: Database): Promise<string[]> {
  const migrator = db.orm.getMigrator();
  // Instances starting together on one PostgreSQL: an advisory lock lets one migrate at a time.
  if (db.kind === 'postgresql') {
    const conn = db.orm.em.getConnection();
    const knex = conn.getKnex();
    return knex.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_ID]);
      const applied = await migrator.up();
      return applied.map((m) => m.name);
    });
  }
  const applied = await migrator.up();
  return applied.map((m) => m.name);
}

const MIGRATION_LOCK_ID = 7_245_310_001;

/** The ORM's knex (tarn) pool, once it exists. */
interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

function ormPool(orm: Orm): TarnPool | undefined {
  return (orm.em.getConnection().getKnex().client as unknown as { pool?: TarnPool }).pool;
}

/** Connections the ORM's knex pool has handed out. */
function ormBusy(orm: Orm): number {
  return ormPool(orm)?.numUsed() ?? 0;
}

function ormPoolStats(orm: Orm): PoolStats {
  const pool = ormPool(orm);
  const inUse = pool?.numUsed() ?? 0;
  return {
    pool: 'orm',
    max: pool?.max ?? 0,
    total: inUse + (pool?.numFree() ?? 0),
    inUse,
    waiting: pool?.numPendingAcquires() ?? 0,
  };
}

/** Idle means no query running at three checks in a row: a handler between two queries is not missed. */
async function waitUntilIdle(busy: () => number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let idleChecks = 0;
  while (idleChecks < 3 && Date.now() < deadline) {
    idleChecks = busy() > 0 ? 0 : idleChecks + 1;
    await new Promise((r) => setTimeout(r, 20));
  }
}
