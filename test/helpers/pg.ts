import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server the tests use (CI starts it): trust auth on 127.0.0.1:5432. */
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgresql://root@127.0.0.1:5432/postgres';

/**
 * Every test run names its databases after a run id (set by the global setup), so that runs
 * side by side never drop each other's databases.
 */
export function runId(): string {
  const id = process.env.LATCHKEY_TEST_RUN;
  if (!id) throw new Error('LATCHKEY_TEST_RUN is not set: run the tests through vitest (global setup)');
  return id;
}

export const templateDb = () => `latchkey_t${runId()}_template`;

export function urlFor(database: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.href;
}

export async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A fresh database for one test file. `migrated` copies the template the global setup migrated
 * once (fast); otherwise the database is empty.
 */
export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `latchkey_t${runId()}_${randomBytes(5).toString('hex')}`;
  const template = opts.migrated === false ? 'template0' : templateDb();
  await adminQuery(`create database ${name} template ${template}`);
  return {
    name,
    url: urlFor(name),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}
