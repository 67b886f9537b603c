import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress } from '../http/client-address.js';
import { describe, temporaryUnavailability } from '../http/errors.js';
import { requestIdOf } from '../http/request-id.js';
import { accessLog, oauthErrorOf } from '../observability/access-log.js';
import { Ctx, type Runtime } from '../services/context.js';
import { invalidRequest, OAuthError, sendOAuthError, temporarilyUnavailable } from './errors.js';
import { type Params, parseBody, parseParams } from './params.js';
import { type ProtocolHandler, type ProtocolRequest, ProtocolResponse } from './protocol-io.js';

/** How an endpoint takes its input. */
type BodyKind = 'form' | 'optional-form' | 'json';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ProtocolRoute {
  /** Handlers by method; HEAD is answered by GET. */
  methods: Partial<Record<Method, ProtocolHandler>>;
  /**
   * POST bodies: `form` must be form-encoded; `optional-form` may be empty or form-encoded;
   * `json`: POST and PUT bodies are handed over raw (`ProtocolRequest.body`), the handler parses.
   */
  body?: BodyKind;
  /** Methods announced to CORS preflights; absent: no CORS at all. */
  cors?: string;
  /** Answers CORS preflights (unauthenticated: any origin some application registered). */
  preflight?: ProtocolHandler;
  /**
   * Any origin may call it, preflights included (`Access-Control-Allow-Origin: *`, never
   * credentials): for endpoints a client reaches before it has an identity (registration), which
   * rely on no cookie or ambient authority, only on what the request itself carries.
   */
  anyOrigin?: string;
  /** GET only: leave the query unparsed (the handler parses it, or passes). */
  rawQuery?: boolean;
  /** Where a handler's 'pass' sends the request (the Express app). */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

const ANY_ORIGIN = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'WWW-Authenticate, Retry-After',
};
const EMPTY: Params = new Map();

/**
 * The door for the JSON protocol endpoints (token, revocation, introspection, device
 * authorization, userinfo, JWKS, metadata, health). It runs on Node's request directly: these
 * are the hot paths, and Express's per-request machinery alone costs more than issuing a token.
 * Pages and GraphQL go through Express. Every answer is JSON, every error an RFC error body.
 */
export class ProtocolDoor {
  private readonly routes = new Map<string, ProtocolRoute>();
  /** Routes that also serve every path below them (`/o/register/<client_id>`). */
  private readonly prefixes: [string, ProtocolRoute][] = [];
  /** Each route's registered path: its label in metrics, logs and traces (never the raw URL). */
  private readonly labels = new Map<ProtocolRoute, string>();
  private readonly addressOf: (req: IncomingMessage) => string | undefined;

  constructor(private readonly runtime: Runtime) {
    this.addressOf = clientAddress(runtime.config.trustProxy);
  }

  /** Registers a path; `/o/token/` also answers `/o/token` (Express's non-strict routing). */
  route(path: string, route: ProtocolRoute): this {
    this.routes.set(path.replace(/\/$/, ''), route);
    if (!this.labels.has(route)) this.labels.set(route, path);
    return this;
  }

  /** Registers `path` and every path below it. */
  routeTree(path: string, route: ProtocolRoute): this {
    this.route(path, route);
    this.prefixes.push([path.endsWith('/') ? path : `${path}/`, route]);
    return this;
  }

  /** The route for a request path, if this door serves it. */
  match(pathname: string): ProtocolRoute | undefined {
    const exact = this.routes.get(
      pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname,
    );
    if (exact || this.prefixes.length === 0) return exact;
    return this.prefixes.find(([prefix]) => pathname.startsWith(prefix))?.[1];
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    route: ProtocolRoute,
    pathname: string,
    query: string,
  ) {
    const asked = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (route.fallback && !(asked in route.methods)) {
      route.fallback(req, res);
      return;
    }
    const started = process.hrtime.bigint();
    const id = requestIdOf(req.headers['x-request-id']);
    const ctx = new Ctx(this.runtime, { reqId: id });
    ctx.resolveIp(() => this.addressOf(req));
    const out = new ProtocolResponse();
    out.setAll({ 'X-Request-Id': id, 'X-Content-Type-Options': 'nosniff' });
    if (route.cors) out.set('Vary', 'Origin');
    if (route.anyOrigin) out.setAll(ANY_ORIGIN);
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    try {
      const handler = this.handlerFor(route, method);
      let body: Buffer | undefined;
      let params = EMPTY;
      if (route.body === 'json' && (method === 'POST' || method === 'PUT')) {
        body = await this.readRaw(req);
      } else if (!(route.rawQuery && method === 'GET')) {
        params = await this.readParams(req, route, method, query);
      }
      const request: ProtocolRequest = {
        body,
        method,
        path: pathname,
        headers: req.headers,
        ctx,
        params,
        query,
        header: (name) => {
          const value = req.headers[name.toLowerCase()];
          return Array.isArray(value) ? value.join(', ') : value;
        },
      };
      if ((await handler(request, out)) === 'pass' && route.fallback) {
        route.fallback(req, res);
        return;
      }
    } catch (err) {
      this.fail(ctx, out, err);
    }
    if (!res.destroyed) out.writeTo(res, req.method === 'HEAD');
    accessLog(this.runtime.log, res, {
      door: 'protocol',
      method: req.method ?? '',
      route: this.labels.get(route) ?? 'unmatched',
      path: pathname,
      status: out.status,
      started,
      requestId: id,
      error: oauthErrorOf(out.status, out.body),
      clientId: ctx.clientId,
    });
  }

  private handlerFor(route: ProtocolRoute, method: string): ProtocolHandler {
    if (method === 'OPTIONS' && route.preflight) return route.preflight;
    if (method === 'OPTIONS' && route.anyOrigin) {
      const methods = route.anyOrigin;
      return (_req, res) => {
        res.setAll({
          'Access-Control-Allow-Methods': methods,
          'Access-Control-Allow-Headers': 'Authorization, Content-Type',
          'Access-Control-Max-Age': '600',
        });
        res.empty(204);
      };
    }
    const handler = route.methods[method as Method];
    if (handler) return handler;
    const allowed = [
      ...Object.keys(route.methods),
      ...(route.preflight || route.anyOrigin ? ['OPTIONS'] : []),
    ].join(', ');
    throw new OAuthError('invalid_request', `This endpoint accepts ${allowed}.`, 405, { Allow: allowed });
  }

  private async readParams(
    req: IncomingMessage,
    route: ProtocolRoute,
    method: string,
    query: string,
  ): Promise<Params> {
    if (method === 'GET') return query ? parseParams(query) : EMPTY;
    if (method !== 'POST') return EMPTY;
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const form = type === 'application/x-www-form-urlencoded';
    if (route.body === 'form' && !form)
      throw invalidRequest('The request body must be application/x-www-form-urlencoded.');
    const body = await this.readRaw(req);
    return form ? parseBody(body) : EMPTY;
  }

  private readRaw(req: IncomingMessage): Promise<Buffer> {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity')
      throw new OAuthError('invalid_request', 'Compressed request bodies are not accepted.', 415);
    return readBody(req, this.runtime.config.bodyLimitBytes);
  }

  private fail(ctx: Ctx, out: ProtocolResponse, err: unknown): void {
    if (err instanceof OAuthError) {
      sendOAuthError(out, err);
      return;
    }
    const unavailable = temporaryUnavailability(err);
    if (unavailable) {
      sendOAuthError(out, temporarilyUnavailable(unavailable.retryAfterSeconds));
      return;
    }
    ctx.log.error({ err: describe(err) }, 'protocol endpoint failed');
    sendOAuthError(out, new OAuthError('server_error', 'An unexpected error occurred.', 500));
  }
}

/** Reads a request body up to `limit` bytes; more is a 413 (and the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new OAuthError('invalid_request', 'The request body is too large.', 413));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.resume();
        reject(new OAuthError('invalid_request', 'The request body is too large.', 413));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    req.on('error', () => {
      if (done) return;
      done = true;
      reject(invalidRequest('The request body could not be read.'));
    });
  });
}
