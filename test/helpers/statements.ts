import { LOAD_CLIENT } from '../../src/db/tables/applications.js';
import type { TestServer } from './server.js';

/** The client cache's load (src/services/client-cache.ts): any request may run it after an invalidation. */
export function isClientLoad(statement: string): boolean {
  return statement === LOAD_CLIENT;
}

/**
 * Runs `fn` while watching every SQL statement the server runs; returns its result and the
 * statements, client-cache loads left out (they are the cache's, not the operation's).
 */
export async function withStatements<T>(
  server: TestServer,
  fn: () => Promise<T>,
): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const stop = server.runtime.db.observer.watch((s) => statements.push(s));
  try {
    return { result: await fn(), statements: statements.filter((s) => !isClientLoad(s)) };
  } finally {
    stop();
  }
}
