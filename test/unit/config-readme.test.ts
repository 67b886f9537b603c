import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '../../src/config/index.js';
import { DEFAULT_SCOPES } from '../../src/config/scopes.js';

// The README's configuration table is the operator's reference; the schema is what the server
// reads. This keeps them from drifting: the table is checked here rather than generated, because
// its "meaning" column is prose (ranges, RFC clauses, advice) that does not belong in the schema.

const README = readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');

interface Row {
  variable: string;
  defaultCell: string;
}

function configurationRows(): Row[] {
  const section = README.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows: Row[] = [];
  for (const line of section.split('\n')) {
    const match = /^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \| .* \|$/.exec(line);
    if (match) rows.push({ variable: match[1], defaultCell: match[2] });
  }
  return rows;
}

/** Defaults computed from other values in loadConfig: the README states the rule, checked below. */
const DERIVED: Record<string, string> = {
  PASSWORD_HASH_CONCURRENCY: 'min(CPUs, 3)',
  PASSWORD_HASH_QUEUE: '4 × `PASSWORD_HASH_CONCURRENCY`',
  ACCESS_TOKEN_AUDIENCE: '`ISSUER`',
  SCOPES: 'see below',
  SHUTDOWN_DRAIN_SECONDS: '`5` in production, else `0`',
};

const schemaVariables = Object.keys(configSchema.shape);
const defaults: Record<string, unknown> = configSchema.parse({});

function expectedCell(variable: string): string {
  if (variable in DERIVED) return DERIVED[variable];
  const value = defaults[variable];
  return value === undefined ? 'unset' : `\`${String(value)}\``;
}

describe('README configuration table against the config schema', () => {
  const rows = configurationRows();

  it('README Configuration: every environment variable the schema reads has exactly one row', () => {
    const documented = rows.map((r) => r.variable);
    expect(schemaVariables.filter((v) => !documented.includes(v))).toEqual([]);
    expect(documented.filter((v, i) => documented.indexOf(v) !== i)).toEqual([]);
  });

  it('README Configuration: every row names a variable the schema reads (no stale rows)', () => {
    expect(rows.map((r) => r.variable).filter((v) => !schemaVariables.includes(v))).toEqual([]);
  });

  it('README Configuration: each row states the default the schema gives an empty environment', () => {
    const wrong = rows
      .filter((r) => r.defaultCell !== expectedCell(r.variable))
      .map((r) => `${r.variable}: README says ${r.defaultCell}, schema says ${expectedCell(r.variable)}`);
    expect(wrong).toEqual([]);
  });

  it('README Configuration: the derived defaults are what loadConfig computes', () => {
    const config = loadConfig({});
    expect(config.passwordHashing.concurrency).toBe(Math.max(1, Math.min(os.availableParallelism(), 3)));
    expect(config.passwordHashing.queue).toBe(4 * config.passwordHashing.concurrency);
    expect(loadConfig({ PASSWORD_HASH_CONCURRENCY: '2' }).passwordHashing.queue).toBe(8);
    expect(config.accessTokenAudience).toBe(config.issuer);
    expect(config.shutdownDrainSeconds).toBe(0);
    expect(loadConfig({ NODE_ENV: 'production' }).shutdownDrainSeconds).toBe(5);
    expect(loadConfig({ NODE_ENV: 'production', SHUTDOWN_DRAIN_SECONDS: '0' }).shutdownDrainSeconds).toBe(0);
    expect(loadConfig({ ISSUER: 'https://id.example' }).accessTokenAudience).toBe('https://id.example');
    const listed = /^Default scopes: ([\s\S]*?)\n\n/m.exec(README)?.[1] ?? '';
    expect([...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1])).toEqual(Object.keys(DEFAULT_SCOPES));
    expect(Object.keys(config.scopes)).toEqual(Object.keys(DEFAULT_SCOPES));
  });
});
