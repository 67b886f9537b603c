import express, { type Express, type NextFunction, type Request, type Response, type Router } from 'express';
import { playgroundRouter } from './graphql/playground.js';
import { requestContext } from './http/context.js';
import { finalErrorHandler } from './http/errors.js';
import type { Runtime } from './services/context.js';
import { WebError } from './web/errors.js';
import { assetsRouter, setupViews, webErrorHandler, webRouter } from './web/index.js';

/**
 * The Express app: GraphQL and the HTML pages (sessions, CSRF, security headers), including the
 * authorization endpoint. The JSON protocol endpoints do not come here: the protocol door
 * (src/oauth/door.ts) answers them before Express sees the request.
 */
export function createApp(runtime: Runtime, graphql: Router): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', runtime.config.trustProxy);
  app.set('etag', false);
  setupViews(app, runtime);

  app.use(requestContext(runtime));
  app.use(assetsRouter());
  app.use(graphql);

  const pages = webRouter(runtime, [playgroundRouter()]);
  pages.use(notFound);
  pages.use(webErrorHandler());
  app.use(pages);
  app.use(finalErrorHandler());
  return app;
}

/** Unknown paths: a page for browsers, JSON for everyone else. */
function notFound(req: Request, res: Response, next: NextFunction): void {
  if (req.accepts(['json', 'html']) === 'html') {
    next(new WebError(404, 'Page not found', 'There is nothing at this address.'));
    return;
  }
  res.status(404).json({ error: 'not_found', error_description: 'No such endpoint.' });
}
