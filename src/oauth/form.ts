import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { invalidRequest, OAuthError } from './errors.js';
import { type Params, parseBody } from './params.js';

declare global {
  namespace Express {
    interface Request {
      /** Strictly parsed form parameters of an OAuth endpoint. */
      oauthParams?: Params;
    }
  }
}

/**
 * Body handling for the form-encoded OAuth endpoints: POST only, Content-Type
 * application/x-www-form-urlencoded, at most BODY_LIMIT_BYTES, strict UTF-8 and strict parsing.
 * Anything else becomes an RFC error before an endpoint sees it.
 */
export function oauthForm(limitBytes: number): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  return [
    (req: Request, _res: Response, next: NextFunction) => {
      if (req.method !== 'POST') {
        next(
          new OAuthError('invalid_request', 'This endpoint accepts POST requests only.', 405, {
            Allow: 'POST, OPTIONS',
          }),
        );
        return;
      }
      const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/x-www-form-urlencoded') {
        next(invalidRequest('The request body must be application/x-www-form-urlencoded.'));
        return;
      }
      next();
    },
    (req, res, next) => {
      raw(req, res, (err?: unknown) => {
        if (err) {
          const status = (err as { status?: number }).status;
          next(
            status === 413
              ? new OAuthError('invalid_request', 'The request body is too large.', 413)
              : invalidRequest('The request body could not be read.'),
          );
          return;
        }
        next();
      });
    },
    (req, _res, next) => {
      try {
        req.oauthParams = parseBody(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
        next();
      } catch (err) {
        next(err);
      }
    },
  ];
}
