import type { SigningAlg } from './entities/Application.js';

/**
 * The protocol's words, each written once: grant types, token kinds, token endpoint
 * authentication methods, and what the built-in scopes mean to the server. The entity types,
 * GraphQL enums, the CLI, the application form, the metadata documents and the token endpoint's
 * table of grants all derive from these tables, so a new grant type is a new row here (plus its
 * handler in src/oauth/grants/; a unit test fails until both exist).
 *
 * It imports nothing, so entities and every door may depend on it.
 */

interface GrantTypeWord {
  /**
   * The RFC 7591 §2 `grant_types` value. For the grants the token endpoint serves it is also the
   * `grant_type` parameter (RFC 6749 §4, RFC 8628 §3.4).
   */
  readonly name: string;
  /** The short name `create-application --grant-types` accepts (the names above work too). */
  readonly cli: string;
  /** The GraphQL `GrantType` enum value. */
  readonly graphql: string;
  /**
   * Where the grant is exercised: `implicit` is `response_type=token` at the authorization
   * endpoint (RFC 7591 §2) and never reaches the token endpoint.
   */
  readonly endpoint: 'token' | 'authorization';
  /**
   * Starts a refresh-token chain for a client that also has `refresh_token` (RFC 6749 §1.5).
   * `refresh_token` itself only continues a chain, so it needs one of these.
   */
  readonly startsRefreshChain: boolean;
  /** How the application form names it. */
  readonly label: string;
}

const DEVICE_CODE_URN = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE_URN = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** In the order the form and the GraphQL enum list them. */
const GRANT_TYPE_TABLE = [
  {
    name: 'authorization_code',
    cli: 'authorization_code',
    graphql: 'AUTHORIZATION_CODE',
    endpoint: 'token',
    startsRefreshChain: true,
    label: 'Authorization code (web apps, SPAs, native apps)',
  },
  {
    name: 'client_credentials',
    cli: 'client_credentials',
    graphql: 'CLIENT_CREDENTIALS',
    endpoint: 'token',
    // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
    startsRefreshChain: false,
    label: 'Client credentials (machine to machine)',
  },
  {
    name: 'refresh_token',
    cli: 'refresh_token',
    graphql: 'REFRESH_TOKEN',
    endpoint: 'token',
    startsRefreshChain: false,
    label: 'Refresh token',
  },
  {
    name: 'password',
    cli: 'password',
    graphql: 'PASSWORD',
    endpoint: 'token',
    startsRefreshChain: true,
    label: 'Resource owner password (legacy)',
  },
  {
    name: DEVICE_CODE_URN,
    cli: 'device_code',
    graphql: 'DEVICE_CODE',
    endpoint: 'token',
    startsRefreshChain: true,
    label: 'Device code (TVs, command-line tools)',
  },
  {
    name: 'implicit',
    cli: 'implicit',
    graphql: 'IMPLICIT',
    endpoint: 'authorization',
    // OAuth 2.0 §4.2.2: the implicit grant never issues a refresh token.
    startsRefreshChain: false,
    label: 'Implicit (legacy)',
  },
  {
    name: TOKEN_EXCHANGE_URN,
    cli: 'token_exchange',
    graphql: 'TOKEN_EXCHANGE',
    endpoint: 'token',
    // RFC 8693 §2.2.1: a refresh token only where the application's exchange policy allows it.
    startsRefreshChain: true,
    label: 'Token exchange (RFC 8693: an API acting for a user)',
  },
] as const satisfies readonly GrantTypeWord[];

/** An RFC 7591 `grant_types` value this server knows. */
export type GrantType = (typeof GRANT_TYPE_TABLE)[number]['name'];
export type GrantTypeEntry = (typeof GRANT_TYPE_TABLE)[number];

export const GRANT_TYPE_ENTRIES: readonly GrantTypeEntry[] = GRANT_TYPE_TABLE;
export const GRANT_TYPES: readonly GrantType[] = GRANT_TYPE_TABLE.map((g) => g.name);
export const DEVICE_CODE_GRANT: GrantType = DEVICE_CODE_URN;
export const TOKEN_EXCHANGE_GRANT: GrantType = TOKEN_EXCHANGE_URN;

/**
 * RFC 8693 §3 token type identifiers: the kinds of token a token exchange accepts as
 * subject_token / actor_token, and the kinds it issues (requested_token_type, issued_token_type).
 */
export const TOKEN_TYPE = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  refreshToken: 'urn:ietf:params:oauth:token-type:refresh_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
} as const;

const grantTypeBySpelling = new Map<string, GrantType>(
  GRANT_TYPE_TABLE.flatMap((g) => [g.name, g.cli, g.graphql].map((s) => [s.toLowerCase(), g.name] as const)),
);

/** The grant type an RFC 7591 name, CLI name or GraphQL name (any case) spells, if any. */
export function grantTypeNamed(spelling: string): GrantType | undefined {
  return grantTypeBySpelling.get(spelling.trim().toLowerCase());
}

/** Grant types after which `refresh_token` has a token to refresh. */
export const REFRESH_CHAIN_STARTERS: readonly GrantType[] = GRANT_TYPE_TABLE.filter(
  (g) => g.startsRefreshChain,
).map((g) => g.name);

/** RFC 7591 §2 `token_endpoint_auth_method`: the only way a client may authenticate (OIDC Core §9). */
const TOKEN_ENDPOINT_AUTH_METHOD_TABLE = [
  {
    name: 'client_secret_basic',
    graphql: 'CLIENT_SECRET_BASIC',
    withSecret: true,
    label: 'HTTP Basic (client_secret_basic)',
  },
  {
    name: 'client_secret_post',
    graphql: 'CLIENT_SECRET_POST',
    withSecret: true,
    label: 'In the request body (client_secret_post)',
  },
  // RFC 7523 §2.2 / OIDC Core §9: a JWT signed with a key whose public half the client registered
  // (jwks or jwks_uri); no shared secret exists.
  {
    name: 'private_key_jwt',
    graphql: 'PRIVATE_KEY_JWT',
    withSecret: false,
    label: 'Signed JWT with a registered key (private_key_jwt)',
  },
  // Public clients: the client_id alone (RFC 6749 §2.1, PKCE does the rest).
  { name: 'none', graphql: 'NONE', withSecret: false, label: 'None (public clients)' },
] as const;

export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHOD_TABLE)[number]['name'];
export type TokenEndpointAuthMethodEntry = (typeof TOKEN_ENDPOINT_AUTH_METHOD_TABLE)[number];
export const TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES: readonly TokenEndpointAuthMethodEntry[] =
  TOKEN_ENDPOINT_AUTH_METHOD_TABLE;
export const TOKEN_ENDPOINT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] =
  TOKEN_ENDPOINT_AUTH_METHOD_TABLE.map((m) => m.name);
/** The methods a confidential client chooses from. */
export const SECRET_AUTH_METHODS: readonly TokenEndpointAuthMethod[] =
  TOKEN_ENDPOINT_AUTH_METHOD_TABLE.filter((m) => m.withSecret).map((m) => m.name);
/** The methods a confidential client chooses from: its secret or its keys. */
export const CONFIDENTIAL_AUTH_METHODS: readonly TokenEndpointAuthMethod[] =
  TOKEN_ENDPOINT_AUTH_METHODS.filter((m) => m !== 'none');
/** RFC 7523 §2.2: the client assertion type, and the algorithms an assertion may be signed with. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What a token listing, a revocation or the GraphQL API calls each kind of token. */
const TOKEN_KIND_TABLE = [
  { name: 'access', graphql: 'ACCESS' },
  { name: 'refresh', graphql: 'REFRESH' },
] as const;

export type TokenKind = (typeof TOKEN_KIND_TABLE)[number]['name'];
export const TOKEN_KIND_ENTRIES: readonly (typeof TOKEN_KIND_TABLE)[number][] = TOKEN_KIND_TABLE;

interface ScopeWord {
  readonly name: string;
  /** What the consent page shows, unless SCOPES says otherwise. */
  readonly description: string;
  /** Acts on the server itself: not given to a new application unless asked for. */
  readonly privileged: boolean;
  /** Only an administrator may add it to an application: `introspection` reads every client's tokens. */
  readonly adminOnly: boolean;
}

/** The scopes a fresh server knows. A configured scope of the same name means the same. */
export const SCOPE_ENTRIES: readonly ScopeWord[] = [
  { name: 'read', description: 'Read your data', privileged: false, adminOnly: false },
  { name: 'write', description: 'Change your data', privileged: false, adminOnly: false },
  { name: 'openid', description: 'Confirm your identity (sign you in)', privileged: false, adminOnly: false },
  { name: 'profile', description: 'See your username and name', privileged: false, adminOnly: false },
  { name: 'email', description: 'See your email address', privileged: false, adminOnly: false },
  {
    name: 'graphql',
    description: 'Manage your applications and tokens through the Latchkey API',
    privileged: true,
    adminOnly: false,
  },
  {
    name: 'introspection',
    description: 'Check whether tokens issued by this server are valid',
    privileged: true,
    adminOnly: true,
  },
];

export const PRIVILEGED_SCOPES: readonly string[] = SCOPE_ENTRIES.filter((s) => s.privileged).map(
  (s) => s.name,
);
export const ADMIN_ONLY_SCOPES: readonly string[] = SCOPE_ENTRIES.filter((s) => s.adminOnly).map(
  (s) => s.name,
);

/**
 * The JWS algorithms Latchkey signs with, one active key each (id_tokens per application, JWT
 * access tokens). PS256 and ES256 are the ones FAPI 2.0 Security Profile §5.4.1 allows.
 */
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'ES256', 'PS256'];

/**
 * Security profiles an application can be held to. `fapi2`: the FAPI 2.0 Security Profile
 * (final, 2025) — see fapi2Bounds in src/services/applications.ts for what it enforces.
 */
export const APPLICATION_PROFILES = ['none', 'fapi2'] as const;
export type ApplicationProfile = (typeof APPLICATION_PROFILES)[number];

/** FAPI 2.0 Security Profile §5.4.1: the signing algorithms it allows. */
export const FAPI2_SIGNING_ALGS: readonly SigningAlg[] = ['PS256', 'ES256'];

/** FAPI 2.0 Security Profile §5.3.2.1: authorization codes live at most 60 seconds. */
export const FAPI2_MAX_CODE_TTL = 60;
