import type { Config } from '../config/index.js';
import { CLIENT_ASSERTION_ALGS } from '../services/client-jwks.js';
import {
  CONFIDENTIAL_AUTH_METHODS,
  GRANT_TYPES,
  SIGNING_ALGS,
  TOKEN_ENDPOINT_AUTH_METHODS,
} from '../vocabulary.js';
import { ACR_VALUES_SUPPORTED } from './authentication-level.js';
import { DPOP_ALGS } from './dpop/proof.js';

/**
 * RFC 8414 authorization server metadata; the OpenID Connect Discovery document is the same
 * plus its own fields. Built once per process: nothing in it changes at run time.
 */
export function serverMetadata(config: Config): Record<string, unknown> {
  const base = config.issuer;
  return {
    issuer: base,
    authorization_endpoint: `${base}/o/authorize/`,
    token_endpoint: `${base}/o/token/`,
    revocation_endpoint: `${base}/o/revoke_token/`,
    introspection_endpoint: `${base}/o/introspect/`,
    device_authorization_endpoint: `${base}/o/device_authorization/`,
    userinfo_endpoint: `${base}/o/userinfo/`,
    jwks_uri: `${base}/o/jwks/`,
    end_session_endpoint: `${base}/o/logout/`,
    ...(config.dynamicRegistration.policy === 'off' ? {} : { registration_endpoint: `${base}/o/register/` }),
    ...(config.clientIdMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    scopes_supported: Object.keys(config.scopes),
    response_types_supported: ['code', 'token'],
    response_modes_supported: ['query', 'fragment'],
    // implicit included: response_type=token is served (RFC 8414 §2 lists every grant type).
    grant_types_supported: [...GRANT_TYPES],
    // RFC 9126 §5: pushed authorization requests; required of every client when REQUIRE_PAR is on
    // (a client with its own requirePar is told by its registration, RFC 9126 §6).
    pushed_authorization_request_endpoint: `${base}/o/par/`,
    require_pushed_authorization_requests: config.requirePar,
    token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    // RFC 8414 §2: the algorithms a private_key_jwt assertion (RFC 7523) may be signed with.
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // Revocation authenticates clients exactly as the token endpoint does (src/oauth/client-auth.ts).
    revocation_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    // Introspection is for resource servers: a confidential client (secret or keys), or a Bearer
    // token with the introspection scope; never a bare client_id.
    introspection_endpoint_auth_methods_supported: [...CONFIDENTIAL_AUTH_METHODS, 'bearer'],
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    code_challenge_methods_supported: config.pkceAllowPlain ? ['S256', 'plain'] : ['S256'],
    authorization_response_iss_parameter_supported: true,
    // RFC 9449 §5.1: the proof algorithms accepted (asymmetric only).
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    service_documentation: `${base}/`,
  };
}

export function openIdConfiguration(config: Config): Record<string, unknown> {
  return {
    ...serverMetadata(config),
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    userinfo_signing_alg_values_supported: ['none'],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'amr',
      'nonce',
      'at_hash',
      'azp',
      'sid',
      'preferred_username',
      'name',
      'updated_at',
      'email',
      'email_verified',
    ],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    prompt_values_supported: ['none', 'login', 'consent'],
    acr_values_supported: [...ACR_VALUES_SUPPORTED],
    frontchannel_logout_supported: false,
    // OpenID Connect Back-Channel Logout 1.0 §2.1: logout tokens always carry sid.
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
  };
}
