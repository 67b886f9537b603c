import { type IdTokenInput, issueIdToken } from '../../oidc/id-token.js';
import type { ClientRecord } from '../../services/client-cache.js';
import { type MintedAccessToken, type MintedRefreshToken, mintRefreshToken } from '../../services/tokens.js';
import type { VerifiedProof } from '../dpop/index.js';
import type { TokenResponseBody } from './types.js';

/**
 * The steps the grants share, like node-oidc-provider's helpers/grant_common.js: each grant file
 * reads as its RFC section and calls these for what every section says the same way.
 */

/**
 * RFC 9449 §5: a public client's refresh token is bound to the key of the request's DPoP proof
 * (the key is all that proves who holds it); a confidential client's is not (it authenticates).
 */
export function refreshTokenKey(client: ClientRecord, dpop: VerifiedProof | null): string | null {
  return client.clientType === 'public' ? (dpop?.jkt ?? null) : null;
}

/**
 * RFC 6749 §1.5: a refresh token only for an application registered for the refresh_token
 * grant; the others get an access token alone.
 */
export function mintRefreshIfAllowed(
  client: ClientRecord,
  dpop: VerifiedProof | null,
): MintedRefreshToken | null {
  return client.grantTypes.includes('refresh_token') ? mintRefreshToken(refreshTokenKey(client, dpop)) : null;
}

/**
 * OpenID Connect Core §3.1.3.3 (and §12.2 for refreshes): an id_token when, and only when, the
 * granted scopes include openid.
 */
export async function idTokenFor(input: IdTokenInput): Promise<string | undefined> {
  if (!input.scopes.includes('openid')) return undefined;
  return issueIdToken(input);
}

export interface Issued {
  access: MintedAccessToken;
  refresh: MintedRefreshToken | null;
  /** The scopes granted, which RFC 6749 §5.1 lets the response name. */
  scopes: readonly string[];
  idToken?: string;
}

/** RFC 6749 §5.1: the successful response body. */
export function tokenResponse({ access, refresh, scopes, idToken }: Issued): TokenResponseBody {
  const body: TokenResponseBody = {
    access_token: access.value,
    // RFC 9449 §5: a bound access token is of type DPoP.
    token_type: access.jkt ? 'DPoP' : 'Bearer',
    expires_in: access.expiresIn,
    scope: scopes.join(' '),
  };
  if (refresh) body.refresh_token = refresh.value;
  if (idToken) body.id_token = idToken;
  return body;
}
