import { type Request, type Response, Router } from 'express';
import { ValidationError } from '../services/errors.js';
import { authenticate, userForLogin } from '../services/login.js';
import { endSession } from '../services/sessions.js';
import { verifyPasskeyLogin } from '../services/webauthn.js';
import { clearCookie, cookieName } from './cookies.js';
import { csrfToken, requireCsrf } from './csrf.js';
import { field } from './forms.js';
import { afterPassword, finishLogin } from './login-flow.js';
import { safeNext } from './safe-next.js';

/** /accounts/login/ (password, or a passkey alone) and /accounts/logout/. */
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
      error:
        extra.error ??
        (req.query.expired === '1'
          ? 'Your sign-in took too long and has expired. Please log in again.'
          : undefined),
      csrfToken: csrfToken(req, res),
      passkeys: true,
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
      await afterPassword(req, res, result.user, field(req, 'next') ?? '/');
    } catch (err) {
      next(err);
    }
  });

  // WebAuthn L2 §7.2, passwordless: a discoverable credential names its user; with user
  // verification it is two factors on its own.
  router.post('/accounts/login/passkey/', requireCsrf, async (req, res, next) => {
    try {
      const proved = await verifyPasskeyLogin(req.ctx, {
        credential: field(req, 'credential'),
        userId: null,
      });
      const user = await userForLogin(req.ctx, proved.userId);
      if (!user) {
        showLogin(req, res, { status: 400, error: 'This passkey cannot sign in here.' });
        return;
      }
      await finishLogin(req, res, user.id, proved.amr);
      res.redirect(303, safeNext(field(req, 'next')));
    } catch (err) {
      if (err instanceof ValidationError) {
        showLogin(req, res, { status: 400, error: err.message });
        return;
      }
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
