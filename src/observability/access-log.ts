import type { ServerResponse } from 'node:http';
import { type Logger, moduleLog } from '../log.js';
import { recordRequest } from './metrics.js';
import { nameServerSpan } from './tracing.js';

/** One answered request, as every door reports it. */
export interface AccessRecord {
  /** `protocol` (src/oauth/door.ts), `pages` (Express) or `graphql`. */
  door: string;
  method: string;
  /** The registered route template (`/o/token/`, `/o/applications/:id/`), never the raw URL. */
  route: string;
  /** The path as requested (no query string: it can carry credentials). Logged, never a label. */
  path: string;
  status: number;
  /** `process.hrtime.bigint()` when the request arrived. */
  started: bigint;
  requestId: string;
  /** The OAuth `error` / GraphQL `extensions.code` of the answer, when it was an error. */
  error?: string;
  /** The client that authenticated (never a presented, unverified id). */
  clientId?: string;
}

/**
 * The one place a finished request is reported: the access-log line (module `access`), the
 * request metrics and the name of the request's trace span. Nothing from the query string, the
 * body or a header but the request id goes into it, so no credential can reach the log.
 */
export function accessLog(log: Logger, res: ServerResponse, r: AccessRecord): void {
  const ns = Number(process.hrtime.bigint() - r.started);
  recordRequest(r.door, r.route, r.method, r.status, r.error ?? '', ns / 1e9);
  const traceId = nameServerSpan(res, r.method, r.route, r.error);
  const access = moduleLog(log, 'access');
  const level = r.status >= 500 ? 'error' : 'info';
  if (!access.isLevelEnabled(level)) return;
  access[level](
    {
      reqId: r.requestId,
      method: r.method,
      route: r.route,
      path: r.path,
      status: r.status,
      ms: Math.round(ns / 1e5) / 10,
      ...(r.error ? { error: r.error } : {}),
      ...(r.clientId ? { client_id: r.clientId } : {}),
      ...(traceId ? { trace_id: traceId } : {}),
    },
    'request',
  );
}

const ERROR_CODE = /"error":"([a-z_]{1,64})"/;

/** The RFC 6749 §5.2 `error` code of a JSON error body the door built, or undefined. */
export function oauthErrorOf(status: number, body: string | undefined): string | undefined {
  if (status < 400 || !body) return undefined;
  return ERROR_CODE.exec(body.slice(0, 200))?.[1];
}
