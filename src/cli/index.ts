import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/index.js';
import { DataDirLockedError } from '../db/lock.js';
import { openDatabase } from '../db/orm.js';
import { createLogger } from '../log.js';
import { Ctx } from '../services/context.js';
import { DomainError } from '../services/errors.js';
import { clearTokensCommand } from './clear-tokens.js';
import { type Command, UsageError } from './command.js';
import { createApplicationCommand } from './create-application.js';
import { createUserCommand } from './create-user.js';
import { migrateCommand } from './migrate.js';

/** `npm run cli -- <command> [options]`. Errors print one line and exit non-zero. */
export const commands: Command[] = [
  migrateCommand,
  createUserCommand,
  createApplicationCommand,
  clearTokensCommand,
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: npm run cli -- <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `npm run cli -- <command> --help` for a command’s options.',
    'Database: DATABASE_URL (PostgreSQL) or the PGlite directory DATA_DIR (default ./data).',
  ].join('\n');
}

export async function runCli(
  argv: string[],
  out = (l: string) => process.stdout.write(`${l}\n`),
): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`error: unknown command "${name}"\n${help()}\n`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (err) {
    process.stderr.write(
      `error: ${(err as Error).message.split('\n')[0]}\nusage: npm run cli -- ${command.usage}\n`,
    );
    return 2;
  }
  if (values.help) {
    out(`usage: npm run cli -- ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  let db: Awaited<ReturnType<typeof openDatabase>> | undefined;
  try {
    const config = loadConfig();
    const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr as never);
    db = await openDatabase(config);
    const ctx = new Ctx({ config, db, log });
    ctx.actor = { kind: 'cli' };
    await command.run(ctx, values, out);
    return 0;
  } catch (err) {
    const known =
      err instanceof UsageError ||
      err instanceof DomainError ||
      err instanceof ConfigError ||
      err instanceof DataDirLockedError;
    const message = known
      ? (err as Error).message
      : `${(err as Error).name}: ${(err as Error).message.split('\n')[0]}`;
    process.stderr.write(`error: ${message}\n`);
    return err instanceof UsageError ? 2 : 1;
  } finally {
    await db?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2));
}
