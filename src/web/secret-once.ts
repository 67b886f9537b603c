import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { clearCookie, cookieName, readCookie, setCookie } from './cookies.js';

/**
 * A new client secret goes from the POST that made it to the one GET that shows it
 * (POST/redirect/GET), so reloading the page repeats nothing. It travels sealed in a short-lived
 * HttpOnly cookie (AES-256-GCM under a key derived from the server's signing key, so every
 * instance can open it and nothing is stored), bound to the session and the application, and
 * cleared by the GET that shows it. The secret is never in a URL.
 */
const LIFETIME_SECONDS = 120;

export type SecretOrigin = 'created' | 'rotated';

interface Sealed {
  app: string;
  session: string;
  secret: string;
  origin: SecretOrigin;
  expires: number;
}

function key(req: Request): Buffer {
  return Buffer.from(hkdfSync('sha256', req.ctx.runtime.keys.signing, 'latchkey', 'secret-once-v1', 32));
}

/** Keeps the secret for the next GET of the application's page (call before redirecting there). */
export function holdSecret(
  req: Request,
  res: Response,
  appId: string,
  secret: string,
  origin: SecretOrigin,
): void {
  const sealed: Sealed = {
    app: appId,
    session: req.browserSession!.id,
    secret,
    origin,
    expires: Date.now() + LIFETIME_SECONDS * 1000,
  };
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key(req), iv);
  const data = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
  const value = [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
  setCookie(res, req.ctx.config, cookieName(req.ctx.config, 'secret'), value, LIFETIME_SECONDS);
}

/**
 * The held secret for this application and session, once: the cookie is cleared whatever it
 * holds. Undefined when there is none, it expired, or it belongs to another page or session.
 */
export function takeSecret(
  req: Request,
  res: Response,
  appId: string,
): { secret: string; origin: SecretOrigin } | undefined {
  const name = cookieName(req.ctx.config, 'secret');
  const value = readCookie(req, name);
  if (value === undefined) return undefined;
  const sealed = open(req, value);
  // A secret held for another application's page stays for that page.
  if (sealed && sealed.app !== appId) return undefined;
  clearCookie(res, req.ctx.config, name);
  if (!sealed) return undefined;
  if (sealed.session !== req.browserSession?.id || sealed.expires < Date.now()) return undefined;
  return { secret: sealed.secret, origin: sealed.origin };
}

function open(req: Request, value: string): Sealed | undefined {
  const [iv, tag, data] = value.split('.');
  if (!iv || !tag || !data || value.length > 2000) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key(req), Buffer.from(iv, 'base64url'), {
      authTagLength: 16,
    });
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as Sealed;
  } catch {
    return undefined;
  }
}
