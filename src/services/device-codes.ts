import { randomInt } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import {
  insertDeviceCode,
  type PolledDevice,
  pollDeviceCode as pollByDigest,
} from '../db/tables/device-codes.js';
import { isUniqueViolation } from './errors.js';
import { digest, newCredential } from './secrets.js';

export {
  consumeDeviceCodeAndIssue,
  decideDeviceCode,
  findPendingByUserCode,
  type PendingDevice,
  type PolledDevice,
} from '../db/tables/device-codes.js';

/** RFC 8628 §6.1: no vowels (no words), no look-alikes; 20^8 ≈ 2.6·10^10 codes. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';

export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** What a person typed → the stored form: case, dashes and spaces do not matter. */
export function normaliseUserCode(input: string): string | null {
  const code = input.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== 8) return null;
  for (const c of code) if (!USER_CODE_ALPHABET.includes(c)) return null;
  return code;
}

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < 8; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

export interface IssuedDeviceCode {
  deviceCode: string;
  userCode: string;
}

/** Stores a new device authorization; retries on the rare user-code collision. */
export async function createDeviceCode(
  sql: Sql,
  p: { applicationId: string; scopes: string[]; resources: string[]; ttlSeconds: number; interval: number },
): Promise<IssuedDeviceCode> {
  for (let attempt = 0; ; attempt++) {
    const deviceCode = newCredential('deviceCode');
    const userCode = newUserCode();
    try {
      await insertDeviceCode(sql, { ...p, digest: digest(deviceCode), userCode });
      return { deviceCode, userCode };
    } catch (err) {
      if (!isUniqueViolation(err) || attempt >= 5) throw err;
    }
  }
}

/** Records a poll and says what to answer (see the table module); unknown for an oversized value. */
export async function pollDeviceCode(
  sql: Sql,
  deviceCode: string,
  applicationId: string,
): Promise<PolledDevice | null> {
  if (deviceCode.length > 200) return null;
  return pollByDigest(sql, digest(deviceCode), applicationId);
}
