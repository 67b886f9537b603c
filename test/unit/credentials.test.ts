import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digest, matchesDigest, newCredential } from '../../src/services/secrets.js';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

describe('credentials and their stored digests', () => {
  it('a credential carries its issue second and 256 random bits; its digest is that second and the SHA-256 of the whole value', () => {
    const before = Math.floor(Date.now() / 1000);
    const token = newCredential('accessToken');
    const after = Math.floor(Date.now() / 1000);
    expect(token).toMatch(/^lk_at_[\w-]{48}$/);
    const issued = Buffer.from(token.slice(6), 'base64url').readUInt32BE(0);
    expect(issued).toBeGreaterThanOrEqual(before);
    expect(issued).toBeLessThanOrEqual(after);

    const stored = digest(token);
    expect(stored.length).toBe(36);
    expect(stored.readUInt32BE(0)).toBe(issued);
    expect(stored.subarray(4).equals(sha256(token))).toBe(true);
    // The random part: no two credentials share it.
    const bodies = new Set(Array.from({ length: 1000 }, () => newCredential('refreshToken').slice(12)));
    expect(bodies.size).toBe(1000);
  });

  it('digests of later credentials sort after earlier ones, so the unique index grows at its end', () => {
    const early = Buffer.alloc(36);
    early.writeUInt32BE(1_700_000_000);
    const older = `lk_rt_${early.toString('base64url')}`;
    const newer = newCredential('refreshToken');
    expect(Buffer.compare(digest(older), digest(newer))).toBe(-1);
  });

  it('any other value (a JWT, an older 32-byte credential, junk) is keyed by its SHA-256 alone', () => {
    for (const value of [
      'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      `lk_at_${Buffer.alloc(32, 7).toString('base64url')}`,
      `lk_at_${Buffer.alloc(36, 7).toString('base64url')}x`,
      '',
      'lk_at_',
    ])
      expect(digest(value).equals(sha256(value))).toBe(true);
  });

  it('matchesDigest accepts exactly the value the digest was made from', () => {
    const secret = newCredential('clientSecret');
    const stored = digest(secret);
    expect(matchesDigest(secret, stored)).toBe(true);
    const flipped = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
    expect(matchesDigest(flipped, stored)).toBe(false);
    expect(matchesDigest(secret, stored.subarray(4))).toBe(false);
    expect(matchesDigest(secret, null)).toBe(false);
    const legacy = `lk_cs_${Buffer.alloc(32, 1).toString('base64url')}`;
    expect(matchesDigest(legacy, sha256(legacy))).toBe(true);
  });
});
