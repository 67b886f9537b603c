import { createDeviceCode, formatUserCode } from '../services/device-codes.js';
import { DEVICE_CODE_GRANT } from '../vocabulary.js';
import { authenticateClient } from './client-auth.js';
import { allowClientOrigin } from './cors.js';
import { unauthorizedClient } from './errors.js';
import { scopeParam } from './params.js';
import type { ProtocolRequest, ProtocolResponse } from './protocol-io.js';
import { knownResources, lookUpResources, resolveScopesFor } from './resource-indicators.js';
import { resolveScopes } from './scopes.js';

/**
 * POST /o/device_authorization/ (RFC 8628 §3.1–3.2): for applications with the device_code
 * grant, public or confidential. Answers the device code, a short user code, where to enter it,
 * how long it lives and how often to poll.
 */
export async function deviceAuthorizationEndpoint(
  req: ProtocolRequest,
  res: ProtocolResponse,
): Promise<void> {
  const params = req.params;
  const { client } = await authenticateClient(req, params);
  allowClientOrigin(req, res, client);
  if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) {
    throw unauthorizedClient('This client is not allowed to use the device authorization grant.');
  }
  const { config } = req.ctx;
  // RFC 8707 §2 as at the authorization endpoint: several resources, each registered.
  const resources = knownResources(params, await lookUpResources(req.ctx.runtime.resources, params));
  const scopes = resolveScopesFor((r) => resolveScopes(r, client, config), scopeParam(params), resources);
  const { deviceCode, userCode } = await createDeviceCode(req.ctx.sql, {
    applicationId: client.id,
    scopes,
    resources: resources.map((r) => r.identifier),
    ttlSeconds: config.ttl.deviceCode,
    interval: config.deviceCodeInterval,
  });
  const shown = formatUserCode(userCode);
  const verificationUri = `${config.issuer}/o/device/`;
  res.setAll({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json({
    device_code: deviceCode,
    user_code: shown,
    verification_uri: verificationUri,
    verification_uri_complete: `${verificationUri}?user_code=${shown}`,
    expires_in: config.ttl.deviceCode,
    interval: config.deviceCodeInterval,
  });
}
