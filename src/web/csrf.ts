import { createHmac } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { constantTimeEqual, randomString } from '../services/secrets.js';
import { cookieName, readCookie, setCookie } from './cookies.js';
import { WebError } from './errors.js';

/**
 * CSRF tokens bound to the browser: to the session once logged in, before that to a random
 * pre-session cookie. A token is an HMAC of that binding under the server's key, so nothing is
 * stored and every instance can check it. Forms carry it as `csrf_token`.
 */
function binding(req: Request, res: Response, create: boolean): string | undefined {
  if (req.browserSession) return `session:${req.browserSession.id}`;
  const config = req.ctx.config;
  const name = cookieName(config, 'csrf');
  let value = readCookie(req, name) ?? (res.locals.anonCsrf as string | undefined);
  if (value && !/^[\w-]{43}$/.test(value)) value = undefined;
  if (!value && create) {
    value = randomString(32);
    res.locals.anonCsrf = value;
    setCookie(res, config, name, value);
  }
  return value ? `anon:${value}` : undefined;
}

function sign(req: Request, bound: string): string {
  return createHmac('sha256', req.ctx.runtime.keys.signing).update(`csrf\0${bound}`).digest('base64url');
}

/** The token to put in a form on this page (creating the pre-session cookie if needed). */
export function csrfToken(req: Request, res: Response): string {
  return sign(req, binding(req, res, true)!);
}

export function isValidCsrf(req: Request, res: Response, token?: string): boolean {
  const body = req.body as Record<string, unknown> | undefined;
  const sent = token ?? (Buffer.isBuffer(body) ? undefined : body?.csrf_token) ?? req.get('x-csrf-token');
  if (typeof sent !== 'string' || sent.length !== 43) return false;
  const bound = binding(req, res, false);
  if (!bound) return false;
  return constantTimeEqual(sent, sign(req, bound));
}

/** Refuses a state-changing request without a valid token: 403 page, nothing changes. */
export function requireCsrf(req: Request, res: Response, next: NextFunction): void {
  next(isValidCsrf(req, res) ? undefined : csrfFailure());
}

export function csrfFailure(): WebError {
  return new WebError(
    403,
    'This form has expired',
    'The form was not sent from this site or has expired. Go back, reload the page and try again.',
  );
}
