import { consumeInitialAccessToken, refundInitialAccessToken } from '../db/tables/initial-access-tokens.js';
import { Application } from '../entities/Application.js';
import {
  type ApplicationInput,
  createApplication,
  deleteApplication,
  updateApplication,
} from '../services/applications.js';
import type { ServerCtx } from '../services/context.js';
import { DomainError, NotFoundError, ValidationError } from '../services/errors.js';
import { countAttempt, limitAddress } from '../services/limits.js';
import { digest, matchesDigest, newCredential } from '../services/secrets.js';
import {
  GRANT_TYPES,
  type GrantType,
  TOKEN_ENDPOINT_AUTH_METHODS,
  type TokenEndpointAuthMethod,
} from '../vocabulary.js';
import { bearerToken } from './bearer.js';
import { invalidToken, OAuthError, tooManyAttempts } from './errors.js';
import type { ProtocolHandler, ProtocolRequest } from './protocol-io.js';

/** RFC 7591 §3.2.2 errors. */
const invalidMetadata = (d: string) => new OAuthError('invalid_client_metadata', d);
const invalidRedirectUri = (d: string) => new OAuthError('invalid_redirect_uri', d);

const REGISTER_PATH = '/o/register/';
const CLIENT_ID_SHAPE = /^[\w-]{1,64}$/;
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** RFC 7591 §2 client metadata as a client sends it, checked for shape only. */
function parseMetadata(body: Buffer | undefined): ApplicationInput {
  let raw: unknown;
  try {
    raw = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8'));
  } catch {
    throw invalidMetadata('The request body must be a JSON object of client metadata (RFC 7591 section 2).');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidMetadata('The request body must be a JSON object of client metadata (RFC 7591 section 2).');
  }
  const m = raw as Record<string, unknown>;
  const strings = (name: string): string[] | undefined => {
    const v = m[name];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      const err = `${name} must be an array of strings.`;
      throw name === 'redirect_uris' ? invalidRedirectUri(err) : invalidMetadata(err);
    }
    return v as string[];
  };
  const string = (name: string): string | undefined => {
    const v = m[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalidMetadata(`${name} must be a string.`);
    return v;
  };
  const boolean = (name: string): boolean | undefined => {
    const v = m[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw invalidMetadata(`${name} must be true or false.`);
    return v;
  };
  const method = (string('token_endpoint_auth_method') ?? 'client_secret_basic') as TokenEndpointAuthMethod;
  if (!TOKEN_ENDPOINT_AUTH_METHODS.includes(method)) {
    throw invalidMetadata(
      `token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}.`,
    );
  }
  const grantTypes = (strings('grant_types') ?? ['authorization_code']) as GrantType[];
  for (const g of grantTypes) {
    if (!GRANT_TYPES.includes(g)) throw invalidMetadata(`Unknown grant type "${g.slice(0, 100)}".`);
  }
  // RFC 7591 §2.1: response_types and grant_types must agree; only "code" is registrable
  // (the implicit grant is never given to a dynamically registered client).
  const responseTypes =
    strings('response_types') ?? (grantTypes.includes('authorization_code') ? ['code'] : []);
  if (responseTypes.some((r) => r !== 'code'))
    throw invalidMetadata('Only the "code" response type is registrable.');
  if (responseTypes.includes('code') !== grantTypes.includes('authorization_code')) {
    throw invalidMetadata(
      'response_types "code" goes with grant_types "authorization_code" (RFC 7591 section 2.1).',
    );
  }
  const scope = string('scope');
  const redirectUris = strings('redirect_uris') ?? [];
  return {
    name: string('client_name') ?? 'Unnamed client',
    clientType: method === 'none' ? 'public' : 'confidential',
    tokenEndpointAuthMethod: method,
    grantTypes,
    redirectUris,
    allowedOrigins: browserOrigins(redirectUris),
    scopes: scope === undefined ? undefined : scope.split(' ').filter(Boolean),
    // Left out means cleared: RFC 7592 §2.2 replaces the whole metadata.
    clientUri: string('client_uri') ?? null,
    logoUri: string('logo_uri') ?? null,
    contacts: strings('contacts') ?? [],
    // RFC 7591 §2 / RFC 7523: the keys of a private_key_jwt client (the service checks them).
    jwks: m.jwks ?? null,
    jwksUri: string('jwks_uri') ?? null,
    // RFC 9126 §6 client metadata.
    requirePar: boolean('require_pushed_authorization_requests') ?? false,
    // OpenID Connect Back-Channel Logout 1.0 §2.2 client metadata.
    backchannelLogoutUri: string('backchannel_logout_uri') ?? null,
    backchannelLogoutSessionRequired: boolean('backchannel_logout_session_required') ?? false,
  };
}

/**
 * RFC 7591 has no CORS metadata. A browser-based client (an in-browser MCP inspector, a single-page
 * app) is served from the origin it redirects back to, so those origins may call the token,
 * revocation and userinfo endpoints for this client, and no others.
 */
function browserOrigins(redirectUris: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const uri of redirectUris) {
    const url = URL.canParse(uri) ? new URL(uri) : null;
    if (url && (url.protocol === 'https:' || url.protocol === 'http:')) origins.add(url.origin);
  }
  return [...origins];
}

/** The one mapping of the service's field names to RFC 7591 §3.2.2 errors. */
function metadataError(err: ValidationError): OAuthError {
  const redirect = err.issues.filter((i) => i.field === 'redirectUris');
  if (redirect.length > 0) return invalidRedirectUri(redirect.map((i) => i.message).join(' '));
  return invalidMetadata(err.message);
}

/** The registered metadata as RFC 7591 §3.2.1 / RFC 7592 §3 return it. */
function clientInformation(ctx: ServerCtx, app: Application): Record<string, unknown> {
  return {
    client_id: app.clientId,
    client_id_issued_at: Math.floor(app.createdAt.getTime() / 1000),
    client_name: app.name,
    redirect_uris: app.redirectUris,
    grant_types: app.grantTypes,
    response_types: app.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: app.tokenEndpointAuthMethod,
    scope: app.scopes.join(' '),
    ...(app.clientUri ? { client_uri: app.clientUri } : {}),
    ...(app.logoUri ? { logo_uri: app.logoUri } : {}),
    ...(app.contacts.length > 0 ? { contacts: app.contacts } : {}),
    ...(app.jwks ? { jwks: app.jwks } : {}),
    ...(app.jwksUri ? { jwks_uri: app.jwksUri } : {}),
    ...(app.requirePar ? { require_pushed_authorization_requests: true } : {}),
    ...(app.backchannelLogoutUri
      ? {
          backchannel_logout_uri: app.backchannelLogoutUri,
          backchannel_logout_session_required: app.backchannelLogoutSessionRequired,
        }
      : {}),
    registration_client_uri: `${ctx.config.issuer}${REGISTER_PATH}${app.clientId}`,
  };
}

/** Domain errors from the services, as RFC errors: never a 500 for the client's own mistakes. */
function asOAuthError(err: unknown): unknown {
  if (err instanceof ValidationError) return metadataError(err);
  if (err instanceof DomainError) return invalidMetadata(err.message);
  return err;
}

/** RFC 7591 §3: POST /o/register/. */
export const registerEndpoint: ProtocolHandler = async (req, res) => {
  const ctx = req.ctx;
  const { policy, maxPerHour } = ctx.config.dynamicRegistration;
  // Counted before anything else (an initial access token guess counts too), successes included.
  const limit = await countAttempt(
    ctx.sql,
    [{ key: `register:ip:${limitAddress(ctx.ip)}`, max: maxPerHour }],
    3600,
  );
  if (limit.blocked) throw tooManyAttempts('invalid_request', limit.retryAfter);
  let tokenId: string | null = null;
  if (policy === 'token') {
    const presented = bearerToken(req.header('authorization'));
    if (!presented) throw invalidToken('An initial access token is required (RFC 7591 section 3).');
    tokenId = await consumeInitialAccessToken(ctx.sql, digest(presented));
    if (!tokenId) throw invalidToken('The initial access token is invalid, expired, revoked or used up.');
  }
  try {
    const input = parseMetadata(req.body);
    const registrationToken = newCredential('registrationAccessToken');
    ctx.actor = { kind: 'registration' };
    const { application, clientSecret } = await createApplication(ctx, undefined, input, {
      tokenDigest: digest(registrationToken),
    });
    res.setAll(NO_STORE).json(
      {
        ...clientInformation(ctx, application),
        ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}),
        registration_access_token: registrationToken,
      },
      201,
    );
  } catch (err) {
    if (tokenId) await refundInitialAccessToken(ctx.sql, tokenId);
    throw asOAuthError(err);
  }
};

/**
 * RFC 7592 §2: the registration at /o/register/<client_id>, for the holder of its registration
 * access token. Unknown client, another client's token and a wrong token get the same 401.
 */
async function registeredClient(req: ProtocolRequest): Promise<Application> {
  const ctx = req.ctx;
  const presented = bearerToken(req.header('authorization'));
  if (!presented) throw invalidToken('The registration access token is required (RFC 7592 section 2).');
  // Registered client ids are base64url (newClientId); anything else (NUL bytes, bad
  // percent-encoding, slashes) names no registration and gets the same 401 without a query.
  const clientId = req.path.slice(REGISTER_PATH.length).replace(/\/$/, '');
  const app = CLIENT_ID_SHAPE.test(clientId)
    ? await ctx.em.findOne(Application, { clientId, dynamicallyRegistered: true })
    : null;
  if (!app || !matchesDigest(presented, app.registrationTokenDigest)) {
    throw invalidToken('The registration access token is invalid for this client.');
  }
  ctx.actor = { kind: 'registration', clientId: app.clientId };
  return app;
}

export const readRegistrationEndpoint: ProtocolHandler = async (req, res) => {
  const app = await registeredClient(req);
  res.setAll(NO_STORE).json(clientInformation(req.ctx, app), 200);
};

export const updateRegistrationEndpoint: ProtocolHandler = async (req, res) => {
  const app = await registeredClient(req);
  const input = parseMetadata(req.body);
  // RFC 7592 §2.2: the request carries client_id, and it must be this client's.
  const sent = JSON.parse(req.body!.toString('utf8')) as Record<string, unknown>;
  if (sent.client_id !== app.clientId) throw invalidMetadata('client_id must be this client’s client_id.');
  try {
    // The whole metadata is replaced: what is left out takes its default (RFC 7592 §2.2).
    const updated = await updateApplication(req.ctx, app.id, {
      ...input,
      scopes: input.scopes ?? app.scopes,
    });
    res.setAll(NO_STORE).json(clientInformation(req.ctx, updated), 200);
  } catch (err) {
    throw asOAuthError(err);
  }
};

export const deleteRegistrationEndpoint: ProtocolHandler = async (req, res) => {
  const app = await registeredClient(req);
  try {
    await deleteApplication(req.ctx, app.id);
  } catch (err) {
    if (err instanceof NotFoundError)
      throw invalidToken('The registration access token is invalid for this client.');
    throw err;
  }
  res.setAll(NO_STORE).empty(204);
};

/** POST on the collection, GET/PUT/DELETE on one registration. */
export const registrationRoute = {
  methods: {
    POST: ((req, res) => {
      if (req.path.replace(/\/$/, '') !== REGISTER_PATH.slice(0, -1)) {
        throw new OAuthError('invalid_request', 'Register at /o/register/.', 405, {
          Allow: 'GET, PUT, DELETE',
        });
      }
      return registerEndpoint(req, res);
    }) as ProtocolHandler,
    GET: readRegistrationEndpoint,
    PUT: updateRegistrationEndpoint,
    DELETE: deleteRegistrationEndpoint,
  },
  body: 'json' as const,
  // Browser-based clients register from origins nobody has seen yet; the endpoint takes no cookie.
  anyOrigin: 'GET, POST, PUT, DELETE',
};
