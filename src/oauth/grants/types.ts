import type { ClientRecord } from '../../services/client-cache.js';
import type { ServerCtx } from '../../services/context.js';
import type { GrantType } from '../../vocabulary.js';
import type { ClientAuthMethod } from '../client-auth.js';
import type { VerifiedProof } from '../dpop/index.js';
import type { Params } from '../params.js';

/** An authenticated token request, as every grant module receives it. */
export interface TokenRequest {
  ctx: ServerCtx;
  params: Params;
  client: ClientRecord;
  clientAuth: ClientAuthMethod;
  /** RFC 9449: the request's verified DPoP proof, or null (Bearer tokens). */
  dpop: VerifiedProof | null;
}

/** RFC 6749 §5.1 successful response (plus the OIDC id_token). */
export interface TokenResponseBody {
  access_token: string;
  /** RFC 9449 §5: `DPoP` for a DPoP-bound access token. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  refresh_token?: string;
  scope: string;
  id_token?: string;
  /** RFC 8693 §2.2.1: what the access_token member holds (token exchange only). */
  issued_token_type?: string;
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
