import fs from 'node:fs';
import path from 'node:path';

export const LEDGER_DIR = path.resolve('test-output/secrets');

/**
 * Every credential a test sees (passwords it types, client secrets, codes, tokens) is written
 * here, so that the last test of the run can check that none of them reached a log.
 */
export function remember(kind: string, value: unknown): void {
  if (typeof value !== 'string' || value.length < 8) return;
  fs.mkdirSync(LEDGER_DIR, { recursive: true });
  fs.appendFileSync(path.join(LEDGER_DIR, `${process.pid}.tsv`), `${kind}\t${value}\n`);
}

const SECRET_FIELDS = [
  'access_token',
  'refresh_token',
  'id_token',
  'device_code',
  'client_secret',
  'clientSecret',
  'code',
];

/** Remembers the credentials found in a JSON body (token responses, GraphQL payloads). */
export function rememberFrom(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_FIELDS.includes(k)) remember(k, v);
    else if (typeof v === 'object') rememberFrom(v);
  }
}
