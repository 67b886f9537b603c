import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { Ctx, type Runtime, type ServerCtx } from '../services/context.js';

declare global {
  namespace Express {
    interface Request {
      /** One per request: the forked EntityManager, actor and client address live here. */
      ctx: ServerCtx;
      id: string;
    }
  }
}

const REQUEST_ID = /^[\w.:-]{1,64}$/;

/**
 * Gives every request an id (a sane incoming X-Request-Id is kept), a child logger and a service
 * context; logs one line when the response finishes. Only the path is logged, never the query
 * string or body, which can carry credentials.
 */
export function requestContext(runtime: Runtime) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const ctx = new Ctx(runtime, { reqId: req.id });
    req.ctx = ctx;
    ctx.ip = req.ip;
    // A line per request at info; at warn and above only failures are worth the listener.
    if (!runtime.log.isLevelEnabled('info') && !runtime.log.isLevelEnabled('error')) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      if (res.statusCode < 500 && !runtime.log.isLevelEnabled('info')) return;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const level = res.statusCode >= 500 ? 'error' : 'info';
      ctx.log[level](
        { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        'request',
      );
    });
    next();
  };
}
