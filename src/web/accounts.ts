import { type Request, type Response, Router } from 'express';
import { authenticate } from '../services/login.js';
import { endSession, startSession } from '../services/sessions.js';
import { clearCookie, cookieName, setCookie } from './cookies.js';
import { csrfToken, requireCsrf } from './csrf.js';
import { field } from './forms.js';
import { safeNext } from './safe-next.js';

/** /accounts/login/ and /accounts/logout/. */
export function accountsRouter(): Router {
  const router = Router();

  const showLogin = (
    req: Request,
    res: Response,
    extra: { error?: string; username?: string; status?: number } = {},
  ) => {
    res.status(extra.status ?? 200).render('accounts/login', {
      title: 'Log in',
      next: safeNext(field(req, 'next') ?? req.query.next),
      username:
        extra.username ??
        (typeof req.query.login_hint === 'string' ? req.query.login_hint.slice(0, 150) : ''),
      error: extra.error,
      csrfToken: csrfToken(req, res),
    });
  };

  router.get('/accounts/login/', (req, res) => {
    // prompt=login (OIDC): the application wants a fresh login even though a session exists.
    if (req.browserSession && req.query.prompt !== 'login') {
      res.redirect(303, safeNext(req.query.next));
      return;
    }
    showLogin(req, res);
  });

  router.post('/accounts/login/', requireCsrf, async (req, res, next) => {
    try {
      const username = field(req, 'username') ?? '';
      const password = field(req, 'password') ?? '';
      const result = await authenticate(req.ctx, username, password);
      if (!result.ok) {
        if (result.reason === 'blocked') {
          const minutes = Math.ceil(result.retryAfter / 60);
          res.set('Retry-After', String(result.retryAfter));
          showLogin(req, res, {
            status: 429,
            username,
            error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
          });
          return;
        }
        if (result.reason === 'busy') {
          res.set('Retry-After', String(result.retryAfter));
          showLogin(req, res, {
            status: 503,
            username,
            error: 'The server is busy right now. Please try again in a moment.',
          });
          return;
        }
        showLogin(req, res, { username, error: 'Please enter a correct username and password.' });
        return;
      }
      // A new session id every login; the old session (if any) and the pre-session cookie die.
      if (req.browserSession) await endSession(req.ctx, req.browserSession.id);
      const { cookieValue } = await startSession(req.ctx, result.user.id, {
        ip: req.ip,
        userAgent: req.get('user-agent'),
      });
      const config = req.ctx.config;
      setCookie(res, config, cookieName(config, 'session'), cookieValue);
      clearCookie(res, config, cookieName(config, 'csrf'));
      res.redirect(303, safeNext(field(req, 'next')));
    } catch (err) {
      next(err);
    }
  });

  router.get('/accounts/logout/', (req, res) => {
    res.render('accounts/logout', {
      title: 'Log out',
      csrfToken: csrfToken(req, res),
      next: safeNext(req.query.next),
    });
  });

  router.post('/accounts/logout/', requireCsrf, async (req, res, next) => {
    try {
      if (req.browserSession) await endSession(req.ctx, req.browserSession.id);
      clearCookie(res, req.ctx.config, cookieName(req.ctx.config, 'session'));
      const target = safeNext(field(req, 'next'));
      res.redirect(303, target === '/' ? '/accounts/login/' : target);
    } catch (err) {
      next(err);
    }
  });

  return router;
}
