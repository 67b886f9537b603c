import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { type Database, migrate, openDatabase } from '../../src/db/orm.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';

const TABLES = [
  'users',
  'applications',
  'grants',
  'authorization_codes',
  'access_tokens',
  'refresh_tokens',
  'signing_keys',
  'sessions',
  'audit_events',
  'rate_limit_counters',
  'server_secrets',
];

async function checkFreshDatabase(db: Database) {
  const first = await migrate(db);
  expect(first.length).toBeGreaterThan(0);
  // Idempotent: a second run applies nothing and fails on nothing.
  expect(await migrate(db)).toEqual([]);
  const rows = await db.sql.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'public'",
  );
  const names = rows.map((r) => r.table_name);
  for (const t of TABLES) expect(names).toContain(t);
  // Entities and migrations cannot drift: the ORM sees nothing left to change.
  const diff = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
  expect(diff.trim()).toBe('');
}

describe('migrations', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('apply to a fresh PGlite, twice, leaving no schema diff against the entities', async () => {
    const db = await openDatabase(loadConfig({}), { inMemory: true });
    cleanups.push(() => db.close());
    await checkFreshDatabase(db);
  });

  it('apply to a fresh PostgreSQL database, twice, leaving no schema diff against the entities', async () => {
    const testDb: TestDatabase = await createTestDatabase({ migrated: false });
    const db = await openDatabase(loadConfig({ DATABASE_URL: testDb.url }));
    cleanups.push(async () => {
      await db.close();
      await testDb.drop();
    });
    await checkFreshDatabase(db);
  });

  it('stores secrets and tokens as digests with unique indexes, and indexes every expires_at', async () => {
    const testDb = await createTestDatabase();
    const db = await openDatabase(loadConfig({ DATABASE_URL: testDb.url }));
    cleanups.push(async () => {
      await db.close();
      await testDb.drop();
    });
    const indexes = await db.sql.query<{ indexdef: string }>(
      "select indexdef from pg_indexes where schemaname = 'public'",
    );
    const defs = indexes.map((i) => i.indexdef);
    for (const [table, column] of [
      ['applications', 'client_secret_digest'],
      ['access_tokens', 'token_digest'],
      ['refresh_tokens', 'token_digest'],
      ['authorization_codes', 'code_digest'],
      ['sessions', 'token_digest'],
    ]) {
      expect(
        defs.some((d) => d.includes('UNIQUE') && d.includes(`public.${table} `) && d.includes(`(${column})`)),
      ).toBe(true);
    }
    for (const table of [
      'access_tokens',
      'refresh_tokens',
      'authorization_codes',
      'sessions',
      'rate_limit_counters',
      'signing_keys',
    ]) {
      expect(defs.some((d) => d.includes(`public.${table} `) && d.includes('(expires_at)'))).toBe(true);
    }
    const types = await db.sql.query<{ table_name: string; column_name: string; data_type: string }>(
      "select table_name, column_name, data_type from information_schema.columns where column_name like '%digest'",
    );
    for (const t of types) expect(t.data_type).toBe('bytea');
  });
});
