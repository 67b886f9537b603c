import type { Request, Response } from 'express';

/**
 * GET /o/jwks/: the public keys (active and not yet retired) with kid, use and alg. Cacheable
 * for a minute: a relying party that meets an unknown kid after a rotation fetches again.
 */
export function jwksEndpoint(req: Request, res: Response): void {
  res
    .set({ 'Cache-Control': 'public, max-age=60', 'Access-Control-Allow-Origin': '*' })
    .type('application/jwk-set+json')
    .send(JSON.stringify(req.ctx.runtime.keyStore!.jwks()));
}
