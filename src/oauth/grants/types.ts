import type { GrantType } from '../../entities/Application.js';
import type { ClientRecord } from '../../services/client-cache.js';
import type { Ctx } from '../../services/context.js';
import type { MintedAccessToken, MintedRefreshToken } from '../../services/tokens.js';
import type { ClientAuthMethod } from '../client-auth.js';
import type { Params } from '../params.js';

/** An authenticated token request, as every grant module receives it. */
export interface TokenRequest {
  ctx: Ctx;
  params: Params;
  client: ClientRecord;
  clientAuth: ClientAuthMethod;
}

/** RFC 6749 §5.1 successful response (plus the OIDC id_token). */
export interface TokenResponseBody {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
  id_token?: string;
}

/** One grant type: node-oidc-provider's idea of a table of small handlers. */
export interface GrantHandler {
  /** The grant_type parameter value. */
  readonly grantType: string;
  /** The client metadata grant type that allows it. */
  readonly requires: GrantType;
  handle(request: TokenRequest): Promise<TokenResponseBody>;
}

export function tokenResponse(
  access: MintedAccessToken,
  refresh: MintedRefreshToken | null,
  scopes: readonly string[],
  idToken?: string,
): TokenResponseBody {
  const body: TokenResponseBody = {
    access_token: access.value,
    token_type: 'Bearer',
    expires_in: access.expiresIn,
    scope: scopes.join(' '),
  };
  if (refresh) body.refresh_token = refresh.value;
  if (idToken) body.id_token = idToken;
  return body;
}
