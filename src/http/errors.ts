import type { NextFunction, Request, Response } from 'express';
import { isUnavailable } from '../db/sql.js';
import { BusyError } from '../services/errors.js';

/**
 * A request that cannot be served now but may succeed shortly: the database is not answering,
 * or the argon2 gate is full. Every door (OAuth JSON, pages, GraphQL, the final handler) asks
 * `temporaryUnavailability` and renders the answer in its own format as a 503 with Retry-After.
 */
export interface TemporaryUnavailability {
  readonly cause: 'database' | 'busy';
  readonly retryAfterSeconds: number;
}

/** Retry-After for a database outage: long enough for a pool reconnect or a failover. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

const DATABASE_OUTAGE: TemporaryUnavailability = Object.freeze({
  cause: 'database',
  retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
});

/** Wrappers (GraphQL's originalError, ORM and driver `cause`) nest the real error this deep at most. */
const MAX_WRAPPING = 4;

/** The one decision "is this error a temporary unavailability (503)?"; undefined for any other error. */
export function temporaryUnavailability(err: unknown): TemporaryUnavailability | undefined {
  let current = err;
  for (let depth = 0; depth <= MAX_WRAPPING && current != null; depth++) {
    if (current instanceof BusyError) return { cause: 'busy', retryAfterSeconds: current.retryAfter };
    if (isUnavailable(current)) return DATABASE_OUTAGE;
    const wrapper = current as { originalError?: unknown; cause?: unknown };
    current = wrapper.originalError ?? wrapper.cause;
  }
  return undefined;
}

/**
 * Renders an error for whoever asked: each door installs its own handler first (OAuth JSON,
 * HTML pages, GraphQL); this one catches what is left. It never sends a stack trace.
 */
export function finalErrorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const unavailable = temporaryUnavailability(err);
    const status = unavailable ? 503 : carriedStatusOf(err);
    if (status >= 500) {
      req.ctx?.log.error({ err: describe(err) }, 'unhandled error');
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).set('Cache-Control', 'no-store');
    if (unavailable) res.set('Retry-After', String(unavailable.retryAfterSeconds));
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

/** Body-parser and similar errors carry their 4xx (or 5xx) status; all else is 500. */
function carriedStatusOf(err: unknown): number {
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
