import fs from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { migrate, openDatabase } from '../../src/db/orm.js';
import { adminQuery, TEMPLATE_DB, urlFor } from './pg.js';

/** Once per run: a migrated template database that each test file copies. */
export default async function setup() {
  fs.mkdirSync('test-output', { recursive: true });
  await adminQuery(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await adminQuery(`create database ${TEMPLATE_DB}`);
  const db = await openDatabase(loadConfig({ DATABASE_URL: urlFor(TEMPLATE_DB) }));
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return async () => {
    await adminQuery(`drop database if exists ${TEMPLATE_DB} with (force)`);
    // Databases of test files that crashed before cleaning up.
    const pg = await import('pg');
    const client = new pg.default.Client({ connectionString: urlFor('postgres') });
    await client.connect();
    const { rows } = await client.query<{ datname: string }>(
      "select datname from pg_database where datname like 'latchkey_test_%'",
    );
    await client.end();
    for (const { datname } of rows) await adminQuery(`drop database if exists ${datname} with (force)`);
  };
}
