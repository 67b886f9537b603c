import fs from 'node:fs';
import type { ClientType } from '../entities/Application.js';
import { createApplication } from '../services/applications.js';
import { findUserByUsername } from '../services/users.js';
import {
  APPLICATION_PROFILES,
  type ApplicationProfile,
  GRANT_TYPE_ENTRIES,
  type GrantType,
  grantTypeNamed,
  TOKEN_ENDPOINT_AUTH_METHODS,
  TOKEN_EXCHANGE_GRANT,
  type TokenEndpointAuthMethod,
} from '../vocabulary.js';
import { type Command, list, requireString, UsageError } from './command.js';

/** Accepts RFC names (authorization_code), short names (device_code) and GraphQL names (DEVICE_CODE). */
export function parseGrantType(value: string): GrantType {
  const type = grantTypeNamed(value);
  if (type) return type;
  throw new UsageError(
    `unknown grant type "${value}" (use ${GRANT_TYPE_ENTRIES.map((g) => g.cli).join(', ')})`,
  );
}

export const createApplicationCommand: Command = {
  name: 'create-application',
  summary: 'register an application; prints its client_id and client_secret as JSON',
  usage:
    'create-application --owner U --name N --client-type confidential|public --grant-types a,b ' +
    '[--redirect-uris u1,u2] [--allowed-origins o1,o2] [--scopes s1,s2] [--skip-authorization] [--jwt-access-tokens] [--require-dpop] ' +
    `[--token-endpoint-auth-method ${TOKEN_ENDPOINT_AUTH_METHODS.join('|')}] [--jwks-file F | --jwks-uri U] [--require-par] [--profile fapi2] ` +
    '[--token-exchange-audiences r1,r2] [--token-exchange-impersonation] [--token-exchange-refresh-tokens] ' +
    '[--backchannel-logout-uri URL [--backchannel-logout-session-required]]',
  options: {
    owner: { type: 'string' },
    name: { type: 'string' },
    'client-type': { type: 'string' },
    'grant-types': { type: 'string' },
    'redirect-uris': { type: 'string' },
    'post-logout-redirect-uris': { type: 'string' },
    'allowed-origins': { type: 'string' },
    scopes: { type: 'string' },
    'skip-authorization': { type: 'boolean' },
    'jwt-access-tokens': { type: 'boolean' },
    'require-dpop': { type: 'boolean' },
    'token-endpoint-auth-method': { type: 'string' },
    'jwks-file': { type: 'string' },
    'jwks-uri': { type: 'string' },
    /** The file's content, put there by `prepare` (the command may run inside a server). */
    jwks: { type: 'string' },
    'require-par': { type: 'boolean' },
    profile: { type: 'string' },
    'token-exchange-audiences': { type: 'string' },
    'token-exchange-impersonation': { type: 'boolean' },
    'token-exchange-refresh-tokens': { type: 'boolean' },
    'backchannel-logout-uri': { type: 'string' },
    'backchannel-logout-session-required': { type: 'boolean' },
  },
  async prepare(values, argv) {
    const file = values['jwks-file'];
    if (typeof file !== 'string') return argv;
    if (values['jwks-uri'] !== undefined)
      throw new UsageError('give either --jwks-file or --jwks-uri, not both');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      throw new UsageError(`cannot read --jwks-file ${file}`);
    }
    const at = argv.indexOf('--jwks-file');
    const rest =
      at >= 0
        ? [...argv.slice(0, at), ...argv.slice(at + 2)]
        : argv.filter((a) => !a.startsWith('--jwks-file='));
    return [...rest, '--jwks', text];
  },
  async run(ctx, values, out) {
    const ownerName = requireString(values, 'owner');
    const clientType = requireString(values, 'client-type').toLowerCase();
    if (clientType !== 'confidential' && clientType !== 'public') {
      throw new UsageError('--client-type must be confidential or public');
    }
    const authMethod = values['token-endpoint-auth-method'];
    if (authMethod !== undefined && !TOKEN_ENDPOINT_AUTH_METHODS.some((m) => m === authMethod)) {
      throw new UsageError(`--token-endpoint-auth-method must be ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
    }
    const profile = values.profile;
    if (profile !== undefined && !APPLICATION_PROFILES.some((p) => p === profile)) {
      throw new UsageError(`--profile must be ${APPLICATION_PROFILES.join(' or ')}`);
    }
    const grantTypes = list(requireString(values, 'grant-types')).map(parseGrantType);
    const owner = await findUserByUsername(ctx, ownerName);
    if (!owner) throw new UsageError(`unknown owner "${ownerName}": create the user first`);
    const { application, clientSecret } = await createApplication(ctx, owner, {
      name: requireString(values, 'name'),
      clientType: clientType as ClientType,
      grantTypes,
      redirectUris: list(values['redirect-uris']),
      postLogoutRedirectUris: list(values['post-logout-redirect-uris']),
      allowedOrigins: list(values['allowed-origins']),
      scopes: values.scopes === undefined ? undefined : list(values.scopes),
      skipAuthorization: values['skip-authorization'] === true,
      accessTokenFormat: values['jwt-access-tokens'] === true ? 'jwt' : 'opaque',
      requireDpop: values['require-dpop'] === true,
      tokenEndpointAuthMethod: authMethod as TokenEndpointAuthMethod | undefined,
      jwks: values.jwks === undefined ? undefined : parseJwks(String(values.jwks)),
      jwksUri: typeof values['jwks-uri'] === 'string' ? values['jwks-uri'] : undefined,
      requirePar: values['require-par'] === true,
      profile: profile as ApplicationProfile | undefined,
      tokenExchangeAudiences: list(values['token-exchange-audiences']),
      tokenExchangeImpersonation: values['token-exchange-impersonation'] === true,
      tokenExchangeRefreshTokens: values['token-exchange-refresh-tokens'] === true,
      backchannelLogoutUri:
        typeof values['backchannel-logout-uri'] === 'string' ? values['backchannel-logout-uri'] : undefined,
      backchannelLogoutSessionRequired: values['backchannel-logout-session-required'] === true,
    });
    out(
      JSON.stringify({
        id: application.id,
        client_id: application.clientId,
        client_secret: clientSecret,
        name: application.name,
        client_type: application.clientType,
        grant_types: application.grantTypes,
        redirect_uris: application.redirectUris,
        scope: application.scopes.join(' '),
        token_endpoint_auth_method: application.tokenEndpointAuthMethod,
        ...(application.jwksUri ? { jwks_uri: application.jwksUri } : {}),
        ...(application.jwks ? { jwks: application.jwks } : {}),
        require_pushed_authorization_requests: application.requirePar,
        // RFC 9449 §5.2 names it dpop_bound_access_tokens.
        dpop_bound_access_tokens: application.requireDpop,
        profile: application.profile,
        ...(application.grantTypes.includes(TOKEN_EXCHANGE_GRANT)
          ? {
              token_exchange: {
                audiences: application.tokenExchangeAudiences,
                impersonation: application.tokenExchangeImpersonation,
                refresh_tokens: application.tokenExchangeRefreshTokens,
              },
            }
          : {}),
        ...(application.backchannelLogoutUri
          ? {
              backchannel_logout_uri: application.backchannelLogoutUri,
              backchannel_logout_session_required: application.backchannelLogoutSessionRequired,
            }
          : {}),
      }),
    );
  },
};

function parseJwks(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError('--jwks-file must contain a JWK Set as JSON');
  }
}
