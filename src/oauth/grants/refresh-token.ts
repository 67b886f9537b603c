import { recordReplay } from '../../observability/metrics.js';
import { diagnoseRefreshToken, reissueWithinGrace, rotateRefreshToken } from '../../services/refresh.js';
import { digest } from '../../services/secrets.js';
import { issuesJwt, mintAccessToken, mintRefreshToken, revokeFamily } from '../../services/tokens.js';
import { invalidGrant, invalidRequest, invalidScope } from '../errors.js';
import { scopeParam } from '../params.js';
import { notHeld, resourceHeld, tokenResource } from '../resource-indicators.js';
import { idTokenFor, refreshTokenKey, tokenResponse } from './common.js';
import type { GrantHandler } from './types.js';

/**
 * RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1): one conditional statement consumes the token and
 * writes the new pair, so parallel refreshes have exactly one winner. A rotated token presented
 * again within REFRESH_GRACE_SECONDS gets a fresh pair; within REFRESH_CONCURRENCY_WINDOW_SECONDS
 * it is refused without consequence (a concurrent duplicate); otherwise it is reuse, and the
 * whole family is revoked. Both windows are off by default (RFC 9700 §4.14.2).
 *
 * RFC 8707: `resource` narrows the new access token to one of the resources the grant holds
 * (the successor refresh token keeps them all); another resource is invalid_target.
 */
export const refreshTokenGrant: GrantHandler = {
  grantType: 'refresh_token',
  async handle({ ctx, params, client, dpop }) {
    const value = params.get('refresh_token');
    if (!value) throw invalidRequest('The refresh_token parameter is required.');
    if (value.length > 512) throw invalidGrant('The refresh token is invalid.');
    const requested = scopeParam(params) ?? null;
    const resource = await tokenResource(ctx.runtime.resources, params);
    const audience = resource?.identifier ?? null;
    const tokenDigest = digest(value);
    const jkt = dpop?.jkt ?? null;
    // FAPI 2.0 §5.3.2.1 (rotateRefreshTokens off): the presented token stays; no successor.
    const refresh = client.rotateRefreshTokens ? mintRefreshToken(refreshTokenKey(client, dpop)) : null;
    // The access token's subject is known only after the rotation; JWT access tokens need it first.
    const pre = issuesJwt(client, resource) ? await diagnoseRefreshToken(ctx.sql, tokenDigest) : null;
    const access = await mintAccessToken(ctx, {
      client,
      userId: pre?.userId ?? null,
      grantId: pre?.grantId ?? null,
      familyId: pre?.familyId ?? null,
      scopes: requested ?? pre?.scopes ?? [],
      resource,
      jkt,
    });
    const rotated = await rotateRefreshToken(ctx.sql, {
      digest: tokenDigest,
      applicationId: client.id,
      requestedScopes: requested,
      audience,
      access,
      refresh,
      refreshTtl: ctx.config.ttl.refreshToken,
      proofJkt: jkt,
    });
    if (rotated) {
      const scopes = requested ?? rotated.scopes;
      const idToken = await idTokenFor({
        ctx,
        client,
        userId: rotated.userId,
        scopes,
        nonce: null,
        authTime: rotated.authTime,
        sid: rotated.sid,
        accessToken: access.value,
      });
      return tokenResponse({ access, refresh, scopes, idToken });
    }

    const why = await diagnoseRefreshToken(ctx.sql, tokenDigest);
    if (!why || why.applicationId !== client.id) throw invalidGrant('The refresh token is invalid.');
    // RFC 9449 §5: before anything else (the grace window included), a bound token needs its key.
    if (why.jkt !== null && why.jkt !== jkt) {
      throw invalidGrant(
        jkt === null
          ? 'The refresh token is DPoP-bound: the request needs a DPoP proof of its key.'
          : 'The refresh token is bound to another DPoP key.',
      );
    }
    if (why.revoked) throw invalidGrant('The refresh token has been revoked.');
    if (why.expired) throw invalidGrant('The refresh token has expired.');
    if (!why.userActive) throw invalidGrant('The user is disabled.');
    if (requested && !requested.every((s) => why.scopes.includes(s))) {
      throw invalidScope('The requested scope exceeds the scope originally granted (RFC 6749 §6).');
    }
    if (!resourceHeld(why.resources, audience)) throw notHeld();
    if (why.consumedAgo !== null) {
      const { graceSeconds, concurrencyWindowSeconds } = ctx.config.refresh;
      if (why.consumedAgo <= graceSeconds) {
        const scopes = requested ?? why.scopes;
        const again = await mintAccessToken(ctx, {
          client,
          userId: why.userId,
          grantId: why.grantId,
          familyId: why.familyId,
          scopes,
          resource,
          jkt,
        });
        const fresh = mintRefreshToken(refreshTokenKey(client, dpop));
        await reissueWithinGrace(ctx.sql, why, scopes, again, fresh, ctx.config.ttl.refreshToken);
        const idToken = await idTokenFor({
          ctx,
          client,
          userId: why.userId,
          scopes,
          nonce: null,
          authTime: why.authTime,
          sid: why.sid,
          accessToken: again.value,
        });
        return tokenResponse({ access: again, refresh: fresh, scopes, idToken });
      }
      if (why.consumedAgo <= concurrencyWindowSeconds) {
        throw invalidGrant('The refresh token was just rotated by a concurrent request.');
      }
      recordReplay('refresh_token');
      await revokeFamily(ctx.sql, why.familyId);
      throw invalidGrant('The refresh token has already been used; its token family has been revoked.');
    }
    throw invalidGrant('The refresh token is invalid.');
  },
};
