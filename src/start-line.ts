import path from 'node:path';
import type { Config } from './config/index.js';
import type { RunningServer } from './server.js';

/** Where the data lives, for people: never the database user or password. */
export function describeDatabase(config: Config): string {
  if (!config.database.url) {
    const rel = path.relative(process.cwd(), config.database.dataDir);
    const shown =
      rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? `./${rel}` : config.database.dataDir;
    return `PGlite in ${shown}`;
  }
  try {
    const url = new URL(config.database.url);
    return `PostgreSQL at ${url.host}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

/**
 * The line `npm start` prints at a terminal: where to open it, where the data is, and — on a
 * database without users — how to create the first one.
 */
export async function startLine(server: RunningServer, config: Config): Promise<string> {
  const issuer = new URL(config.issuer);
  const issuerPort = issuer.port || (issuer.protocol === 'https:' ? '443' : '80');
  const boundPort = new URL(server.url).port;
  const details = [`database: ${describeDatabase(config)}`];
  let where = config.issuer;
  if (issuerPort !== boundPort) {
    where = server.url;
    details.unshift(`public URL ${config.issuer}`);
  }
  let line = `Latchkey listening on ${where} (${details.join('; ')}).`;
  const users = await server.runtime.db.sql.query('select 1 from users limit 1').catch(() => [{}]);
  if (users.length === 0) {
    line += ' Create a user with: npm run cli -- create-user --username admin --admin';
  }
  return line;
}
