import type { ParseArgsConfig } from 'node:util';
import type { Ctx } from '../services/context.js';

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
  run(ctx: Ctx, values: Values, out: (line: string) => void): Promise<void>;
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
