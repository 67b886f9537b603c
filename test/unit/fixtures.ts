import { expect } from 'vitest';
import { OAuthError } from '../../src/oauth/errors.js';
import type { ClientRecord } from '../../src/services/client-cache.js';

/** A client record as the client cache would return it, for the pure protocol functions. */
export function clientRecord(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id: '01a21fa8-0000-7000-8000-000000000001',
    clientId: 'web-client',
    name: 'Web',
    clientType: 'confidential',
    secretDigest: null,
    tokenEndpointAuthMethod: 'client_secret_basic',
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: ['https://app.example/cb'],
    postLogoutRedirectUris: [],
    allowedOrigins: [],
    scopes: ['read', 'write', 'openid', 'profile'],
    skipAuthorization: false,
    requireDpop: false,
    profile: 'none',
    rotateRefreshTokens: true,
    accessTokenFormat: 'opaque',
    idTokenSignedResponseAlg: 'RS256',
    ownerUsername: 'alice',
    metadataDocument: false,
    logoUri: null,
    jwks: null,
    jwksUri: null,
    requirePar: false,
    tokenExchangeAudiences: [],
    tokenExchangeImpersonation: false,
    tokenExchangeRefreshTokens: false,
    ...overrides,
  };
}

/** The OAuthError that `run` throws (failing the test when it throws nothing or something else). */
export function oauthErrorOf(run: () => unknown): OAuthError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return err as OAuthError;
  }
  throw new Error('expected an OAuthError');
}
