import type { Request, Response } from 'express';
import { bearerToken } from '../oauth/bearer.js';
import { allowClientOrigin } from '../oauth/cors.js';
import { insufficientScope, invalidToken, OAuthError } from '../oauth/errors.js';
import { parseBody } from '../oauth/params.js';
import { digest } from '../services/secrets.js';

interface UserinfoRow {
  client_id: string;
  scopes: string[];
  user_id: string;
  username: string;
  email: string | null;
  email_verified: boolean;
  updated_at: Date;
}

/**
 * GET or POST /o/userinfo/ (OIDC Core §5.3) with a Bearer access token carrying `openid`:
 * `sub` plus the claims of the granted scopes. Errors per RFC 6750 §3.
 */
export async function userinfoEndpoint(req: Request, res: Response): Promise<void> {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  let formToken: string | undefined;
  if (req.method === 'POST' && Buffer.isBuffer(req.body) && req.body.length > 0) {
    const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type === 'application/x-www-form-urlencoded') formToken = parseBody(req.body).get('access_token');
  }
  const token = bearerToken(req, formToken);
  if (!token) {
    throw new OAuthError('invalid_request', 'An access token is required.', 401, {
      'WWW-Authenticate': 'Bearer realm="latchkey"',
    });
  }
  const rows =
    token.length > 4096
      ? []
      : await req.ctx.sql.query<UserinfoRow>(
          `select a.client_id, t.scopes, u.id as user_id, u.username, u.email, u.email_verified, u.updated_at
             from access_tokens t
             join applications a on a.id = t.application_id
             join users u on u.id = t.user_id
            where t.token_digest = $1 and t.revoked_at is null and t.expires_at > now() and u.is_active`,
          [digest(token)],
        );
  const row = rows[0];
  if (!row) throw invalidToken('The access token is invalid, expired or revoked.');
  const client = await req.ctx.runtime.clients!.get(row.client_id);
  if (client) allowClientOrigin(req, res, client);
  if (!row.scopes.includes('openid'))
    throw insufficientScope('The access token lacks the "openid" scope.', 'openid');
  const claims: Record<string, unknown> = { sub: row.user_id };
  if (row.scopes.includes('profile')) {
    claims.preferred_username = row.username;
    claims.name = row.username;
    claims.updated_at = Math.floor(row.updated_at.getTime() / 1000);
  }
  if (row.scopes.includes('email') && row.email) {
    claims.email = row.email;
    claims.email_verified = row.email_verified;
  }
  res.json(claims);
}
