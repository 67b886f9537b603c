import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Express, Router } from 'express';
import { authorizeRouter } from '../oauth/authorize.js';
import { endSessionRouter } from '../oidc/end-session.js';
import { VIEWS_DIR } from '../paths.js';
import type { Runtime } from '../services/context.js';
import { mfaRequiredFor, userHasFactor } from '../services/factors.js';
import { accountsRouter } from './accounts.js';
import { applicationsRouter } from './applications.js';
import { authorizedTokensRouter } from './authorized-tokens.js';
import { deviceRouter } from './device.js';
import { WebError, webErrorHandler } from './errors.js';
import { homeRouter } from './home.js';
import { resourcesRouter } from './resources.js';
import { secondFactorRouter } from './second-factor.js';
import { securityRouter } from './security.js';
import { securityHeaders } from './security-headers.js';
import { loadBrowserSession } from './session.js';
import { createViewEngine } from './view-engine.js';

export { VIEWS_DIR };

/** Registers the Handlebars view engine on the app (pages and their error page use it). */
export function setupViews(app: Express, runtime: Runtime): void {
  app.engine('hbs', createViewEngine(VIEWS_DIR, { cache: runtime.config.env !== 'development' }));
  app.set('view engine', 'hbs');
  app.set('views', VIEWS_DIR);
}

/** @simplewebauthn/browser's browser bundle, from node_modules (no CDN). */
const WEBAUTHN_BROWSER = path.join(
  path.dirname(path.dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser'))),
  'dist/bundle/index.umd.min.js',
);

/** Static assets: the stylesheet and small scripts, served from views/assets (no CDN). */
export function assetsRouter(): Router {
  const router = Router();
  router.get('/static/vendor/simplewebauthn-browser.js', (_req, res) => {
    res.sendFile(WEBAUTHN_BROWSER, { maxAge: '1h' });
  });
  router.use(
    '/static',
    express.static(path.join(VIEWS_DIR, 'assets'), {
      immutable: false,
      maxAge: '1h',
      index: false,
      fallthrough: true,
    }),
  );
  return router;
}

/** The HTML door: login, logout, home (and later consent, applications, authorized tokens). */
export function webRouter(runtime: Runtime, extra: Router[] = []): Router {
  const router = Router();
  router.use(securityHeaders());
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  router.use(loadBrowserSession());
  router.use(async (req, res, next) => {
    try {
      const viewer = req.browserSession?.user;
      res.locals.viewer = viewer;
      res.locals.issuer = runtime.config.issuer;
      // An administrator without a second factor is warned on every page (one indexed lookup).
      if (viewer?.isAdmin && !(await userHasFactor(req.ctx, viewer.id))) {
        res.locals.mfaWarning = mfaRequiredFor(runtime.config, viewer) ? 'required' : 'advised';
      }
      next();
    } catch (err) {
      next(err);
    }
  });
  // The authorization endpoint parses its own body strictly (a repeated parameter is an error).
  router.use(authorizeRouter(runtime.config.bodyLimitBytes));
  router.use(
    express.urlencoded({ extended: false, limit: runtime.config.bodyLimitBytes, parameterLimit: 200 }),
  );
  router.use(accountsRouter());
  router.use(secondFactorRouter());
  router.use(securityRouter());
  router.use(endSessionRouter());
  router.use(homeRouter());
  router.use(applicationsRouter());
  router.use(authorizedTokensRouter());
  router.use(resourcesRouter());
  router.use(deviceRouter());
  for (const r of extra) router.use(r);
  return router;
}

/** Renders a 404 page for unknown paths a browser asked for. */
export function webNotFound(): express.RequestHandler {
  return (_req, _res, next) => next(new WebError(404, 'Page not found', 'There is nothing at this address.'));
}

export { webErrorHandler };
