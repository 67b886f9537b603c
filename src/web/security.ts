import { type NextFunction, type Request, type Response, Router } from 'express';
import { changeOwnPassword } from '../services/account.js';
import { NotFoundError, TooManyAttemptsError, ValidationError } from '../services/errors.js';
import {
  listFactors,
  recoveryCodesRemaining,
  regenerateRecoveryCodes,
  removeFactor,
} from '../services/factors.js';
import { recentSignIns } from '../services/sessions.js';
import { passkeyLoginOptions, passkeyRegistrationOptions } from '../services/webauthn.js';
import { csrfToken, isValidCsrf, requireCsrf } from './csrf.js';
import {
  confirmTotpFromForm,
  type EnrollmentPage,
  registerPasskeyFromForm,
  renderRecoveryCodes,
  renderTotpEnrollment,
} from './enrollment.js';
import { WebError } from './errors.js';
import { field } from './forms.js';
import { requirePendingLogin } from './login-flow.js';
import { requireLogin } from './session.js';

const NOTICES: Record<string, string> = {
  password: 'Your password was changed. Your other sessions have ended.',
  totp: 'Authenticator app added.',
  passkey: 'Passkey added.',
  removed: 'The factor was removed.',
};

const AMR_LABELS: Record<string, string> = {
  pwd: 'password',
  otp: 'one-time code',
  hwk: 'security key',
  swk: 'passkey',
};

/** /accounts/security/: password, second factors, recovery codes, recent sign-ins. */
export function securityRouter(): Router {
  const router = Router();

  const show = async (
    req: Request,
    res: Response,
    extra: { status?: number; passwordError?: string; factorError?: string } = {},
  ) => {
    const user = req.browserSession!.user;
    const [factors, codesLeft, signIns] = await Promise.all([
      listFactors(req.ctx, user.id),
      recoveryCodesRemaining(req.ctx),
      recentSignIns(req.ctx),
    ]);
    res.status(extra.status ?? 200).render('accounts/security', {
      title: 'Account security',
      notice: typeof req.query.done === 'string' ? NOTICES[req.query.done] : undefined,
      factors: factors.map((f) => ({
        ...f,
        label:
          f.kind === 'totp'
            ? 'Authenticator app'
            : f.deviceType === 'multiDevice'
              ? 'Passkey (synced)'
              : 'Passkey',
      })),
      hasFactors: factors.length > 0,
      codesLeft,
      signIns: signIns.map((s) => ({
        ...s,
        current: s.id === req.browserSession!.id,
        methods: s.amr
          .map((m) => AMR_LABELS[m])
          .filter(Boolean)
          .join(' + '),
      })),
      ...extra,
      csrfToken: csrfToken(req, res),
    });
  };

  router.get('/accounts/security/', requireLogin, async (req, res, next) => {
    try {
      await show(req, res);
    } catch (err) {
      next(err);
    }
  });

  router.post('/accounts/security/password/', requireLogin, requireCsrf, async (req, res, next) => {
    try {
      await changeOwnPassword(req.ctx, {
        current: field(req, 'current_password') ?? '',
        next: field(req, 'new_password') ?? '',
        confirm: field(req, 'confirm_password') ?? '',
      });
      res.redirect(303, '/accounts/security/?done=password');
    } catch (err) {
      if (err instanceof ValidationError) {
        await show(req, res, { status: 400, passwordError: err.message }).catch(next);
        return;
      }
      next(err);
    }
  });

  const totpPage: EnrollmentPage = {
    title: 'Add an authenticator app',
    totpAction: '/accounts/security/totp/',
    passkeyAction: '/accounts/security/passkeys/',
  };

  router.get('/accounts/security/totp/', requireLogin, async (req, res, next) => {
    try {
      await renderTotpEnrollment(req, res, totpPage);
    } catch (err) {
      next(err);
    }
  });

  router.post('/accounts/security/totp/', requireLogin, requireCsrf, async (req, res, next) => {
    try {
      const done = await confirmTotpFromForm(req, res, totpPage);
      if (!done) return;
      if (done.recoveryCodes)
        renderRecoveryCodes(res, done.recoveryCodes, '/accounts/security/?done=totp', true);
      else res.redirect(303, '/accounts/security/?done=totp');
    } catch (err) {
      next(err);
    }
  });

  router.post('/accounts/security/passkeys/', requireLogin, requireCsrf, async (req, res, next) => {
    try {
      const done = await registerPasskeyFromForm(req);
      if (done.recoveryCodes)
        renderRecoveryCodes(res, done.recoveryCodes, '/accounts/security/?done=passkey', true);
      else res.redirect(303, '/accounts/security/?done=passkey');
    } catch (err) {
      if (err instanceof ValidationError) {
        await show(req, res, { status: 400, factorError: err.message }).catch(next);
        return;
      }
      next(err);
    }
  });

  router.post('/accounts/security/factors/:id/remove/', requireLogin, requireCsrf, async (req, res, next) => {
    try {
      await removeFactor(req.ctx, String(req.params.id));
      res.redirect(303, '/accounts/security/?done=removed');
    } catch (err) {
      if (err instanceof NotFoundError) {
        next(new WebError(404, 'Not found', 'There is no such factor on your account.'));
        return;
      }
      if (err instanceof ValidationError) {
        await show(req, res, { status: 400, factorError: err.message }).catch(next);
        return;
      }
      next(err);
    }
  });

  router.post('/accounts/security/recovery-codes/', requireLogin, requireCsrf, async (req, res, next) => {
    try {
      renderRecoveryCodes(res, await regenerateRecoveryCodes(req.ctx), '/accounts/security/', false);
    } catch (err) {
      if (err instanceof ValidationError) {
        await show(req, res, { status: 400, factorError: err.message }).catch(next);
        return;
      }
      next(err);
    }
  });

  /**
   * WebAuthn options for the page's script (JSON), one route per ceremony: registering for the
   * signed-in user or for a pending login that must enroll, a pending login's second factor, and
   * a passwordless sign-in from the login page.
   */
  const json =
    (options: (req: Request) => Promise<unknown>) =>
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        if (!isValidCsrf(req, res)) {
          res.status(403).json({ error: 'This page has expired: reload it.' });
          return;
        }
        res.json(await options(req));
      } catch (err) {
        if (err instanceof TooManyAttemptsError) {
          res.status(429).set('Retry-After', String(err.retryAfter)).json({ error: err.message });
          return;
        }
        next(err);
      }
    };
  const registration = (req: Request) => passkeyRegistrationOptions(req.ctx);
  router.post('/accounts/webauthn/register/', requireLogin, json(registration));
  router.post('/accounts/webauthn/enroll/', requirePendingLogin(true), json(registration));
  router.post(
    '/accounts/webauthn/second-factor/',
    requirePendingLogin(false),
    json((req) => passkeyLoginOptions(req.ctx, req.pendingLogin!.uid)),
  );
  router.post(
    '/accounts/webauthn/passwordless/',
    json((req) => passkeyLoginOptions(req.ctx, null)),
  );

  return router;
}
