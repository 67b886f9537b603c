import type { ClientRecord } from '../services/client-cache.js';
import { limitAddress } from '../services/limits.js';
import { matchesDigest } from '../services/secrets.js';
import type { TokenEndpointAuthMethod } from '../vocabulary.js';
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
  method: ClientAuthMethod;
}

/**
 * RFC 6749 §2.3 client authentication: HTTP Basic (credentials form-urlencoded before base64,
 * §2.3.1), client_secret_post, or a bare client_id for public clients. Exactly one method per
 * request, and it must be the one the client registered. Failures count towards the brute-force
 * limit per client id and address.
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
  const failure = verify(client, presented, basic);
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
  // Public clients have no secret; presenting one means something is wrong.
  if (presented.secret !== undefined)
    return invalidClient('A public client does not authenticate with a secret.', basic);
  return undefined;
}

function presentedCredentials(req: ProtocolRequest, params: Params): Presented | undefined {
  const header = req.header('authorization');
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
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
