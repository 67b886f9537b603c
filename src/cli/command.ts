import type { Writable } from 'node:stream';
import type { ParseArgsConfig } from 'node:util';
import type { Ctx } from '../services/context.js';
import type { PasswordInput } from './prompt.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

/** One CLI command: its options, a line of help, and what it does. Output goes to `out`. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  /** Commands that never touch the database (none yet) set false. */
  needsDatabase?: boolean;
  /**
   * Runs in the CLI process before anything else (before the command may be handed to a running
   * server): reads what must come from the person, and returns the argv to execute.
   */
  prepare?(values: Values, argv: string[], io: Terminal): Promise<string[]>;
  run(ctx: Ctx, values: Values, out: (line: string) => void): Promise<void>;
}

/** Where a command may ask the person at the keyboard. */
export interface Terminal {
  stdin: PasswordInput;
  /** Prompts go here, so that stdout stays the command's output. */
  prompt: Writable;
}

/** A mistake by whoever typed the command: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function requireString(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v.length === 0) throw new UsageError(`--${name} is required`);
  return v;
}

export function list(value: string | boolean | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
