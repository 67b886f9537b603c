import type { Request } from 'express';
import type { Config } from '../config/index.js';
import type { Application } from '../entities/Application.js';
import type { ApplicationInput } from '../services/applications.js';
import type { Viewer } from '../services/context.js';
import {
  ADMIN_ONLY_SCOPES,
  GRANT_TYPE_ENTRIES,
  type GrantType,
  SIGNING_ALGS,
  TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES,
} from '../vocabulary.js';
import { field, fields, listField } from './forms.js';

/** The register/edit form's fields → the service's input. The service validates; this only reads. */
export function readApplicationForm(req: Request): ApplicationInput {
  const clientType = (field(req, 'client_type') ?? '') as ApplicationInput['clientType'];
  return {
    name: field(req, 'name') ?? '',
    clientType,
    grantTypes: fields(req, 'grant_types') as GrantType[],
    redirectUris: listField(req, 'redirect_uris'),
    postLogoutRedirectUris: listField(req, 'post_logout_redirect_uris'),
    allowedOrigins: listField(req, 'allowed_origins'),
    scopes: fields(req, 'scopes'),
    skipAuthorization: field(req, 'skip_authorization') === 'on',
    requireDpop: field(req, 'require_dpop') === 'on',
    accessTokenFormat: (field(req, 'access_token_format') ??
      'opaque') as ApplicationInput['accessTokenFormat'],
    idTokenSignedResponseAlg: (field(req, 'id_token_signed_response_alg') ??
      'RS256') as ApplicationInput['idTokenSignedResponseAlg'],
    // A public client has no secret to send: the choice only applies to confidential ones.
    tokenEndpointAuthMethod:
      clientType === 'public'
        ? undefined
        : (field(req, 'token_endpoint_auth_method') as ApplicationInput['tokenEndpointAuthMethod']),
    jwks: jsonField(field(req, 'jwks')),
    jwksUri: field(req, 'jwks_uri') || null,
    requirePar: field(req, 'require_par') === 'on',
    // Only an administrator's form has the token exchange fields: absent, the policy stays as it is.
    ...(field(req, 'token_exchange_policy') === '1'
      ? {
          tokenExchangeAudiences: listField(req, 'token_exchange_audiences'),
          tokenExchangeImpersonation: field(req, 'token_exchange_impersonation') === 'on',
          tokenExchangeRefreshTokens: field(req, 'token_exchange_refresh_tokens') === 'on',
        }
      : {}),
    backchannelLogoutUri: field(req, 'backchannel_logout_uri') || null,
    backchannelLogoutSessionRequired: field(req, 'backchannel_logout_session_required') === 'on',
  };
}

/** A pasted JWK Set: parsed if it is JSON, else handed on as text for the service to refuse. */
function jsonField(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The fields the form shows an error next to. */
const FORM_FIELDS = new Set([
  'name',
  'clientType',
  'grantTypes',
  'redirectUris',
  'allowedOrigins',
  'postLogoutRedirectUris',
  'scopes',
  'accessTokenFormat',
  'idTokenSignedResponseAlg',
  'skipAuthorization',
  'jwks',
  'jwksUri',
  'requirePar',
  'requireDpop',
  'tokenExchangeAudiences',
  'tokenExchangeImpersonation',
  'tokenExchangeRefreshTokens',
  'backchannelLogoutUri',
]);

/** What the form template needs: the values to show, the choices, and a message per field. */
export function applicationFormView(
  config: Config,
  viewer: Viewer,
  values: ApplicationInput,
  errors: Record<string, string> = {},
) {
  return {
    values: {
      ...values,
      redirectUris: (values.redirectUris ?? []).join('\n'),
      postLogoutRedirectUris: (values.postLogoutRedirectUris ?? []).join('\n'),
      allowedOrigins: (values.allowedOrigins ?? []).join('\n'),
      tokenExchangeAudiencesText: (values.tokenExchangeAudiences ?? []).join('\n'),
      jwksText:
        values.jwks == null
          ? ''
          : typeof values.jwks === 'string'
            ? values.jwks
            : JSON.stringify(values.jwks, null, 2),
    },
    clientTypes: [
      {
        value: 'confidential',
        label: 'Confidential',
        hint: 'runs on a server and can keep a secret',
        checked: values.clientType === 'confidential',
      },
      {
        value: 'public',
        label: 'Public',
        hint: 'a browser or mobile app: no secret, PKCE required',
        checked: values.clientType === 'public',
      },
    ],
    grantTypes: GRANT_TYPE_ENTRIES.map((g) => ({
      value: g.name,
      label: g.label,
      checked: values.grantTypes.includes(g.name),
    })),
    scopes: Object.entries(config.scopes).map(([name, description]) => ({
      name,
      description,
      checked: (values.scopes ?? []).includes(name),
      adminOnly: !viewer.isAdmin && ADMIN_ONLY_SCOPES.includes(name),
    })),
    formats: [
      {
        value: 'opaque',
        label: 'Opaque (checked by introspection)',
        selected: values.accessTokenFormat !== 'jwt',
      },
      {
        value: 'jwt',
        label: 'JWT (RFC 9068, verified by resource servers with the JWKS)',
        selected: values.accessTokenFormat === 'jwt',
      },
    ],
    // A public client sends nothing, so the form offers the methods of confidential clients.
    authMethods: TOKEN_ENDPOINT_AUTH_METHOD_ENTRIES.filter((m) => m.name !== 'none').map((m) => ({
      value: m.name,
      label: m.label,
      selected: (values.tokenEndpointAuthMethod ?? 'client_secret_basic') === m.name,
    })),
    algs: SIGNING_ALGS.map((a) => ({
      value: a,
      selected: (values.idTokenSignedResponseAlg ?? 'RS256') === a,
    })),
    canSkipAuthorization: viewer.isAdmin,
    canSetTokenExchange: viewer.isAdmin,
    errors,
    errorCount: Object.keys(errors).length,
    hasErrors: Object.keys(errors).length > 0,
    // Rules about fields the form has no input for are listed at the top.
    otherErrors: Object.entries(errors)
      .filter(([f]) => !FORM_FIELDS.has(f))
      .map(([, message]) => message),
  };
}

export function formValuesOf(app: Application): ApplicationInput {
  return {
    name: app.name,
    clientType: app.clientType,
    grantTypes: app.grantTypes,
    redirectUris: app.redirectUris,
    postLogoutRedirectUris: app.postLogoutRedirectUris,
    allowedOrigins: app.allowedOrigins,
    scopes: app.scopes,
    skipAuthorization: app.skipAuthorization,
    requireDpop: app.requireDpop,
    accessTokenFormat: app.accessTokenFormat,
    idTokenSignedResponseAlg: app.idTokenSignedResponseAlg,
    tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    jwks: app.jwks ?? null,
    jwksUri: app.jwksUri ?? null,
    requirePar: app.requirePar,
    tokenExchangeAudiences: app.tokenExchangeAudiences,
    tokenExchangeImpersonation: app.tokenExchangeImpersonation,
    tokenExchangeRefreshTokens: app.tokenExchangeRefreshTokens,
    backchannelLogoutUri: app.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired,
  };
}

export function newApplicationDefaults(defaultScopes: string[]): ApplicationInput {
  return {
    name: '',
    clientType: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [],
    allowedOrigins: [],
    scopes: defaultScopes,
    accessTokenFormat: 'opaque',
    idTokenSignedResponseAlg: 'RS256',
  };
}
