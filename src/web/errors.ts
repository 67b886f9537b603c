import type { NextFunction, Request, Response } from 'express';
import { isUnavailable } from '../db/sql.js';
import { describe } from '../http/errors.js';
import { BusyError } from '../services/errors.js';

/** An error meant for a person: the status, a title and a sentence, rendered as a page. */
export class WebError extends Error {
  override name = 'WebError';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(title);
  }
}

/** Renders every error on the pages as a readable page: never a stack trace. */
export function webErrorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let page: WebError;
    if (err instanceof WebError) {
      page = err;
    } else if (err instanceof BusyError) {
      page = new WebError(503, 'Server busy', 'The server is busy right now. Please try again in a moment.', {
        'Retry-After': String(err.retryAfter),
      });
    } else if (isUnavailable(err)) {
      page = new WebError(
        503,
        'Temporarily unavailable',
        'The service is temporarily unavailable. Please try again in a moment.',
        {
          'Retry-After': '5',
        },
      );
    } else {
      const status = (err as { status?: unknown })?.status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        page = new WebError(
          status,
          'Bad request',
          'The request could not be understood. Go back and try again.',
        );
      } else {
        req.ctx.log.error({ err: describe(err) }, 'page error');
        page = new WebError(500, 'Something went wrong', 'An unexpected error occurred. Please try again.');
      }
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(page.status).set({ 'Cache-Control': 'no-store', ...page.headers });
    res.render('error', {
      title: page.title,
      status: page.status,
      detail: page.detail,
      viewer: req.browserSession?.user,
    });
  };
}
