import type { ClientRecord } from '../services/client-cache.js';
import { findAccessToken, findRefreshToken } from '../services/tokens.js';
import { presentedToken, requireAccessToken } from './bearer.js';
import { authenticateClient } from './client-auth.js';
import { allowClientOrigin } from './cors.js';
import { invalidClient, invalidRequest } from './errors.js';
import { type ProtocolRequest, type ProtocolResponse, proofRequest } from './protocol-io.js';

/**
 * POST /o/introspect/ (RFC 7662). The caller authenticates as a confidential client or with a
 * Bearer token carrying the `introspection` scope. A client sees its own tokens; tokens of other
 * clients only if it is allowed the `introspection` scope (a resource server). Everything else,
 * and every inactive token, is `{"active": false}` and nothing more (§2.2). One indexed lookup.
 */
export async function introspectEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  const params = req.params;
  let caller: ClientRecord | null = null;
  let mayIntrospectAll = false;
  const bearer = presentedToken(req.header('authorization'));
  if (bearer) {
    await requireAccessToken(req.ctx, proofRequest(req, res), bearer, 'introspection');
    mayIntrospectAll = true;
  } else {
    const { client } = await authenticateClient(req, params);
    if (client.clientType !== 'confidential') {
      throw invalidClient('Only confidential clients may call the introspection endpoint.', false);
    }
    allowClientOrigin(req, res, client);
    caller = client;
    mayIntrospectAll = client.scopes.includes('introspection');
  }
  const token = params.get('token');
  if (!token) throw invalidRequest('The token parameter is required.');
  res.setAll({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  const visible = (applicationId: string) => mayIntrospectAll || caller?.id === applicationId;
  const issuer = req.ctx.config.issuer;

  const access = await findAccessToken(req.ctx, token);
  if (access) {
    if (!access.active || !visible(access.applicationId)) {
      res.json({ active: false });
      return;
    }
    const body: Record<string, unknown> = {
      active: true,
      scope: access.scopes.join(' '),
      client_id: access.clientId,
      ...(access.user ? { username: access.user.username, sub: access.userId } : { sub: access.clientId }),
      // RFC 9449 §6.2: a bound token says so, and names its key.
      token_type: access.jkt ? 'DPoP' : 'Bearer',
      ...(access.jkt ? { cnf: { jkt: access.jkt } } : {}),
      exp: seconds(access.expiresAt),
      iat: seconds(access.issuedAt),
      iss: issuer,
      jti: access.id,
      // RFC 7662 §2.2: whom the token is for, so a resource server can refuse another's token.
      ...(access.audience ? { aud: access.audience } : {}),
    };
    // RFC 8693 §4.1 / RFC 7662 §2.2: a delegated (exchanged) token names its actor (set only
    // then, so the common answer costs nothing more).
    if (access.act) body.act = access.act;
    res.json(body);
    return;
  }
  const refresh = await findRefreshToken(req.ctx.sql, token);
  if (refresh?.active && visible(refresh.applicationId)) {
    res.json({
      active: true,
      scope: refresh.scopes.join(' '),
      client_id: refresh.clientId,
      username: refresh.username,
      sub: refresh.userId,
      token_type: 'refresh_token',
      exp: seconds(refresh.expiresAt),
      iat: seconds(refresh.issuedAt),
      iss: issuer,
    });
    return;
  }
  res.json({ active: false });
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
