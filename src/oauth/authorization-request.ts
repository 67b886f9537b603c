import type { Config } from '../config/index.js';
import type { ClientCache, ClientRecord } from '../services/client-cache.js';
import { ClientMetadataDocumentError } from '../services/client-metadata-documents.js';
import type { Runtime } from '../services/context.js';
import type { ResourceRecord } from '../services/resources.js';
import { FAPI2_MAX_CODE_TTL } from '../vocabulary.js';
import { JKT } from './dpop/proof.js';
import { invalidRequest, OAuthError, unauthorizedClient, unsupportedResponseType } from './errors.js';
import type { Params } from './params.js';
import { scopeParam } from './params.js';
import { type ChallengeMethod, checkChallenge } from './pkce.js';
import { PushedRequestError, refersToPushedRequest, resolvePushedRequest } from './pushed-authorization.js';
import { matchRedirectUri } from './redirect-uris.js';
import { knownResources, lookUpResources, resolveScopesFor } from './resource-indicators.js';
import { resolveScopes } from './scopes.js';

/**
 * An error that must not be redirected (RFC 6749 §4.1.2.1): the client or redirect URI cannot
 * be trusted, so the user sees a page instead.
 */
export class AuthorizationPageError extends Error {
  override name = 'AuthorizationPageError';
  constructor(
    readonly title: string,
    readonly detail: string,
    /** 400 unless the request may succeed later (429 with Retry-After). */
    readonly status = 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(title);
  }
}

/** Where and how to answer once client and redirect URI are known to be good. */
export interface RedirectTarget {
  redirectUri: string;
  responseMode: 'query' | 'fragment';
  state?: string;
}

/** An error to send back to the client's redirect URI (RFC 6749 §4.1.2.1, §4.2.2.1). */
export class AuthorizationRedirectError extends Error {
  override name = 'AuthorizationRedirectError';
  constructor(
    readonly target: RedirectTarget,
    readonly reason: OAuthError,
  ) {
    super(reason.message);
  }
}

export type Prompt = 'none' | 'login' | 'consent';

export interface AuthorizationRequest {
  client: ClientRecord;
  target: RedirectTarget;
  /** The redirect_uri as sent, or null when the client relied on its only registered one. */
  redirectUriSent: string | null;
  responseType: 'code' | 'token';
  scopes: string[];
  /** The resources (RFC 8707 §2) the request names; the grant and the code cover them all. */
  resources: ResourceRecord[];
  nonce?: string;
  /** RFC 9449 §10: the DPoP key (thumbprint) the code is bound to, or null. */
  dpopJkt: string | null;
  pkce: { challenge: string; method: ChallengeMethod } | null;
  /** How long the code issued for this request lives (AUTHORIZATION_CODE_TTL, ≤ 60 s for FAPI 2.0). */
  codeTtlSeconds: number;
  prompt: Set<Prompt>;
  maxAge?: number;
  /** OIDC Core §3.1.2.1 `acr_values`, in the client's order of preference. */
  acrValues: string[];
  loginHint?: string;
  /**
   * The parameters as received — for a pushed request, as pushed — to rebuild the request after
   * login or consent (src/oauth/pushed-authorization.ts carries pushed ones forward).
   */
  params: Params;
  /** Pushed to /o/par/ (RFC 9126) by the authenticated client, not sent through the browser. */
  pushed: boolean;
}

/**
 * Looks up the client and the resources an authorization request names (both cached), then
 * validates the request against them. A `request_uri` (RFC 9126 §4) is first exchanged, once,
 * for the parameters its client pushed. `clientIp`: who sent it (a client ID metadata document
 * fetch it causes is counted against that address).
 */
export async function parseAuthorizationRequest(
  received: Params,
  stores: Pick<Runtime, 'clients' | 'resources' | 'db' | 'keys'>,
  config: Config,
  clientIp: string | undefined,
): Promise<AuthorizationRequest> {
  const clientId = received.get('client_id');
  const client = clientId ? await clientForAuthorization(stores.clients, clientId, clientIp) : null;
  const pushed = refersToPushedRequest(received);
  let params = received;
  // Without a client the check below answers (a page): nothing pushed is touched.
  if (pushed && client) {
    try {
      params = await resolvePushedRequest(received, client.id, { sql: stores.db.sql, keys: stores.keys });
    } catch (err) {
      if (err instanceof PushedRequestError)
        throw new AuthorizationPageError('Authorization request unusable', err.message);
      throw err;
    }
  }
  const resources = await lookUpResources(stores.resources, params);
  return checkAuthorizationRequest(params, client, config, resources, pushed);
}

/**
 * A client identifier URL whose document cannot be used is a page, never a redirect: without a
 * document there are no redirect URIs to trust (CIMD §4, RFC 6749 §4.1.2.1).
 */
async function clientForAuthorization(
  clients: ClientCache,
  clientId: string,
  ip: string | undefined,
): Promise<ClientRecord | null> {
  try {
    return await clients.forAuthorization(clientId, { ip });
  } catch (err) {
    if (!(err instanceof ClientMetadataDocumentError)) throw err;
    if (err.reason === 'rate_limited') {
      throw new AuthorizationPageError('Too many requests', err.message, 429, {
        'Retry-After': String(err.retryAfter),
      });
    }
    throw new AuthorizationPageError(
      err.reason === 'fetch_failed' ? 'Application unavailable' : 'Invalid application',
      err.message,
    );
  }
}

/**
 * Validates an authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2.1) against
 * the client it names (null: none registered), without I/O, in two phases: client and redirect
 * URI (failures are pages), then everything else (failures go back to the client's redirect URI
 * with `state`).
 */
export function checkAuthorizationRequest(
  params: Params,
  client: ClientRecord | null,
  config: Config,
  lookedUp: ReadonlyMap<string, ResourceRecord | null> = new Map(),
  pushed = false,
): AuthorizationRequest {
  if (!params.get('client_id'))
    throw new AuthorizationPageError(
      'Missing client_id',
      'The request does not say which application is asking.',
    );
  if (!client) {
    throw new AuthorizationPageError(
      'Unknown application',
      'No application is registered with this client_id.',
    );
  }
  const sent = params.get('redirect_uri') ?? null;
  let redirectUri: string;
  if (sent !== null) {
    if (!matchRedirectUri(sent, client.redirectUris)) {
      // Shown so that a developer can compare it with the registered ones; the page escapes it.
      throw new AuthorizationPageError(
        'Redirect URI not registered',
        `The redirect_uri in this request (${shorten(sent, 200)}) is not registered for the application, so Latchkey will not send you there.`,
      );
    }
    redirectUri = sent;
  } else if (client.redirectUris.length === 1) {
    redirectUri = client.redirectUris[0];
  } else {
    throw new AuthorizationPageError(
      'Missing redirect URI',
      'The application has several redirect URIs registered, so the request must name one (redirect_uri).',
    );
  }

  const responseTypeRaw = params.get('response_type');
  const responseType = responseTypeRaw === 'token' ? 'token' : 'code';
  const target: RedirectTarget = {
    redirectUri,
    responseMode: responseType === 'token' ? 'fragment' : 'query',
    state: params.get('state'),
  };
  const fail = (err: OAuthError): never => {
    throw new AuthorizationRedirectError(target, err);
  };
  {
    const responseMode = params.get('response_mode');
    if (responseMode !== undefined) {
      if (responseMode !== 'query' && responseMode !== 'fragment')
        fail(invalidRequest('Unsupported response_mode.'));
      if (responseType === 'token' && responseMode === 'query') {
        fail(invalidRequest('response_mode=query is not allowed with response_type=token.'));
      }
      target.responseMode = responseMode as 'query' | 'fragment';
    }
    if (!responseTypeRaw) fail(invalidRequest('The response_type parameter is required.'));
    if (responseTypeRaw !== 'code' && responseTypeRaw !== 'token') {
      fail(
        unsupportedResponseType(
          'Only response_type=code (and token for applications that opt in) is supported.',
        ),
      );
    }
    if (params.has('request'))
      fail(new OAuthError('request_not_supported', 'Request objects are not supported.'));
    // Ours (RFC 9126) are resolved before this check (parseAuthorizationRequest), and pushed
    // parameters never hold one (the PAR endpoint refuses it): any left is a request object URL.
    if (params.has('request_uri'))
      fail(
        new OAuthError(
          'request_uri_not_supported',
          'Only a request_uri from the pushed authorization request endpoint is accepted.',
        ),
      );
    // RFC 9126 §6: the server (REQUIRE_PAR) or this application requires pushed requests.
    if (!pushed && (config.requirePar || client.requirePar)) {
      fail(
        invalidRequest(
          'This application must push its authorization requests to the pushed authorization request endpoint (RFC 9126).',
        ),
      );
    }
    if (responseType === 'code' && !client.grantTypes.includes('authorization_code')) {
      fail(unauthorizedClient('This application may not use the authorization code grant.'));
    }
    if (responseType === 'token' && !client.grantTypes.includes('implicit')) {
      fail(unauthorizedClient('This application may not use the implicit grant.'));
    }
    let scopes: string[] = [];
    let resources: ResourceRecord[] = [];
    try {
      resources = knownResources(params, lookedUp);
      // Implicit tokens are issued here, and one access token has one audience.
      if (responseType === 'token' && resources.length > 1) {
        fail(new OAuthError('invalid_target', 'The implicit grant issues a token for one resource at most.'));
      }
      scopes = resolveScopesFor((r) => resolveScopes(r, client, config), scopeParam(params), resources);
    } catch (err) {
      if (err instanceof OAuthError) fail(err);
      throw err;
    }
    let pkce: AuthorizationRequest['pkce'] = null;
    try {
      pkce = checkChallenge(params.get('code_challenge'), params.get('code_challenge_method'), config);
    } catch (err) {
      if (err instanceof OAuthError) fail(err);
      throw err;
    }
    if (responseType === 'code' && client.clientType === 'public' && !pkce) {
      fail(
        invalidRequest(
          'PKCE is required for public clients: send code_challenge with code_challenge_method=S256.',
        ),
      );
    }
    const fapi2 = client.profile === 'fapi2';
    if (fapi2 && pkce?.method !== 'S256') {
      fail(
        invalidRequest(
          'This application follows FAPI 2.0: PKCE with code_challenge_method=S256 is required.',
        ),
      );
    }
    const nonce = params.get('nonce');
    if (responseType === 'token' && scopes.includes('openid') && !nonce) {
      fail(invalidRequest('nonce is required for the implicit flow.'));
    }
    if (nonce && nonce.length > 512) fail(invalidRequest('nonce is too long.'));
    const dpopJkt = params.get('dpop_jkt') ?? null;
    if (dpopJkt !== null && !JKT.test(dpopJkt)) {
      fail(invalidRequest('dpop_jkt must be a base64url SHA-256 JWK thumbprint (RFC 9449 section 10).'));
    }
    // An implicit token leaves through the browser: it cannot be bound to a DPoP key.
    if (responseType === 'token' && client.requireDpop) {
      fail(unauthorizedClient('This application requires DPoP: use the authorization code flow.'));
    }
    if ((target.state?.length ?? 0) > 2048) fail(invalidRequest('state is too long.'));
    const prompt = new Set<Prompt>();
    for (const p of (params.get('prompt') ?? '').split(' ').filter(Boolean)) {
      if (p !== 'none' && p !== 'login' && p !== 'consent') {
        fail(invalidRequest(`Unsupported prompt value "${p.slice(0, 30)}".`));
      }
      prompt.add(p as Prompt);
    }
    if (prompt.has('none') && prompt.size > 1)
      fail(invalidRequest('prompt=none cannot be combined with other values.'));
    let maxAge: number | undefined;
    const maxAgeRaw = params.get('max_age');
    if (maxAgeRaw !== undefined) {
      if (!/^\d{1,9}$/.test(maxAgeRaw)) fail(invalidRequest('max_age must be a non-negative integer.'));
      maxAge = Number(maxAgeRaw);
    }
    const acrValues = (params.get('acr_values') ?? '').split(' ').filter(Boolean);
    if (acrValues.length > 10 || acrValues.some((v) => v.length > 200))
      fail(invalidRequest('acr_values is too long.'));
    return {
      client,
      target,
      redirectUriSent: sent,
      responseType,
      scopes,
      resources,
      nonce,
      dpopJkt,
      pkce,
      codeTtlSeconds: fapi2
        ? Math.min(config.ttl.authorizationCode, FAPI2_MAX_CODE_TTL)
        : config.ttl.authorizationCode,
      prompt,
      maxAge,
      acrValues,
      loginHint: params.get('login_hint'),
      params,
      pushed,
    };
  }
}

function shorten(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** Builds the redirect back to the client: query or fragment, always with `iss` (RFC 9207). */
export function redirectWith(
  target: RedirectTarget,
  values: Record<string, string | undefined>,
  issuer: string,
): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out.set(k, v);
  if (target.state !== undefined) out.set('state', target.state);
  out.set('iss', issuer);
  if (target.responseMode === 'fragment') {
    const base = target.redirectUri.split('#')[0];
    return `${base}#${out.toString()}`;
  }
  const sep = target.redirectUri.includes('?') ? '&' : '?';
  return `${target.redirectUri}${sep}${out.toString()}`;
}
