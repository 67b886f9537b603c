import { type Request, type Response, Router } from 'express';
import { loginAmr } from '../oauth/authentication-level.js';
import { ValidationError } from '../services/errors.js';
import { listFactors, redeemRecoveryCode, type SecondFactorResult } from '../services/factors.js';
import { secondFactorMessage, verifyTotpLogin } from '../services/totp.js';
import { verifyPasskeyLogin } from '../services/webauthn.js';
import { csrfToken, requireCsrf } from './csrf.js';
import {
  confirmTotpFromForm,
  type EnrollmentPage,
  registerPasskeyFromForm,
  renderRecoveryCodes,
  renderTotpEnrollment,
} from './enrollment.js';
import { field } from './forms.js';
import { finishLogin, requirePendingLogin } from './login-flow.js';

/**
 * The login's second step, /accounts/login/verify/: a TOTP code (field `code`), a passkey, or a
 * recovery code; and /accounts/login/enroll/ for a user who must enroll first (MFA_REQUIRED).
 * Both run under a pending login (src/web/login-flow.ts); the session is made here.
 */
export function secondFactorRouter(): Router {
  const router = Router();

  const showVerify = async (req: Request, res: Response, error?: string, status = 200) => {
    const factors = await listFactors(req.ctx, req.pendingLogin!.uid);
    res.status(status).render('accounts/verify', {
      title: 'Two-step verification',
      username: req.ctx.user?.username,
      totp: factors.some((f) => f.kind === 'totp'),
      passkey: factors.some((f) => f.kind === 'webauthn'),
      recovery: req.query.method === 'recovery' || field(req, 'method') === 'recovery',
      error,
      csrfToken: csrfToken(req, res),
    });
  };

  router.get('/accounts/login/verify/', requirePendingLogin(false), async (req, res, next) => {
    try {
      await showVerify(req, res);
    } catch (err) {
      next(err);
    }
  });

  router.post('/accounts/login/verify/', requireCsrf, requirePendingLogin(false), async (req, res, next) => {
    try {
      const pending = req.pendingLogin!;
      const method = field(req, 'method');
      let amr: string[];
      if (method === 'passkey') {
        try {
          amr = (
            await verifyPasskeyLogin(req.ctx, { credential: field(req, 'credential'), userId: pending.uid })
          ).amr;
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          await showVerify(req, res, err.message, 400);
          return;
        }
      } else {
        const result: SecondFactorResult =
          method === 'recovery'
            ? await redeemRecoveryCode(req.ctx, pending.uid, field(req, 'recovery_code') ?? '')
            : await verifyTotpLogin(req.ctx, pending.uid, field(req, 'code') ?? '');
        if (!result.ok) {
          if (result.reason === 'blocked') res.set('Retry-After', String(result.retryAfter));
          const message =
            method === 'recovery' && result.reason !== 'blocked'
              ? 'That recovery code is not valid or was already used.'
              : secondFactorMessage(result);
          await showVerify(req, res, message, result.reason === 'blocked' ? 429 : 400);
          return;
        }
        amr = loginAmr({ password: true, factor: 'otp' });
      }
      await finishLogin(req, res, pending.uid, amr);
      res.redirect(303, pending.next);
    } catch (err) {
      next(err);
    }
  });

  const enrollPage: EnrollmentPage = {
    title: 'Set up two-step verification',
    intro: 'Your account must have a second factor. Set one up to finish signing in.',
    totpAction: '/accounts/login/enroll/totp/',
    passkeyAction: '/accounts/login/enroll/passkey/',
  };

  router.get('/accounts/login/enroll/', requirePendingLogin(true), async (req, res, next) => {
    try {
      await renderTotpEnrollment(req, res, enrollPage);
    } catch (err) {
      next(err);
    }
  });

  router.post(
    '/accounts/login/enroll/totp/',
    requireCsrf,
    requirePendingLogin(true),
    async (req, res, next) => {
      try {
        const done = await confirmTotpFromForm(req, res, enrollPage);
        if (!done) return;
        await finishLogin(req, res, req.pendingLogin!.uid, loginAmr({ password: true, factor: 'otp' }));
        renderRecoveryCodes(res, done.recoveryCodes ?? [], req.pendingLogin!.next, true);
      } catch (err) {
        next(err);
      }
    },
  );

  router.post(
    '/accounts/login/enroll/passkey/',
    requireCsrf,
    requirePendingLogin(true),
    async (req, res, next) => {
      try {
        let done: Awaited<ReturnType<typeof registerPasskeyFromForm>>;
        try {
          done = await registerPasskeyFromForm(req);
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          await renderTotpEnrollment(req, res, { ...enrollPage, passkeyError: err.message });
          return;
        }
        await finishLogin(req, res, req.pendingLogin!.uid, loginAmr({ password: true, factor: done.method }));
        renderRecoveryCodes(res, done.recoveryCodes ?? [], req.pendingLogin!.next, true);
      } catch (err) {
        next(err);
      }
    },
  );

  return router;
}
