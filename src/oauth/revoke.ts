import { digest } from '../services/secrets.js';
import { revokePresentedToken } from '../services/tokens.js';
import { authenticateClient } from './client-auth.js';
import { allowClientOrigin } from './cors.js';
import { invalidRequest } from './errors.js';
import type { ProtocolRequest, ProtocolResponse } from './protocol-io.js';

/**
 * POST /o/revoke_token/ (RFC 7009). The client authenticates; `token_type_hint` is never
 * trusted, so both token tables are tried. Revoking a refresh token revokes its whole family
 * (with the access tokens issued from it). A token of another client, or an unknown token, is
 * left alone and still answered 200 with an empty body (§2.2).
 */
export async function revokeEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  const params = req.params;
  const { client } = await authenticateClient(req, params);
  allowClientOrigin(req, res, client);
  const token = params.get('token');
  if (!token) throw invalidRequest('The token parameter is required.');
  if (token.length <= 4096) {
    await revokePresentedToken(req.ctx.sql, digest(token), client.id);
  }
  res.set('Cache-Control', 'no-store').empty(200);
}
