import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEDGER_DIR } from '../helpers/ledger.js';

const LOG_DIR = path.resolve('test-output/logs');

/**
 * Runs after every other test file (its own project, ordered last): every password, client
 * secret, code and token the tests used was written to the ledger; none may appear in any log
 * the servers wrote during the run.
 */
describe('secrets stay secret', () => {
  it('no password, client secret, code, access, refresh or id token used by the tests appears in the server logs', () => {
    const secrets = new Map<string, string>();
    for (const file of fs.existsSync(LEDGER_DIR) ? fs.readdirSync(LEDGER_DIR) : []) {
      for (const line of fs.readFileSync(path.join(LEDGER_DIR, file), 'utf8').split('\n')) {
        const tab = line.indexOf('\t');
        if (tab > 0) secrets.set(line.slice(tab + 1), line.slice(0, tab));
      }
    }
    const logs = fs.existsSync(LOG_DIR) ? fs.readdirSync(LOG_DIR) : [];
    expect(secrets.size, 'the ledger holds the credentials the tests used').toBeGreaterThan(0);
    expect(logs.length, 'servers wrote logs during the run').toBeGreaterThan(0);
    const leaked: string[] = [];
    let bytes = 0;
    for (const file of logs) {
      const text = fs.readFileSync(path.join(LOG_DIR, file), 'utf8');
      bytes += text.length;
      // Every run of credential-like characters in the log, looked up in the ledger.
      for (const word of text.split(/[^A-Za-z0-9_.~+/=-]+/)) {
        const kind = word.length >= 8 ? secrets.get(word) : undefined;
        if (kind) leaked.push(`${kind} in ${file}`);
      }
      for (const [value, kind] of secrets) {
        if (kind === 'password' && text.includes(value)) leaked.push(`password in ${file}`);
      }
    }
    expect(bytes).toBeGreaterThan(0);
    expect(leaked).toEqual([]);
  });
});
