import { presentedToken, usableHere } from '../oauth/bearer.js';
import { allowClientOrigin } from '../oauth/cors.js';
import { checkSenderConstraint, dpopChallenge } from '../oauth/dpop/index.js';
import { insufficientScope, invalidToken, OAuthError } from '../oauth/errors.js';
import { type ProtocolRequest, type ProtocolResponse, proofRequest } from '../oauth/protocol-io.js';
import { findAccessToken } from '../services/tokens.js';

/**
 * GET or POST /o/userinfo/ (OIDC Core §5.3) with an access token carrying `openid` (Bearer, or
 * DPoP with a proof for a bound token, RFC 9449 §7):
 * `sub` plus the claims of the granted scopes. Errors per RFC 6750 §3.
 */
export async function userinfoEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  res.setAll({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const formToken = req.method === 'POST' ? req.params.get('access_token') : undefined;
  const presented = presentedToken(req.header('authorization'), formToken);
  if (!presented) {
    throw new OAuthError('invalid_request', 'An access token is required.', 401, {
      'WWW-Authenticate': `Bearer realm="latchkey", ${dpopChallenge()}`,
    });
  }
  const info = await findAccessToken(req.ctx, presented.token);
  if (!usableHere(info) || !info.user) throw invalidToken('The access token is invalid, expired or revoked.');
  const client = await req.ctx.runtime.clients.get(info.clientId);
  if (client) allowClientOrigin(req, res, client);
  await checkSenderConstraint(req.ctx, proofRequest(req, res), presented, info.jkt);
  if (!info.scopes.includes('openid'))
    throw insufficientScope('The access token lacks the "openid" scope.', 'openid');
  const claims: Record<string, unknown> = { sub: info.userId };
  if (info.scopes.includes('profile')) {
    claims.preferred_username = info.user.username;
    claims.name = info.user.username;
    claims.updated_at = Math.floor(info.user.updatedAt.getTime() / 1000);
  }
  if (info.scopes.includes('email') && info.user.email) {
    claims.email = info.user.email;
    claims.email_verified = info.user.emailVerified;
  }
  res.json(claims, 200);
}
