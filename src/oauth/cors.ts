import type { ClientRecord } from '../services/client-cache.js';
import type { ProtocolHandler, ProtocolRequest, ProtocolResponse } from './protocol-io.js';

/**
 * CORS for the endpoints browsers call cross-origin (token, revoke, introspect, userinfo,
 * device authorization): preflights are answered without authentication for any origin an
 * application registered; an actual response allows the origin only if the authenticated
 * client registered it. Never credentials. The authorization endpoint never sends CORS headers.
 */
export function corsPreflight(methods: string): ProtocolHandler {
  return async (req, res) => {
    const origin = req.header('origin');
    if (origin && (await req.ctx.runtime.clients.isRegisteredOrigin(origin))) {
      res.setAll({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': methods,
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, DPoP',
        'Access-Control-Max-Age': '600',
      });
    }
    res.empty(204);
  };
}

/** Allows the request's origin on this response if the client registered it. */
export function allowClientOrigin(req: ProtocolRequest, res: ProtocolResponse, client: ClientRecord): void {
  const origin = req.header('origin');
  if (origin && client.allowedOrigins.includes(origin)) {
    res.set('Access-Control-Allow-Origin', origin);
    // DPoP-Nonce: a browser client must read it to retry with the nonce (RFC 9449 §8).
    res.set('Access-Control-Expose-Headers', 'WWW-Authenticate, Retry-After, DPoP-Nonce');
  }
}
