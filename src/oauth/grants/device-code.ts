import { issueIdToken } from '../../oidc/id-token.js';
import { consumeDeviceCodeAndIssue, pollDeviceCode } from '../../services/device-codes.js';
import { mintAccessToken, mintRefreshToken } from '../../services/tokens.js';
import { invalidGrant, invalidRequest, OAuthError } from '../errors.js';
import { type GrantHandler, tokenResponse } from './types.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * RFC 8628 §3.4–3.5: the device polls. authorization_pending until the user decides;
 * slow_down when it polls faster than the interval (which then grows by 5 s); access_denied;
 * expired_token. An approved code issues tokens once.
 */
export const deviceCodeGrant: GrantHandler = {
  grantType: DEVICE_CODE_GRANT,
  requires: DEVICE_CODE_GRANT,
  async handle({ ctx, params, client }) {
    const deviceCode = params.get('device_code');
    if (!deviceCode) throw invalidRequest('The device_code parameter is required.');
    const polled = await pollDeviceCode(ctx.sql, deviceCode, client.id);
    if (!polled) throw invalidGrant('The device code is invalid.');
    if (polled.expired) throw new OAuthError('expired_token', 'The device code has expired; start again.');
    switch (polled.status) {
      case 'pending':
        if (polled.tooFast)
          throw new OAuthError('slow_down', 'Polling too fast: wait 5 seconds more between requests.');
        throw new OAuthError('authorization_pending', 'The user has not yet approved the request.');
      case 'denied':
        throw new OAuthError('access_denied', 'The user denied the request.');
      case 'consumed':
        throw invalidGrant('The device code has already been used.');
    }
    const subject = {
      client,
      userId: polled.userId!,
      grantId: polled.grantId,
      familyId: polled.id,
      scopes: polled.scopes,
    };
    const access = await mintAccessToken(ctx, subject);
    const refresh = client.grantTypes.includes('refresh_token') ? mintRefreshToken() : null;
    if (
      !(await consumeDeviceCodeAndIssue(ctx.sql, polled.id, access, refresh, ctx.config.ttl.refreshToken))
    ) {
      throw invalidGrant('The device code is no longer valid.');
    }
    const idToken = polled.scopes.includes('openid')
      ? await issueIdToken(ctx, {
          client,
          userId: polled.userId!,
          scopes: polled.scopes,
          nonce: null,
          authTime: polled.authTime,
          sid: null,
          accessToken: access.value,
        })
      : undefined;
    return tokenResponse(access, refresh, polled.scopes, idToken);
  },
};
