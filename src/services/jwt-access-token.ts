import type { ServerCtx } from './context.js';
import { signJwsOffThread } from './jws.js';
import type { TokenSubject } from './tokens.js';

/**
 * RFC 9068 JWT access token: `typ: at+jwt`, signed RS256 (the algorithm every resource server
 * must support, RFC 9068 §2.1) by the active key — or, for a FAPI 2.0 application, with its
 * PS256/ES256 algorithm (FAPI 2.0 §5.4.1 allows no other). `jti` is the row id, so the token can still be listed,
 * revoked and introspected like an opaque one.
 */
export async function signJwtAccessToken(
  ctx: ServerCtx,
  subject: TokenSubject,
  jti: string,
  expiresIn: number,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { client } = subject;
  const alg = client.profile === 'fapi2' ? client.idTokenSignedResponseAlg : 'RS256';
  const claims: Record<string, unknown> = {
    iss: ctx.config.issuer,
    sub: subject.userId ?? subject.client.clientId,
    // RFC 8707 §2 / RFC 9068 §3: the resource the token was requested for, else the default.
    aud: subject.resource?.identifier ?? ctx.config.accessTokenAudience,
    client_id: subject.client.clientId,
    scope: subject.scopes.join(' '),
    jti,
    iat: now,
    exp: now + expiresIn,
    // RFC 9449 §6.1: a DPoP-bound token names its key's thumbprint.
    ...(subject.jkt ? { cnf: { jkt: subject.jkt } } : {}),
  };
  // RFC 8693 §4.1: an exchanged token names who acts for the subject (no other grant sets it).
  if (subject.act) claims.act = subject.act;
  return signJwsOffThread(ctx.runtime.keyStore.signer(alg), 'at+jwt', claims);
}
