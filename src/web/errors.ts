import type { NextFunction, Request, Response } from 'express';
import { describe, type TemporaryUnavailability, temporaryUnavailability } from '../http/errors.js';

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
    const page = pageFor(err, req);
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

function pageFor(err: unknown, req: Request): WebError {
  if (err instanceof WebError) return err;
  const unavailable = temporaryUnavailability(err);
  if (unavailable) return unavailablePage(unavailable);
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new WebError(status, 'Bad request', 'The request could not be understood. Go back and try again.');
  }
  req.ctx.log.error({ err: describe(err) }, 'page error');
  return new WebError(500, 'Something went wrong', 'An unexpected error occurred. Please try again.');
}

/** The 503 page: the cause decides the sentence, the shared rule decides Retry-After. */
function unavailablePage(unavailable: TemporaryUnavailability): WebError {
  const headers = { 'Retry-After': String(unavailable.retryAfterSeconds) };
  return unavailable.cause === 'busy'
    ? new WebError(503, 'Server busy', 'The server is busy right now. Please try again in a moment.', headers)
    : new WebError(
        503,
        'Temporarily unavailable',
        'The service is temporarily unavailable. Please try again in a moment.',
        headers,
      );
}
