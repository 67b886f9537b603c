import { randomFillSync } from 'node:crypto';

/**
 * Row ids are UUIDv7 (RFC 9562): unguessable enough to expose, unique across instances, and
 * time-ordered so that primary-key inserts append to the index instead of scattering.
 */
/**
 * Random bytes from the CSPRNG, drawn from a pooled buffer (one refill per 8 KiB instead of a
 * call per id or token: issuance is a hot path). Every byte is used once.
 */
const pool = Buffer.allocUnsafe(8192);
let offset = pool.length;

export function randomBytesPooled(n: number): Buffer {
  if (offset + n > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + n));
  offset += n;
  return out;
}

export function newId(): string {
  const bytes = randomBytesPooled(16);
  const ms = Date.now();
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Is this a syntactically valid UUID (so it can be compared with a uuid column)? */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** timestamptz column options shared by every entity. */
export const timestamptz = { type: 'Date', columnType: 'timestamptz' } as const;
