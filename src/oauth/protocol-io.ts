import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerCtx } from '../services/context.js';
import type { ProofRequest } from './dpop/index.js';
import type { Params } from './params.js';

/**
 * A request to a protocol endpoint, as the endpoint code sees it. The protocol door builds it
 * straight from Node's request (no Express on this path: the token endpoint is the hot path).
 */
export interface ProtocolRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  ctx: ServerCtx;
  /** Form parameters of a POST body, or the query of a GET (strictly parsed). */
  params: Params;
  /** The raw body of a `json` route's POST or PUT. */
  body?: Buffer;
  /** The raw query string (without `?`). */
  query: string;
  header(name: string): string | undefined;
}

/** What a DPoP proof check needs of a protocol request (src/oauth/dpop). */
export function proofRequest(req: ProtocolRequest, res: ProtocolResponse): ProofRequest {
  return {
    method: req.method,
    path: req.path,
    header: req.headers.dpop,
    setHeader: (name, value) => res.set(name, value),
  };
}

/** The answer being built; sent once by the door. */
export class ProtocolResponse {
  status = 200;
  readonly headers: Record<string, string> = {};
  body: string | undefined;

  set(name: string, value: string): this {
    this.headers[name] = value;
    return this;
  }

  setAll(headers: Readonly<Record<string, string>>): this {
    Object.assign(this.headers, headers);
    return this;
  }

  json(value: unknown, status = this.status): this {
    this.status = status;
    this.headers['Content-Type'] = 'application/json; charset=utf-8';
    this.body = JSON.stringify(value);
    return this;
  }

  send(type: string, body: string, status = this.status): this {
    this.status = status;
    this.headers['Content-Type'] = type;
    this.body = body;
    return this;
  }

  empty(status = 200): this {
    this.status = status;
    this.body = undefined;
    return this;
  }

  /** Writes to Node's response in one go. */
  writeTo(res: ServerResponse, headOnly = false): void {
    const body = this.body ?? '';
    this.headers['Content-Length'] = String(Buffer.byteLength(body));
    res.writeHead(this.status, this.headers);
    res.end(headOnly ? undefined : body);
  }
}

/**
 * An endpoint. Returning 'pass' hands the request, untouched, to the route's fallback (the
 * Express app): a fast path that covers the common case and leaves the rest to the full one.
 */
export type ProtocolHandler = (req: ProtocolRequest, res: ProtocolResponse) => Promise<Outcome> | Outcome;

/** A handler returns nothing (it answered) or 'pass'. */
// biome-ignore lint/suspicious/noConfusingVoidType: handlers are plain (async) functions that usually return nothing
type Outcome = void | 'pass';
