import type { Sql } from '../db/sql.js';
import type { Logger } from '../log.js';
import { type AtRestKind, openAtRest, sealAtRest } from './key-crypto.js';

interface Table {
  kind: AtRestKind;
  table: 'signing_keys' | 'server_secrets' | 'user_factors';
  id: 'id' | 'name';
  value: 'private_key' | 'value' | 'secret';
}

const TABLES: readonly Table[] = [
  { kind: 'signing key', table: 'signing_keys', id: 'id', value: 'private_key' },
  { kind: 'server secret', table: 'server_secrets', id: 'name', value: 'value' },
  // WebAuthn rows have no secret (a public key only).
  { kind: 'TOTP secret', table: 'user_factors', id: 'id', value: 'secret' },
];

export interface EncryptedCounts {
  signingKeys: number;
  serverSecrets: number;
  totpSecrets: number;
}

/**
 * Run at start when KEY_ENCRYPTION_KEY is set: every row still in plaintext (written before the
 * key was set) is encrypted in place, in one transaction. First every row already encrypted must
 * open with this key — otherwise the rows would end up under two keys — so a wrong key stops the
 * start with a KeyEncryptionError. Each UPDATE is conditional on the row still being plaintext:
 * of two instances starting together, one encrypts it and the other touches nothing.
 */
export async function encryptAtRest(sql: Sql, kek: string, log: Logger): Promise<EncryptedCounts> {
  const counts = await sql.transaction(async (tx) => {
    const done: number[] = [];
    for (const t of TABLES) {
      const rows = await tx.query<{ key: string; value: string; encrypted: boolean }>(
        `select ${t.id} as key, ${t.value} as value, encrypted from ${t.table} where ${t.value} is not null`,
      );
      for (const row of rows) if (row.encrypted) openAtRest(row.value, kek, t.kind);
      let n = 0;
      for (const row of rows) {
        if (row.encrypted) continue;
        n += await tx.execute(
          `update ${t.table} set ${t.value} = $2, encrypted = true where ${t.id} = $1 and not encrypted`,
          [row.key, sealAtRest(row.value, kek, t.kind)],
        );
      }
      done.push(n);
    }
    return { signingKeys: done[0], serverSecrets: done[1], totpSecrets: done[2] };
  });
  if (counts.signingKeys + counts.serverSecrets + counts.totpSecrets > 0) {
    log.info(
      counts,
      counts.totpSecrets > 0
        ? `encrypted ${plural(counts.signingKeys, 'signing key')}, ${plural(counts.serverSecrets, 'server secret')} and ${plural(counts.totpSecrets, 'TOTP secret')} at rest`
        : `encrypted ${plural(counts.signingKeys, 'signing key')} and ${plural(counts.serverSecrets, 'server secret')} at rest`,
    );
  }
  return counts;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
