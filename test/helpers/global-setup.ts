import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import pg from 'pg';
import { loadConfig } from '../../src/config/index.js';
import { migrate, openDatabase } from '../../src/db/orm.js';
import { adminQuery, PG_ADMIN_URL, templateDb, urlFor } from './pg.js';

/** Once per run: a run id, and a migrated template database that each test file copies. */
export default async function setup() {
  // Vitest calls a global setup once per project: the first call prepares the run for all of
  // them and its teardown removes everything the run created (a second template would be left
  // behind, since the run id it was named by is replaced).
  if (process.env.LATCHKEY_TEST_RUN) return;
  const run = randomBytes(4).toString('hex');
  process.env.LATCHKEY_TEST_RUN = run;
  fs.mkdirSync('test-output', { recursive: true });
  const template = templateDb();
  await adminQuery(`create database ${template}`);
  const db = await openDatabase(loadConfig({ DATABASE_URL: urlFor(template) }));
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return async () => {
    // This run's databases, including those of test files that crashed before cleaning up.
    const client = new pg.Client({ connectionString: PG_ADMIN_URL });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>(
      'select datname from pg_database where datname like $1',
      [`latchkey_t${run}_%`],
    );
    await client.end();
    for (const { datname } of rows) await adminQuery(`drop database if exists ${datname} with (force)`);
  };
}
