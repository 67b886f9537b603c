import { consumeDeviceCodeAndIssue, pollDeviceCode } from '../../services/device-codes.js';
import { mintAccessToken } from '../../services/tokens.js';
import { DEVICE_CODE_GRANT } from '../../vocabulary.js';
import { invalidGrant, invalidRequest, OAuthError } from '../errors.js';
import { notHeld, resourceHeld, tokenResource } from '../resource-indicators.js';
import { idTokenFor, mintRefreshIfAllowed, tokenResponse } from './common.js';
import type { GrantHandler } from './types.js';

/**
 * RFC 8628 §3.4–3.5: the device polls. authorization_pending until the user decides;
 * slow_down when it polls faster than the interval (which then grows by 5 s); access_denied;
 * expired_token. An approved code issues tokens once.
 */
export const deviceCodeGrant: GrantHandler = {
  grantType: DEVICE_CODE_GRANT,
  async handle({ ctx, params, client, dpop }) {
    const deviceCode = params.get('device_code');
    if (!deviceCode) throw invalidRequest('The device_code parameter is required.');
    const resource = await tokenResource(ctx.runtime.resources, params);
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
    // RFC 8707: one of the resources the device authorization request named (the user approved them).
    if (!resourceHeld(polled.resources, resource?.identifier ?? null)) throw notHeld();
    const subject = {
      client,
      userId: polled.userId!,
      grantId: polled.grantId,
      familyId: polled.id,
      scopes: polled.scopes,
      resource,
      jkt: dpop?.jkt,
    };
    const access = await mintAccessToken(ctx, subject);
    const refresh = mintRefreshIfAllowed(client, dpop);
    if (
      !(await consumeDeviceCodeAndIssue(ctx.sql, polled.id, access, refresh, ctx.config.ttl.refreshToken))
    ) {
      throw invalidGrant('The device code is no longer valid.');
    }
    const { scopes } = polled;
    const idToken = await idTokenFor({
      ctx,
      client,
      userId: subject.userId,
      scopes,
      nonce: null,
      authTime: polled.authTime,
      sid: null,
      accessToken: access.value,
    });
    return tokenResponse({ access, refresh, scopes, idToken });
  },
};
