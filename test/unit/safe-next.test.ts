import { describe, expect, it } from 'vitest';
import { safeNext } from '../../src/web/safe-next.js';

describe('safeNext (where to go after login)', () => {
  it('OWASP Unvalidated Redirects: keeps same-origin paths with their query and fragment', () => {
    expect(safeNext('/applications/?page=2#top')).toBe('/applications/?page=2#top');
    expect(safeNext('/a/../b')).toBe('/b');
  });

  it('OWASP Unvalidated Redirects: refuses what names another origin as sent', () => {
    for (const v of [
      '//evil.example/x',
      '/\\evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      'evil',
    ])
      expect(safeNext(v), v).toBe('/');
  });

  it('Review #3, OWASP Unvalidated Redirects: judges the normalised URL, so dot segments cannot produce a protocol-relative target', () => {
    for (const v of [
      '/..//evil.example/x',
      '/.//evil.example/x',
      '/a/../..//evil.example/x',
      '/%2e%2e//evil.example/x',
      '/%2E//evil.example',
      '/./%2e/..//evil.example',
    ])
      expect(safeNext(v), v).toBe('/');
  });

  it('OWASP Unvalidated Redirects: refuses control characters, over-long values and non-strings', () => {
    expect(safeNext('/a\nb')).toBe('/');
    expect(safeNext(`/${'a'.repeat(2000)}`)).toBe('/');
    expect(safeNext(['/a'])).toBe('/');
    expect(safeNext(undefined)).toBe('/');
  });
});
