import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { passwordGrant } from './password.js';
import { refreshTokenGrant } from './refresh-token.js';
import { tokenExchangeGrant } from './token-exchange.js';
import type { GrantHandler } from './types.js';

/**
 * Every grant the token endpoint serves, by grant_type: the vocabulary's grant types whose
 * endpoint is the token endpoint (a unit test holds the two together).
 */
export const grants: ReadonlyMap<string, GrantHandler> = new Map(
  [
    authorizationCodeGrant,
    refreshTokenGrant,
    clientCredentialsGrant,
    passwordGrant,
    deviceCodeGrant,
    tokenExchangeGrant,
  ].map((g) => [g.grantType, g]),
);
