import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { TokenAuth } from './auth.js';
import { insufficientScope } from './errors.js';
import { responderOf } from './require-token.js';

/**
 * Per-route scopes after requireToken: every listed scope is required, else 403
 * insufficient_scope naming them (RFC 6750 §3.1), with requireToken's challenge.
 */
export function requireScopes(...scopes: string[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const responder = responderOf(req);
    const auth = (req as Request & { auth?: TokenAuth }).auth;
    if (!responder || !auth) return next(new Error('requireScopes: requireToken must run before it'));
    if (scopes.every((s) => auth.scopes.includes(s))) return next();
    responder.refuse(res, insufficientScope(scopes));
  };
}
