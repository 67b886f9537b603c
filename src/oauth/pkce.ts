import { createHash } from 'node:crypto';
import type { Config } from '../config/index.js';
import { constantTimeEqual } from '../services/secrets.js';
import { invalidRequest } from './errors.js';

export type ChallengeMethod = 'S256' | 'plain';

/** RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~]. */
export const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * Validates the code_challenge parameters of an authorization request (RFC 7636 §4.3). A
 * missing method means `plain` (§4.3), which is refused unless PKCE_ALLOW_PLAIN is set.
 */
export function checkChallenge(
  challenge: string | undefined,
  method: string | undefined,
  config: Config,
): { challenge: string; method: ChallengeMethod } | null {
  if (challenge === undefined) {
    if (method !== undefined)
      throw invalidRequest('code_challenge_method was sent without a code_challenge.');
    return null;
  }
  const m = method ?? 'plain';
  if (m !== 'S256' && m !== 'plain') throw invalidRequest('code_challenge_method must be S256.');
  if (m === 'plain' && !config.pkceAllowPlain) {
    throw invalidRequest('code_challenge_method "plain" is not allowed; use S256.');
  }
  if (!VERIFIER.test(challenge))
    throw invalidRequest('code_challenge must be 43-128 characters (RFC 7636 §4.2).');
  return { challenge, method: m };
}

/** RFC 7636 §4.6: does the verifier match the stored challenge? */
export function verifierMatches(verifier: string, challenge: string, method: ChallengeMethod): boolean {
  if (!VERIFIER.test(verifier)) return false;
  const computed = method === 'S256' ? s256(verifier) : verifier;
  return constantTimeEqual(computed, challenge);
}

/** BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
