import type { NextFunction, Request, Response } from 'express';
import { type BrowserSession, findSession } from '../services/sessions.js';
import { cookieName, readCookie } from './cookies.js';

declare global {
  namespace Express {
    interface Request {
      /** The logged-in browser session, when there is one. */
      browserSession?: BrowserSession;
    }
  }
}

/** Loads the session named by the cookie (if live) and makes its user the actor. */
export function loadBrowserSession() {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const value = readCookie(req, cookieName(req.ctx.config, 'session'));
      const session = value ? await findSession(req.ctx, value) : null;
      if (session) {
        req.browserSession = session;
        req.ctx.actor = { kind: 'user', user: session.user, via: 'session', sessionId: session.id };
      }
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Pages for logged-in users: anyone else goes to the login page and comes back. */
export function requireLogin(req: Request, res: Response, next: NextFunction): void {
  if (req.browserSession) {
    next();
    return;
  }
  res.redirect(303, `/accounts/login/?next=${encodeURIComponent(req.originalUrl)}`);
}
