import { Router } from 'express';
import { listAuthorizations, revokeAuthorization } from '../services/authorizations.js';
import { NotFoundError } from '../services/errors.js';
import { csrfToken, requireCsrf } from './csrf.js';
import { WebError } from './errors.js';
import { requireLogin } from './session.js';

/** /o/authorized_tokens/ — the applications you gave access to, and withdrawing that access. */
export function authorizedTokensRouter(): Router {
  const router = Router();
  router.use('/o/authorized_tokens', requireLogin);

  router.get('/o/authorized_tokens/', async (req, res) => {
    const authorizations = await listAuthorizations(req.ctx);
    res.render('authorized_tokens/list', {
      title: 'Authorized applications',
      authorizations: authorizations.map((a) => ({
        ...a,
        scopes: a.scopes.map((s) => ({ name: s, description: req.ctx.config.scopes[s] ?? s })),
      })),
      csrfToken: csrfToken(req, res),
    });
  });

  router.post('/o/authorized_tokens/:applicationId/delete/', requireCsrf, async (req, res) => {
    try {
      await revokeAuthorization(req.ctx, String(req.params.applicationId));
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new WebError(404, 'Not found', 'You have not authorized this application.');
      throw err;
    }
    res.redirect(303, '/o/authorized_tokens/?revoked=1');
  });
  return router;
}
