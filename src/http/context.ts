import type { NextFunction, Request, Response } from 'express';
import { accessLog } from '../observability/access-log.js';
import { Ctx, type Runtime, type ServerCtx } from '../services/context.js';
import { requestIdOf } from './request-id.js';

declare global {
  namespace Express {
    interface Request {
      /** One per request: the forked EntityManager, actor and client address live here. */
      ctx: ServerCtx;
      id: string;
    }
  }
}

/**
 * Gives every request an id (a sane incoming X-Request-Id is kept), a child logger and a service
 * context; reports it once the response finishes (the access log, metrics and the trace span's
 * name: src/observability/access-log.ts). Only the path is logged, never the query string or
 * body, which can carry credentials.
 */
export function requestContext(runtime: Runtime) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    req.id = requestIdOf(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', req.id);
    const ctx = new Ctx(runtime, { reqId: req.id });
    req.ctx = ctx;
    ctx.resolveIp(() => req.ip);
    const path = req.path;
    res.on('finish', () =>
      accessLog(runtime.log, res, {
        door: path === '/graphql' ? 'graphql' : 'pages',
        method: req.method,
        route: routeLabel(req, path),
        path,
        status: res.statusCode,
        started,
        requestId: req.id,
        error: ctx.errorCode,
        clientId: ctx.clientId,
      }),
    );
    next();
  };
}

/**
 * The route template Express matched (`/o/applications/:id/`): the page routers are mounted at
 * the root, so a route's path is the whole template. Anything no route answered (static files,
 * a redirect to the login page, a 404) gets one fixed label, so unknown URLs add no series.
 */
function routeLabel(req: Request, path: string): string {
  const template = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof template === 'string') return template;
  if (path.startsWith('/static/')) return '/static/*';
  return 'unmatched';
}
