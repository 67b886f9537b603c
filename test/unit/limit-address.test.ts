import { describe, expect, it } from 'vitest';
import { limitAddress } from '../../src/services/limits.js';

describe('the address a brute-force counter is kept for', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0000:0000:ffff:1:2:3', '2001:db8:0:0::/64'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::1', '0:0:0:0::/64'],
    ['not an address:', 'unknown'],
    [undefined, 'unknown'],
  ])('OWASP ASVS 2.2.1: %s is counted as %s (IPv6 by its /64, IPv4-mapped as IPv4)', (ip, key) => {
    expect(limitAddress(ip)).toBe(key);
  });
});
