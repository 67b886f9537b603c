import type { ProtocolRequest, ProtocolResponse } from '../oauth/protocol-io.js';

/**
 * GET /o/jwks/: the public keys (active and not yet retired) with kid, use and alg. Cacheable
 * for a minute: a relying party that meets an unknown kid after a rotation fetches again.
 */
export function jwksEndpoint(req: ProtocolRequest, res: ProtocolResponse): void {
  res
    .setAll({ 'Cache-Control': 'public, max-age=60', 'Access-Control-Allow-Origin': '*' })
    .send('application/jwk-set+json', JSON.stringify(req.ctx.runtime.keyStore.jwks()), 200);
}
