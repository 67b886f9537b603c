import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Request } from 'express';

/**
 * Small state a page hands to the browser and gets back (a cookie, a hidden field): JSON sealed
 * with AES-256-GCM under a key derived from the server's signing key per purpose, so every
 * instance can open it, nothing is stored, the browser can neither read nor change it, and a
 * value sealed for one purpose never opens as another. Every value carries its expiry.
 */
export type SealPurpose = 'secret-once-v1' | 'pending-login-v1' | 'totp-enrollment-v1';

function key(req: Request, purpose: SealPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', req.ctx.runtime.keys.signing, 'latchkey', purpose, 32));
}

export function seal(req: Request, purpose: SealPurpose, value: object, lifetimeSeconds: number): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key(req, purpose), iv);
  const plain = JSON.stringify({ v: value, exp: Date.now() + lifetimeSeconds * 1000 });
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
}

/** The sealed value, or undefined when it was changed, sealed for another purpose, or expired. */
export function unseal<T>(req: Request, purpose: SealPurpose, sealed: string | undefined): T | undefined {
  if (!sealed || sealed.length > 4000) return undefined;
  const [iv, tag, data] = sealed.split('.');
  if (!iv || !tag || !data) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key(req, purpose), Buffer.from(iv, 'base64url'), {
      authTagLength: 16,
    });
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
    const parsed = JSON.parse(plain.toString('utf8')) as { v: T; exp: number };
    return typeof parsed.exp === 'number' && parsed.exp > Date.now() ? parsed.v : undefined;
  } catch {
    return undefined;
  }
}
