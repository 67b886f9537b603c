import { SignJWT } from 'jose';
import type { Ctx } from './context.js';
import type { TokenSubject } from './tokens.js';

/**
 * RFC 9068 JWT access token: `typ: at+jwt`, signed RS256 (the algorithm every resource server
 * must support) by the active key. `jti` is the row id, so the token can still be listed,
 * revoked and introspected like an opaque one.
 */
export async function signJwtAccessToken(
  ctx: Ctx,
  subject: TokenSubject,
  jti: string,
  expiresIn: number,
): Promise<string> {
  const { kid, alg, privateKey } = ctx.runtime.keyStore!.signer('RS256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: subject.client.clientId, scope: subject.scopes.join(' ') })
    .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
    .setIssuer(ctx.config.issuer)
    .setSubject(subject.userId ?? subject.client.clientId)
    .setAudience(ctx.config.accessTokenAudience)
    .setJti(jti)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(privateKey);
}
