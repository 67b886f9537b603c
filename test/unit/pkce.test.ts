import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { checkChallenge, s256, verifierMatches } from '../../src/oauth/pkce.js';
import { oauthErrorOf } from './fixtures.js';

const strict = loadConfig({});
const lenient = loadConfig({ PKCE_ALLOW_PLAIN: 'true' });
const VERIFIER_43 = 'a'.repeat(43);

describe('PKCE (RFC 7636)', () => {
  it('RFC 7636 Appendix B: S256 of the example verifier is the example challenge', () => {
    expect(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('RFC 7636 §4.3: an S256 challenge of 43-128 unreserved characters is accepted', () => {
    const challenge = s256(VERIFIER_43);
    expect(checkChallenge(challenge, 'S256', strict)).toEqual({ challenge, method: 'S256' });
    expect(checkChallenge('A-._~'.repeat(25).slice(0, 128), 'S256', strict)?.method).toBe('S256');
  });

  it('RFC 7636 §4.3: no challenge and no method is no PKCE; a method without a challenge is invalid_request', () => {
    expect(checkChallenge(undefined, undefined, strict)).toBeNull();
    expect(oauthErrorOf(() => checkChallenge(undefined, 'S256', strict)).error).toBe('invalid_request');
  });

  it('RFC 7636 §4.3 / RFC 9700 §2.1.1: a missing method means plain, refused unless PKCE_ALLOW_PLAIN', () => {
    expect(oauthErrorOf(() => checkChallenge(VERIFIER_43, undefined, strict)).error).toBe('invalid_request');
    expect(oauthErrorOf(() => checkChallenge(VERIFIER_43, 'plain', strict)).error).toBe('invalid_request');
    expect(checkChallenge(VERIFIER_43, undefined, lenient)).toEqual({
      challenge: VERIFIER_43,
      method: 'plain',
    });
    expect(checkChallenge(VERIFIER_43, 'plain', lenient)?.method).toBe('plain');
  });

  it('RFC 7636 §4.2 / §4.3: an unknown method, or a challenge of the wrong length or alphabet, is invalid_request', () => {
    for (const [challenge, method] of [
      [VERIFIER_43, 's256'],
      [VERIFIER_43, 'SHA256'],
      ['a'.repeat(42), 'S256'],
      ['a'.repeat(129), 'S256'],
      [`${'a'.repeat(42)}+`, 'S256'],
      [`${'a'.repeat(42)}=`, 'S256'],
      [`${'a'.repeat(42)} `, 'S256'],
    ] as const) {
      expect(
        oauthErrorOf(() => checkChallenge(challenge, method, strict)).error,
        `${challenge} ${method}`,
      ).toBe('invalid_request');
    }
  });

  it('RFC 7636 §4.6: the verifier matches its S256 challenge, or equals a plain one; nothing else matches', () => {
    const verifier = 'x'.repeat(64);
    const challenge = s256(verifier);
    expect(verifierMatches(verifier, challenge, 'S256')).toBe(true);
    expect(verifierMatches('y'.repeat(64), challenge, 'S256')).toBe(false);
    expect(verifierMatches(verifier, verifier, 'plain')).toBe(true);
    expect(verifierMatches(verifier, challenge, 'plain')).toBe(false);
    expect(verifierMatches(challenge, challenge, 'S256')).toBe(false);
  });

  it('RFC 7636 §4.1: a malformed verifier never matches, even one whose hash or text equals the challenge', () => {
    for (const verifier of ['a'.repeat(42), 'a'.repeat(129), `${'a'.repeat(42)}+`, `${'a'.repeat(42)}é`]) {
      const hashed = createHash('sha256').update(verifier, 'ascii').digest('base64url');
      expect(verifierMatches(verifier, hashed, 'S256'), verifier).toBe(false);
      expect(verifierMatches(verifier, verifier, 'plain'), verifier).toBe(false);
    }
  });
});
