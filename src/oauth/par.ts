import { pushAuthorizationRequest } from '../services/pushed-requests.js';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  checkAuthorizationRequest,
} from './authorization-request.js';
import { authenticateClient } from './client-auth.js';
import { allowClientOrigin } from './cors.js';
import { invalidRequest } from './errors.js';
import { formEncode } from './params.js';
import type { ProtocolRequest, ProtocolResponse } from './protocol-io.js';
import { lookUpResources } from './resource-indicators.js';

/** Client authentication travels with the push; it is not part of the authorization request. */
const CLIENT_AUTH_PARAMS = ['client_secret', 'client_assertion', 'client_assertion_type'];

/**
 * POST /o/par/ (RFC 9126 §2): the client authenticates (any method it registered, §2.1), the
 * request is checked by the same rules as at the authorization endpoint (one check,
 * checkAuthorizationRequest), stored for PAR_TTL seconds, and answered 201 with its single-use
 * `request_uri` (§2.2). Errors are the token endpoint's JSON errors (§2.3), never redirects.
 */
export async function parEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  const { ctx } = req;
  const { client } = await authenticateClient(req, req.params);
  allowClientOrigin(req, res, client);
  res.setAll({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  if (req.params.has('request_uri')) {
    throw invalidRequest('request_uri cannot be used in a pushed authorization request (RFC 9126 §2.1).');
  }
  const params = new Map(req.params);
  for (const name of CLIENT_AUTH_PARAMS) params.delete(name);
  // §2.1: the client is the authenticated one (client_id may be left out with HTTP Basic).
  params.set('client_id', client.clientId);
  try {
    const resources = await lookUpResources(ctx.runtime.resources, params);
    checkAuthorizationRequest(params, client, ctx.config, resources, true);
  } catch (err) {
    if (err instanceof AuthorizationPageError) throw invalidRequest(err.detail);
    if (err instanceof AuthorizationRedirectError) throw err.reason;
    throw err;
  }
  const pushed = await pushAuthorizationRequest(
    ctx.sql,
    client.id,
    formEncode(params),
    ctx.config.ttl.pushedRequest,
  );
  res.json({ request_uri: pushed.requestUri, expires_in: pushed.expiresIn }, 201);
}
