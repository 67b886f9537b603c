import { loadConfig } from '../../src/config/index.js';
import { type Database, openDatabase } from '../../src/db/orm.js';
import { createLogger } from '../../src/log.js';
import { type BaseRuntime, Ctx } from '../../src/services/context.js';
import { createTestDatabase, type TestDatabase } from './pg.js';

/** A runtime on a fresh migrated PostgreSQL database, without HTTP, for service tests. */
export async function serviceRuntime(env: Record<string, string> = {}): Promise<{
  runtime: BaseRuntime;
  ctx(): Ctx;
  close(): Promise<void>;
}> {
  const testDb: TestDatabase = await createTestDatabase();
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: testDb.url, ...env });
  const db: Database = await openDatabase(config);
  const runtime: BaseRuntime = { config, db, log: createLogger('silent') };
  return {
    runtime,
    ctx() {
      const ctx = new Ctx(runtime);
      ctx.actor = { kind: 'cli' };
      return ctx;
    },
    async close() {
      await db.close();
      await testDb.drop();
    },
  };
}
