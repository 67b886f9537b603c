import type { Request, Response } from 'express';
import { clearCookie, cookieName, readCookie, setCookie } from './cookies.js';
import { seal, unseal } from './sealed.js';

/**
 * A new client secret goes from the POST that made it to the one GET that shows it
 * (POST/redirect/GET), so reloading the page repeats nothing. It travels sealed in a short-lived
 * HttpOnly cookie (src/web/sealed.ts: every instance can open it and nothing is stored), bound
 * to the session and the application, and cleared by the GET that shows it. The secret is never
 * in a URL.
 */
const LIFETIME_SECONDS = 120;

export type SecretOrigin = 'created' | 'rotated';

interface Sealed {
  app: string;
  session: string;
  secret: string;
  origin: SecretOrigin;
}

/** Keeps the secret for the next GET of the application's page (call before redirecting there). */
export function holdSecret(
  req: Request,
  res: Response,
  appId: string,
  secret: string,
  origin: SecretOrigin,
): void {
  const sealed: Sealed = { app: appId, session: req.browserSession!.id, secret, origin };
  const value = seal(req, 'secret-once-v1', sealed, LIFETIME_SECONDS);
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
  const sealed = unseal<Sealed>(req, 'secret-once-v1', value);
  // A secret held for another application's page stays for that page.
  if (sealed && sealed.app !== appId) return undefined;
  clearCookie(res, req.ctx.config, name);
  if (!sealed) return undefined;
  if (sealed.session !== req.browserSession?.id) return undefined;
  return { secret: sealed.secret, origin: sealed.origin };
}
