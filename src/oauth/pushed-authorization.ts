import { createHmac } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import { REQUEST_URI_PREFIX, takePushedRequest } from '../services/pushed-requests.js';
import { constantTimeEqual } from '../services/secrets.js';
import type { ServerKeys } from '../services/server-secrets.js';
import { formEncode, type Params, parseParams } from './params.js';

/**
 * Pushed authorization requests (RFC 9126) at the authorization endpoint.
 *
 * A `request_uri` is used up the moment the browser brings it to /o/authorize/ (RFC 9126 §4,
 * §7.3: one conditional DELETE, so of N parallel uses exactly one gets the parameters). The flow
 * may still need the login page and the consent page; those round trips carry the pushed
 * parameters forward as a *continuation*: `client_id` plus `pushed_request`, the parameters with
 * the time, under an HMAC with the server's signing secret (shared by every instance). Only the
 * server can make one, it is bound to its client, it lasts CONTINUATION_MAX_AGE_MS, and it is
 * marked as pushed, so a client that must use PAR (RFC 9126 §6) gets through its own login.
 */

/** The parameter that carries a continuation through the login page and the consent form. */
export const CONTINUATION_PARAM = 'pushed_request';
/** As long as a consent form is good for: the user may take time to log in and decide. */
export const CONTINUATION_MAX_AGE_MS = 10 * 60 * 1000;

/** Why a pushed request cannot be used: shown as a page, never redirected (RFC 9126 §4). */
export class PushedRequestError extends Error {
  override name = 'PushedRequestError';
}

/**
 * Does this request refer to a pushed one (a request_uri of ours, or a continuation of one)? Any
 * other request_uri (an OIDC request object by reference) is left to the check, which refuses it
 * with `request_uri_not_supported` (OIDC Core §6.2).
 */
export function refersToPushedRequest(params: Params): boolean {
  return params.get('request_uri')?.startsWith(REQUEST_URI_PREFIX) === true || params.has(CONTINUATION_PARAM);
}

/**
 * The parameters of the authorization request `params` stands for, and whether they were pushed.
 * With a request_uri (RFC 9126 §4) every other parameter but client_id is ignored; the
 * request_uri must have been pushed by that client, be unexpired and unused.
 */
export async function resolvePushedRequest(
  params: Params,
  applicationId: string,
  stores: { sql: Sql; keys: ServerKeys },
): Promise<Params> {
  const clientId = params.get('client_id') ?? '';
  const continuation = params.get(CONTINUATION_PARAM);
  if (continuation !== undefined && !params.get('request_uri')?.startsWith(REQUEST_URI_PREFIX)) {
    const carried = verifyContinuation(stores.keys, continuation, clientId);
    if (!carried) {
      throw new PushedRequestError(
        'This authorization request is no longer valid: it has expired or was changed. Start again from the application.',
      );
    }
    return carried;
  }
  const stored = await takePushedRequest(stores.sql, params.get('request_uri') ?? '', applicationId);
  if (stored === null) {
    throw new PushedRequestError(
      'The request_uri is unknown, has expired, was already used, or belongs to another application. Start again from the application.',
    );
  }
  return parseParams(stored);
}

/**
 * What a page hands on to continue an authorization request: the parameters themselves, or for a
 * pushed request its signed continuation (the pushed parameters never appear in a URL).
 */
export function carryForward(params: Params, pushed: boolean, keys: ServerKeys): Params {
  if (!pushed) return params;
  const clientId = params.get('client_id') ?? '';
  const payload = Buffer.from(JSON.stringify({ p: formEncode(params), t: Date.now() })).toString('base64url');
  return new Map([
    ['client_id', clientId],
    [CONTINUATION_PARAM, `${payload}.${mac(keys, clientId, payload)}`],
  ]);
}

function verifyContinuation(keys: ServerKeys, value: string, clientId: string): Params | null {
  if (value.length > 20_000) return null;
  const [payload, signature, extra] = value.split('.');
  if (!payload || !signature || extra !== undefined) return null;
  if (!constantTimeEqual(mac(keys, clientId, payload), signature)) return null;
  let data: { p?: unknown; t?: unknown };
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof data.p !== 'string' || typeof data.t !== 'number') return null;
  if (Date.now() - data.t > CONTINUATION_MAX_AGE_MS) return null;
  const params = parseParams(data.p);
  return params.get('client_id') === clientId ? params : null;
}

function mac(keys: ServerKeys, clientId: string, payload: string): string {
  return createHmac('sha256', keys.signing)
    .update(`pushed-request\0${clientId.length}:${clientId}\0${payload}`)
    .digest('base64url');
}
