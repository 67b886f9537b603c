import express, { type Express } from 'express';
import { requestContext } from './http/context.js';
import { finalErrorHandler } from './http/errors.js';
import { healthRouter } from './http/health.js';
import type { Runtime } from './services/context.js';

/**
 * The Express app: middleware order, then the three doors (OAuth protocol, HTML pages, GraphQL).
 */
export function createApp(runtime: Runtime): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', runtime.config.trustProxy);
  app.set('etag', false);

  app.use(requestContext(runtime));
  app.use(healthRouter(runtime));

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', error_description: 'No such endpoint.' });
  });
  app.use(finalErrorHandler());
  return app;
}
