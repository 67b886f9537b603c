import type { ClientRecord } from '../services/client-cache.js';
import { limitAddress } from '../services/limits.js';
import { matchesDigest } from '../services/secrets.js';
import { JWT_BEARER_ASSERTION_TYPE, type TokenEndpointAuthMethod } from '../vocabulary.js';
import { assertedClientId, assertionAudiences, verifyClientAssertion } from './client-assertion.js';
import { invalidClient, invalidRequest, type OAuthError, tooManyAttempts } from './errors.js';
import type { Params } from './params.js';
import type { ProtocolRequest } from './protocol-io.js';

/** How this request authenticated: one of the registrable methods (RFC 7591 §2). */
export type ClientAuthMethod = TokenEndpointAuthMethod;

export interface AuthenticatedClient {
  client: ClientRecord;
  method: ClientAuthMethod;
}

interface Presented {
  clientId: string;
  secret?: string;
  /** RFC 7523 §2.2 `client_assertion` (with the jwt-bearer `client_assertion_type`). */
  assertion?: string;
  method: ClientAuthMethod;
}

/**
 * RFC 6749 §2.3 client authentication: HTTP Basic (credentials form-urlencoded before base64,
 * §2.3.1), client_secret_post, a signed JWT (private_key_jwt, RFC 7523 §2.2), or a bare client_id
 * for public clients. Exactly one method per request, and it must be the one the client
 * registered. Every endpoint that authenticates clients (token, PAR, introspection, revocation,
 * device authorization) comes here. Failures — a wrong secret or a refused assertion alike —
 * count towards the brute-force limit per client id and address.
 */
export async function authenticateClient(req: ProtocolRequest, params: Params): Promise<AuthenticatedClient> {
  const presented = presentedCredentials(req, params);
  const basic = presented?.method === 'client_secret_basic';
  if (!presented) throw invalidClient('Client authentication is required.', false);
  const { runtime, ip } = req.ctx;
  const limiter = runtime.clientAuthLimiter;
  const limitKey = `client:${presented.clientId.slice(0, 100)}|${limitAddress(ip)}`;
  const max = runtime.config.limits.clientAuthMaxFailures;
  const wait = limiter.blocked(limitKey, max);
  if (wait > 0) throw tooManyAttempts('invalid_client', wait);

  const client = await runtime.clients.get(presented.clientId);
  // Asked again after the await, with nothing awaited between here and the failure being
  // counted: parallel guesses that all passed the first check stop once `max` have failed.
  const waitNow = limiter.blocked(limitKey, max);
  if (waitNow > 0) throw tooManyAttempts('invalid_client', waitNow);
  let failure = verify(client, presented, basic);
  if (!failure && presented.assertion !== undefined) {
    const audiences = assertionAudiences(runtime.config.issuer, req.path);
    failure = await verifyClientAssertion(req.ctx, client!, presented.assertion, audiences);
  }
  if (failure) {
    const state = await limiter.fail({ key: limitKey, max });
    if (state.blocked) throw tooManyAttempts('invalid_client', state.retryAfter);
    throw failure;
  }
  req.ctx.clientId = client!.clientId; // the access log names the authenticated client
  return { client: client!, method: presented.method };
}

function verify(client: ClientRecord | null, presented: Presented, basic: boolean): OAuthError | undefined {
  if (!client) return invalidClient('Client authentication failed.', basic);
  if (client.clientType === 'confidential') {
    if (presented.method === 'private_key_jwt' || client.tokenEndpointAuthMethod === 'private_key_jwt') {
      // The assertion itself is checked by the caller (it needs the keys, maybe a fetch).
      return presented.method === client.tokenEndpointAuthMethod
        ? undefined
        : invalidClient(`This client is registered for ${client.tokenEndpointAuthMethod}.`, basic);
    }
    if (presented.secret === undefined) {
      return invalidClient('This client must authenticate with its client secret.', basic);
    }
    // OIDC Core §9 / RFC 7591 §2: the registered method is the only one the client may use, so a
    // secret leaked through one channel (a logged body, a proxy's Authorization) is not enough.
    if (presented.method !== client.tokenEndpointAuthMethod) {
      return invalidClient(`This client is registered for ${client.tokenEndpointAuthMethod}.`, basic);
    }
    if (!matchesDigest(presented.secret, client.secretDigest))
      return invalidClient('Client authentication failed.', basic);
    return undefined;
  }
  // Public clients have no secret or keys; presenting one means something is wrong.
  if (presented.assertion !== undefined)
    return invalidClient('A public client does not authenticate with a client assertion.', basic);
  if (presented.secret !== undefined)
    return invalidClient('A public client does not authenticate with a secret.', basic);
  return undefined;
}

function presentedCredentials(req: ProtocolRequest, params: Params): Presented | undefined {
  const header = req.header('authorization');
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertion = presentedAssertion(params);
  if (assertion !== undefined) {
    if ((header && /^basic(\s|$)/i.test(header)) || bodySecret !== undefined) {
      throw invalidRequest(
        'Use one client authentication method: a client assertion or a client secret, not both.',
      );
    }
    // RFC 7521 §4.2: client_id is optional; when sent it must be the assertion's subject (checked
    // as iss = sub = client_id by the verification).
    const clientId = bodyId ?? assertedClientId(assertion);
    if (clientId === undefined)
      throw invalidClient('Client assertion refused: it is not a valid JWT.', false);
    return { clientId, assertion, method: 'private_key_jwt' };
  }
  if (header && /^basic(\s|$)/i.test(header)) {
    const { clientId, secret } = decodeBasic(header.slice(5).trim());
    if (bodySecret !== undefined) {
      throw invalidRequest(
        'Use one client authentication method: HTTP Basic or client_secret in the body, not both.',
      );
    }
    if (bodyId !== undefined && bodyId !== clientId) {
      throw invalidRequest('client_id in the body does not match the HTTP Basic credentials.');
    }
    return { clientId, secret, method: 'client_secret_basic' };
  }
  if (bodyId === undefined) return undefined;
  if (bodySecret !== undefined) return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
  return { clientId: bodyId, method: 'none' };
}

/** The RFC 7523 §2.2 assertion, if the request carries one (both parameters, the jwt-bearer type). */
function presentedAssertion(params: Params): string | undefined {
  const type = params.get('client_assertion_type');
  const assertion = params.get('client_assertion');
  if (type === undefined && assertion === undefined) return undefined;
  if (type !== JWT_BEARER_ASSERTION_TYPE) {
    throw invalidClient(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}.`, false);
  }
  if (!assertion) throw invalidClient('client_assertion is required with client_assertion_type.', false);
  return assertion;
}

/** Decodes `base64(urlencode(id) ":" urlencode(secret))`. */
export function decodeBasic(encoded: string): { clientId: string; secret: string } {
  if (!/^[A-Za-z0-9+/]+=*$/.test(encoded) || encoded.length > 2048) {
    throw invalidRequest('Malformed HTTP Basic credentials.');
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw invalidRequest('Malformed HTTP Basic credentials.');
  try {
    const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    if (clientId.includes('\0') || secret.includes('\0')) throw new Error('nul');
    return { clientId, secret };
  } catch {
    throw invalidRequest('Malformed HTTP Basic credentials.');
  }
}
