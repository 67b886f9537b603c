import { type Request, type Response, Router } from 'express';
import type { Application } from '../entities/Application.js';
import {
  type ApplicationInput,
  createApplication,
  defaultApplicationScopes,
  deleteApplication,
  getManagedApplication,
  listApplications,
  rotateClientSecret,
  updateApplication,
} from '../services/applications.js';
import { NotFoundError, ValidationError } from '../services/errors.js';
import { activeTokenCounts } from '../services/token-management.js';
import { GRANT_TYPE_ENTRIES, TOKEN_EXCHANGE_GRANT } from '../vocabulary.js';
import {
  applicationFormView,
  formValuesOf,
  newApplicationDefaults,
  readApplicationForm,
} from './application-form.js';
import { csrfToken, requireCsrf } from './csrf.js';
import { WebError } from './errors.js';
import { holdSecret, takeSecret } from './secret-once.js';
import { requireLogin } from './session.js';

/**
 * /o/applications/ — django-oauth-toolkit's pages on Latchkey's services: list, register,
 * detail, edit, delete, rotate secret. Validation comes from the same service as GraphQL.
 */
export function applicationsRouter(): Router {
  const router = Router();
  router.use('/o/applications', requireLogin);

  router.get('/o/applications/', async (req, res) => {
    const page = await listApplications(req.ctx, {
      first: 100,
      after: typeof req.query.after === 'string' ? req.query.after : null,
    });
    const counts = await activeTokenCounts(
      req.ctx,
      page.nodes.map((a) => a.id),
    );
    res.render('applications/list', {
      title: 'Applications',
      showOwner: req.browserSession!.user.isAdmin,
      applications: page.nodes.map((a) => ({ ...summary(a), activeTokens: counts.get(a.id) ?? 0 })),
      total: page.totalCount,
      next: page.hasNextPage ? page.endCursor : null,
    });
  });

  router.get('/o/applications/register/', (req, res) => {
    renderForm(
      req,
      res,
      'Register an application',
      newApplicationDefaults(defaultApplicationScopes(req.ctx.config.scopes)),
    );
  });

  router.post('/o/applications/register/', requireCsrf, async (req, res) => {
    const input = readApplicationForm(req);
    try {
      const { application, clientSecret } = await createApplication(req.ctx, req.browserSession!.user, input);
      if (clientSecret) holdSecret(req, res, application.id, clientSecret, 'created');
      seeDetail(res, application, 'created');
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      renderForm(req, res, 'Register an application', input, err.byField(), 400);
    }
  });

  router.get('/o/applications/:id/', async (req, res) => {
    const app = await managed(req);
    const held = takeSecret(req, res, app.id);
    const done = req.query.done;
    renderDetail(req, res, app, {
      secret: held?.secret,
      justCreated: done === 'created',
      rotated: held?.origin === 'rotated',
    });
  });

  router.get('/o/applications/:id/update/', async (req, res) => {
    const app = await managed(req);
    renderForm(req, res, `Edit ${app.name}`, formValuesOf(app), {}, 200, app);
  });

  router.post('/o/applications/:id/update/', requireCsrf, async (req, res) => {
    const app = await managed(req);
    const input = readApplicationForm(req);
    try {
      await updateApplication(req.ctx, app.id, input);
      res.redirect(303, `/o/applications/${app.id}/`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      renderForm(req, res, `Edit ${app.name}`, input, err.byField(), 400, app);
    }
  });

  router.get('/o/applications/:id/delete/', async (req, res) => {
    const app = await managed(req);
    res.render('applications/delete', {
      title: `Delete ${app.name}`,
      app: summary(app),
      csrfToken: csrfToken(req, res),
    });
  });

  router.post('/o/applications/:id/delete/', requireCsrf, async (req, res) => {
    const app = await managed(req);
    await deleteApplication(req.ctx, app.id);
    res.redirect(303, '/o/applications/');
  });

  router.get('/o/applications/:id/rotate-secret/', async (req, res) => {
    const app = await managed(req);
    if (!summary(app).confidential)
      throw new WebError(
        404,
        'No secret to rotate',
        'This client has no secret: it is public or uses its keys.',
      );
    res.render('applications/rotate', {
      title: `New secret for ${app.name}`,
      app: summary(app),
      csrfToken: csrfToken(req, res),
    });
  });

  router.post('/o/applications/:id/rotate-secret/', requireCsrf, async (req, res) => {
    const app = await managed(req);
    const { application, clientSecret } = await rotateClientSecret(req.ctx, app.id);
    if (clientSecret) holdSecret(req, res, application.id, clientSecret, 'rotated');
    seeDetail(res, application, 'rotated');
  });

  return router;
}

/** The application if the viewer may manage it; other users' applications are a 404 page. */
async function managed(req: Request): Promise<Application> {
  try {
    return await getManagedApplication(req.ctx, String(req.params.id));
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new WebError(404, 'Application not found', 'There is no such application among yours.');
    throw err;
  }
}

function summary(app: Application) {
  return {
    id: app.id,
    name: app.name,
    clientId: app.clientId,
    clientType: app.clientType,
    // A private_key_jwt client authenticates with its keys: no secret to rotate or keep.
    confidential: app.clientType === 'confidential' && app.tokenEndpointAuthMethod !== 'private_key_jwt',
    jwksUri: app.jwksUri ?? null,
    keyCount: app.jwks?.keys.length ?? 0,
    requirePar: app.requirePar,
    // The short names (device_code, token_exchange) rather than the URNs.
    grantTypes: app.grantTypes.map((g) => GRANT_TYPE_ENTRIES.find((e) => e.name === g)?.cli ?? g),
    redirectUris: app.redirectUris,
    postLogoutRedirectUris: app.postLogoutRedirectUris,
    backchannelLogoutUri: app.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired,
    allowedOrigins: app.allowedOrigins,
    scopes: app.scopes,
    skipAuthorization: app.skipAuthorization,
    requireDpop: app.requireDpop,
    tokenExchangeAudiences: app.tokenExchangeAudiences,
    tokenExchangeImpersonation: app.tokenExchangeImpersonation,
    tokenExchangeRefreshTokens: app.tokenExchangeRefreshTokens,
    tokenExchange: app.grantTypes.includes(TOKEN_EXCHANGE_GRANT),
    accessTokenFormat: app.accessTokenFormat,
    idTokenSignedResponseAlg: app.idTokenSignedResponseAlg,
    tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    owner: app.owner?.username ?? null,
    dynamicallyRegistered: app.dynamicallyRegistered,
    metadataDocument: app.metadataDocument,
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
  };
}

/** POST/redirect/GET: the action is done; the detail page shows its result (and a held secret once). */
function seeDetail(res: Response, app: Application, done: 'created' | 'rotated'): void {
  res.set('Cache-Control', 'no-store');
  res.redirect(303, `/o/applications/${app.id}/?done=${done}`);
}

function renderDetail(
  req: Request,
  res: Response,
  app: Application,
  extra: { secret?: string | null; justCreated?: boolean; rotated?: boolean } = {},
): void {
  // The page may hold a secret, and a cached copy must not bring back a "just created" notice.
  res.set('Cache-Control', 'no-store');
  res.render('applications/detail', {
    title: app.name,
    app: summary(app),
    secret: extra.secret ?? null,
    justCreated: extra.justCreated ?? false,
    rotated: extra.rotated ?? false,
    issuer: req.ctx.config.issuer,
  });
}

function renderForm(
  req: Request,
  res: Response,
  title: string,
  values: ApplicationInput,
  errors: Record<string, string> = {},
  status = 200,
  app?: Application,
): void {
  res.status(status).render('applications/form', {
    title,
    ...applicationFormView(req.ctx.config, req.browserSession!.user, values, errors),
    action: app ? `/o/applications/${app.id}/update/` : '/o/applications/register/',
    cancel: app ? `/o/applications/${app.id}/` : '/o/applications/',
    submitLabel: app ? 'Save changes' : 'Register application',
    csrfToken: csrfToken(req, res),
  });
}
