import { randomBytes } from 'node:crypto';

/**
 * Row ids are UUIDv7 (RFC 9562): unguessable enough to expose, unique across instances, and
 * time-ordered so that primary-key inserts append to the index instead of scattering.
 */
export function newId(): string {
  const bytes = randomBytes(16);
  const ms = Date.now();
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** timestamptz column options shared by every entity. */
export const timestamptz = { type: 'Date', columnType: 'timestamptz' } as const;
