import type { ClientRecord } from '../../services/client-cache.js';
import type { ServerCtx } from '../../services/context.js';
import type { GrantType } from '../../vocabulary.js';
import type { ClientAuthMethod } from '../client-auth.js';
import type { Params } from '../params.js';

/** An authenticated token request, as every grant module receives it. */
export interface TokenRequest {
  ctx: ServerCtx;
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
  /**
   * The grant_type parameter value, which is also the client metadata value that allows it
   * (RFC 7591 §2).
   */
  readonly grantType: GrantType;
  handle(request: TokenRequest): Promise<TokenResponseBody>;
}
