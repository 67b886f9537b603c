import type { NextFunction, Request, Response } from 'express';
import type { Viewer } from '../services/context.js';
import { mfaRequiredFor, userHasFactor } from '../services/factors.js';
import { userForLogin } from '../services/login.js';
import { endSession, startSession } from '../services/sessions.js';
import { clearCookie, cookieName, readCookie, setCookie } from './cookies.js';
import { safeNext } from './safe-next.js';
import { seal, unseal } from './sealed.js';

/**
 * The steps of a login between the password and the session. A password alone makes a session
 * only for a user without a second factor whom MFA_REQUIRED does not cover. Otherwise the
 * browser holds a pending login — a short-lived sealed cookie with the user, where to go next
 * (the pending authorization request travels in it) and whether the user must first enroll —
 * and the session is made only after the second factor.
 */
const PENDING_SECONDS = 600;

export interface PendingLogin {
  uid: string;
  next: string;
  /** MFA_REQUIRED covers the user and they have no factor: enrollment comes first. */
  enroll: boolean;
}

declare global {
  namespace Express {
    interface Request {
      pendingLogin?: PendingLogin;
    }
  }
}

/** After a correct password: a session, the second step, or enrollment. */
export async function afterPassword(req: Request, res: Response, user: Viewer, next: string): Promise<void> {
  const hasFactor = await userHasFactor(req.ctx, user.id);
  if (!hasFactor && !mfaRequiredFor(req.ctx.config, user)) {
    await finishLogin(req, res, user.id, ['pwd']);
    res.redirect(303, safeNext(next));
    return;
  }
  const pending: PendingLogin = { uid: user.id, next: safeNext(next), enroll: !hasFactor };
  const config = req.ctx.config;
  setCookie(
    res,
    config,
    cookieName(config, 'pending'),
    seal(req, 'pending-login-v1', pending, PENDING_SECONDS),
    PENDING_SECONDS,
  );
  res.redirect(303, pending.enroll ? '/accounts/login/enroll/' : '/accounts/login/verify/');
}

/**
 * Makes the session: a new id every login (the old session, the pre-session CSRF cookie and
 * any pending login die), recording how the user authenticated (RFC 8176 amr).
 */
export async function finishLogin(req: Request, res: Response, userId: string, amr: string[]): Promise<void> {
  if (req.browserSession) await endSession(req.ctx, req.browserSession.id);
  const { cookieValue, session } = await startSession(
    req.ctx,
    userId,
    { ip: req.ip, userAgent: req.get('user-agent') },
    amr,
  );
  const config = req.ctx.config;
  setCookie(res, config, cookieName(config, 'session'), cookieValue);
  clearCookie(res, config, cookieName(config, 'csrf'));
  clearCookie(res, config, cookieName(config, 'pending'));
  req.browserSession = session;
  req.ctx.actor = { kind: 'user', user: session.user, via: 'session', sessionId: session.id };
}

/**
 * Pages of the second step (or of enrollment when `enroll`): a live pending login whose user
 * may still sign in, else back to the login page. The pending user becomes the actor (via
 * `login`), so the enrollment services act for them.
 */
export function requirePendingLogin(enroll: boolean) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      const pending = unseal<PendingLogin>(
        req,
        'pending-login-v1',
        readCookie(req, cookieName(req.ctx.config, 'pending')),
      );
      const user = pending && pending.enroll === enroll ? await userForLogin(req.ctx, pending.uid) : null;
      if (!pending || !user) {
        res.redirect(303, '/accounts/login/?expired=1');
        return;
      }
      req.pendingLogin = pending;
      req.ctx.actor = { kind: 'user', user, via: 'login' };
      next();
    } catch (err) {
      next(err);
    }
  };
}
