import { recordTokenIssued } from '../observability/metrics.js';
import { authenticateClient } from './client-auth.js';
import { allowClientOrigin } from './cors.js';
import { tokenRequestProof } from './dpop/index.js';
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from './errors.js';
import { grants } from './grants/index.js';
import { type ProtocolRequest, type ProtocolResponse, proofRequest } from './protocol-io.js';

/**
 * POST /o/token/ (RFC 6749 §3.2): authenticate the client, find the grant module for
 * grant_type, let it issue, answer with Cache-Control: no-store.
 */
export async function tokenEndpoint(req: ProtocolRequest, res: ProtocolResponse): Promise<void> {
  const params = req.params;
  const grantType = params.get('grant_type');
  if (!grantType) throw invalidRequest('The grant_type parameter is required.');
  const { client, method } = await authenticateClient(req, params);
  allowClientOrigin(req, res, client);
  const grant = grants.get(grantType);
  if (!grant) throw unsupportedGrantType(`Grant type "${grantType.slice(0, 60)}" is not supported.`);
  if (!client.grantTypes.includes(grant.grantType)) {
    throw unauthorizedClient(`This client is not allowed to use the ${grant.grantType} grant.`);
  }
  // RFC 9449 §5: one proof check for every grant; a valid proof binds what the grant issues.
  const dpop = await tokenRequestProof(req.ctx, proofRequest(req, res), client);
  const body = await grant.handle({ ctx: req.ctx, params, client, clientAuth: method, dpop });
  recordTokenIssued(grant.grantType);
  res.setAll({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(body, 200);
}
