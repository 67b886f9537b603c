import type { NextFunction, Request, Response } from 'express';
import { isUnavailable } from '../db/sql.js';

/**
 * Renders an error for whoever asked: each door installs its own handler first (OAuth JSON,
 * HTML pages, GraphQL); this one catches what is left. It never sends a stack trace.
 */
export function finalErrorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(err);
    if (status >= 500) {
      req.ctx?.log.error({ err: describe(err) }, 'unhandled error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    const unavailable = status === 503;
    res.status(status).set('Cache-Control', 'no-store');
    if (req.accepts(['json', 'html']) === 'html') {
      res
        .type('html')
        .send(
          `<!doctype html><meta charset="utf-8"><title>Error</title><p>${
            unavailable
              ? 'The service is temporarily unavailable. Please try again shortly.'
              : 'Something went wrong.'
          }</p>`,
        );
      return;
    }
    res.json(
      unavailable
        ? { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable.' }
        : status < 500
          ? { error: 'invalid_request', error_description: 'The request could not be processed.' }
          : { error: 'server_error', error_description: 'An unexpected error occurred.' },
    );
  };
}

/** Body-parser and similar errors carry a 4xx status; database outages are 503; all else 500. */
export function httpStatusOf(err: unknown): number {
  if (isUnavailable(err)) return 503;
  const status =
    (err as { status?: unknown; statusCode?: unknown } | null)?.status ??
    (err as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) return status;
  return 500;
}

/** What may be logged about an error: name, message, code and stack, never request data. */
export function describe(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, code: (err as { code?: unknown }).code, stack: err.stack };
  }
  return { value: String(err) };
}
