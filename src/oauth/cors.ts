import type { NextFunction, Request, Response } from 'express';
import type { ClientRecord } from '../services/client-cache.js';

/**
 * CORS for the endpoints browsers call cross-origin (token, revoke, introspect, userinfo):
 * preflights are answered without authentication for any origin an application registered;
 * an actual response allows the origin only if the authenticated client registered it.
 * Never credentials. The authorization endpoint never sends CORS headers.
 */
export function corsPreflight(methods: string) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      res.vary('Origin');
      const origin = req.get('origin');
      if (origin && (await req.ctx.runtime.clients!.isRegisteredOrigin(origin))) {
        res.set({
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Allow-Methods': methods,
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, DPoP',
          'Access-Control-Max-Age': '600',
        });
      }
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  };
}

/** Allows the request's origin on this response if the client registered it. */
export function allowClientOrigin(req: Request, res: Response, client: ClientRecord): void {
  const origin = req.get('origin');
  if (origin && client.allowedOrigins.includes(origin)) {
    res.set('Access-Control-Allow-Origin', origin);
    res.set('Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After');
  }
}

/** Every response of a CORS endpoint depends on Origin. */
export function varyOrigin(_req: Request, res: Response, next: NextFunction): void {
  res.vary('Origin');
  next();
}
