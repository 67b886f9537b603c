import { type Request, type Response, Router } from 'express';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../services/errors.js';
import { createResource, deleteResource, listResources } from '../services/resources.js';
import { csrfToken, requireCsrf } from './csrf.js';
import { WebError } from './errors.js';
import { field, fields } from './forms.js';
import { requireLogin } from './session.js';

/**
 * /o/resources/ — registered resources (RFC 8707) for admins: the list, a form to register one
 * and a delete button per row. The service decides who may (admins); this page only renders.
 */
export function resourcesRouter(): Router {
  const router = Router();
  router.use('/o/resources', requireLogin);

  router.get('/o/resources/', async (req, res) => {
    await renderPage(req, res, EMPTY_FORM);
  });

  router.post('/o/resources/', requireCsrf, async (req, res) => {
    const values = readForm(req);
    const ttl = values.accessTokenTtl.trim();
    const errors: Record<string, string> = {};
    if (ttl !== '' && !/^\d{1,9}$/.test(ttl)) errors.accessTokenTtl = 'The lifetime is a number of seconds.';
    if (Object.keys(errors).length === 0) {
      try {
        await refusedAsPage(() =>
          createResource(req.ctx, {
            identifier: values.identifier,
            name: values.name,
            scopes: values.scopes,
            accessTokenFormat: values.jwt ? 'jwt' : 'opaque',
            accessTokenTtl: ttl === '' ? null : Number(ttl),
          }),
        );
        res.redirect(303, '/o/resources/');
        return;
      } catch (err) {
        if (err instanceof ValidationError) Object.assign(errors, err.byField());
        else if (err instanceof ConflictError) errors.identifier = err.message;
        else throw err;
      }
    }
    await renderPage(req, res, values, errors, 400);
  });

  router.post('/o/resources/:id/delete/', requireCsrf, async (req, res) => {
    try {
      await refusedAsPage(() => deleteResource(req.ctx, String(req.params.id)));
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new WebError(404, 'Resource not found', 'There is no such resource.');
      throw err;
    }
    res.redirect(303, '/o/resources/');
  });
  return router;
}

interface FormValues {
  identifier: string;
  name: string;
  scopes: string[];
  jwt: boolean;
  accessTokenTtl: string;
}

const EMPTY_FORM: FormValues = { identifier: '', name: '', scopes: [], jwt: false, accessTokenTtl: '' };

function readForm(req: Request): FormValues {
  return {
    identifier: (field(req, 'identifier') ?? '').slice(0, 4096),
    name: (field(req, 'name') ?? '').slice(0, 400),
    scopes: fields(req, 'scopes').slice(0, 100),
    jwt: field(req, 'jwt_access_tokens') !== undefined,
    accessTokenTtl: (field(req, 'access_token_ttl') ?? '').slice(0, 20),
  };
}

/** The service refuses non-admins; a person sees a page saying so. */
async function refusedAsPage<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ForbiddenError)
      throw new WebError(403, 'Administrators only', 'Only administrators manage resources.');
    throw err;
  }
}

async function renderPage(
  req: Request,
  res: Response,
  values: FormValues,
  errors: Record<string, string> = {},
  status = 200,
): Promise<void> {
  const resources = await refusedAsPage(() => listResources(req.ctx));
  const scopes = Object.entries(req.ctx.config.scopes).map(([name, description]) => ({
    name,
    description,
    checked: values.scopes.includes(name),
  }));
  const errorCount = Object.keys(errors).length;
  res.status(status).render('resources/list', {
    title: 'Resources',
    resources: resources.map((r) => ({
      id: r.id,
      identifier: r.identifier,
      name: r.name,
      scopes: r.scopes,
      format: r.accessTokenFormat,
      ttl: r.accessTokenTtl ?? null,
    })),
    values,
    scopes,
    errors,
    hasErrors: errorCount > 0,
    errorCount,
    csrfToken: csrfToken(req, res),
  });
}
