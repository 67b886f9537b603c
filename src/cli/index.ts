import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig } from '../config/index.js';
import { DataDirLockedError } from '../db/lock.js';
import { migrate, openDatabase } from '../db/orm.js';
import { createLogger } from '../log.js';
import { type BaseRuntime, Ctx } from '../services/context.js';
import { DomainError } from '../services/errors.js';
import { KeyEncryptionError } from '../services/key-crypto.js';
import { clearTokensCommand } from './clear-tokens.js';
import { type Command, type Terminal, UsageError, type Values } from './command.js';
import { createApplicationCommand } from './create-application.js';
import { createInitialAccessTokenCommand } from './create-initial-access-token.js';
import { createResourceCommand } from './create-resource.js';
import { createUserCommand } from './create-user.js';
import { migrateCommand } from './migrate.js';
import { sendToServer } from './remote.js';
import { rotateKeysCommand } from './rotate-keys.js';

/** `npm run cli -- <command> [options]`. Errors print one line and exit non-zero. */
export const commands: Command[] = [
  migrateCommand,
  createUserCommand,
  createApplicationCommand,
  createInitialAccessTokenCommand,
  createResourceCommand,
  clearTokensCommand,
  rotateKeysCommand,
];

type Print = (line: string) => void;

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

type Parsed = { code: number } | { command: Command; values: Values };

function parse(argv: string[], out: Print, err: Print): Parsed {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(help());
    return { code: name ? 0 : 2 };
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    err(`error: unknown command "${name}"`);
    err(help());
    return { code: 2 };
  }
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    const values = parsed.values as Values;
    if (values.help) {
      out(`usage: npm run cli -- ${command.usage}\n\n${command.summary}`);
      return { code: 0 };
    }
    return { command, values };
  } catch (e) {
    err(`error: ${(e as Error).message.split('\n')[0]}`);
    err(`usage: npm run cli -- ${command.usage}`);
    return { code: 2 };
  }
}

/** Runs one command against a runtime: the CLI's own, or the server's when forwarded to it. */
export async function execute(runtime: BaseRuntime, argv: string[], out: Print, err: Print): Promise<number> {
  const parsed = parse(argv, out, err);
  if ('code' in parsed) return parsed.code;
  const ctx = new Ctx(runtime);
  ctx.actor = { kind: 'cli' };
  try {
    await parsed.command.run(ctx, parsed.values, out);
    return 0;
  } catch (e) {
    err(`error: ${messageOf(e)}`);
    return e instanceof UsageError ? 2 : 1;
  }
}

function messageOf(e: unknown): string {
  if (
    e instanceof UsageError ||
    e instanceof DomainError ||
    e instanceof ConfigError ||
    e instanceof DataDirLockedError ||
    e instanceof KeyEncryptionError
  ) {
    return e.message;
  }
  const error = e as Error;
  return `${error.name}: ${String(error.message).split('\n')[0]}`;
}

const processTerminal: Terminal = { stdin: process.stdin, prompt: process.stderr };

export async function runCli(
  givenArgv: string[],
  out: Print,
  err: Print,
  terminal: Terminal = processTerminal,
): Promise<number> {
  const parsed = parse(givenArgv, out, err);
  if ('code' in parsed) return parsed.code;
  let argv = givenArgv;
  if (parsed.command.prepare) {
    try {
      argv = await parsed.command.prepare(parsed.values, givenArgv, terminal);
    } catch (e) {
      err(`error: ${messageOf(e)}`);
      return e instanceof UsageError ? 2 : 1;
    }
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    err(`error: ${messageOf(e)}`);
    return 1;
  }
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase(config);
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      // The server runs on this PGlite directory: let it run the command.
      const code = await sendToServer(config.database.dataDir, argv, out, err);
      if (code !== undefined) return code;
    }
    err(`error: ${messageOf(e)}`);
    return 1;
  }
  try {
    const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr as never);
    if (config.migrateOnStart && parsed.command !== migrateCommand) await migrate(db);
    return await execute({ config, db, log }, argv, out, err);
  } catch (e) {
    err(`error: ${messageOf(e)}`);
    return 1;
  } finally {
    await db.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(
    process.argv.slice(2),
    (line) => process.stdout.write(`${line}\n`),
    (line) => process.stderr.write(`${line}\n`),
  );
}
