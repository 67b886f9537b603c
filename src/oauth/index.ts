import type { IncomingMessage, ServerResponse } from 'node:http';
import { healthEndpoint } from '../http/health.js';
import { readyEndpoint } from '../observability/readiness.js';
import { jwksEndpoint } from '../oidc/jwks.js';
import { userinfoEndpoint } from '../oidc/userinfo.js';
import type { Runtime } from '../services/context.js';
import { quickAuthorize } from './authorize-fast.js';
import { corsPreflight } from './cors.js';
import { deviceAuthorizationEndpoint } from './device-authorization.js';
import { ProtocolDoor } from './door.js';
import { introspectEndpoint } from './introspect.js';
import { openIdConfiguration, serverMetadata } from './metadata.js';
import { parEndpoint } from './par.js';
import type { ProtocolHandler } from './protocol-io.js';
import { registrationRoute } from './register.js';
import { revokeEndpoint } from './revoke.js';
import { tokenEndpoint } from './token.js';

/**
 * The JSON protocol endpoints and where they live. The authorization endpoint is a page (login,
 * consent) and lives with the pages; only its common case, a redirect, is answered here.
 */
export function protocolDoor(
  runtime: Runtime,
  app: (req: IncomingMessage, res: ServerResponse) => void,
): ProtocolDoor {
  const document = (doc: Record<string, unknown>): ProtocolHandler => {
    const body = JSON.stringify(doc);
    return (_req, res) => {
      res.setAll({ 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' });
      res.send('application/json; charset=utf-8', body, 200);
    };
  };
  const post = (handler: ProtocolHandler) => ({
    methods: { POST: handler },
    body: 'form' as const,
    cors: 'POST',
    preflight: corsPreflight('POST'),
  });
  const door = new ProtocolDoor(runtime);
  // RFC 7591/7592: not served at all when off (no endpoint to probe, none advertised).
  if (runtime.config.dynamicRegistration.policy !== 'off') door.routeTree('/o/register/', registrationRoute);
  return (
    door
      .route('/healthz', { methods: { GET: healthEndpoint } })
      .route('/readyz', { methods: { GET: readyEndpoint } })
      .route('/.well-known/oauth-authorization-server', {
        methods: { GET: document(serverMetadata(runtime.config)) },
      })
      .route('/.well-known/openid-configuration', {
        methods: { GET: document(openIdConfiguration(runtime.config)) },
      })
      .route('/o/token/', post(tokenEndpoint))
      .route('/o/par/', post(parEndpoint))
      .route('/o/revoke_token/', post(revokeEndpoint))
      .route('/o/introspect/', post(introspectEndpoint))
      .route('/o/device_authorization/', post(deviceAuthorizationEndpoint))
      .route('/o/userinfo/', {
        methods: { GET: userinfoEndpoint, POST: userinfoEndpoint },
        body: 'optional-form',
        cors: 'GET, POST',
        preflight: corsPreflight('GET, POST'),
      })
      .route('/o/jwks/', { methods: { GET: jwksEndpoint } })
      // The authorization endpoint is a page; its common case (a redirect) is answered here.
      .route('/o/authorize/', { methods: { GET: quickAuthorize }, rawQuery: true, fallback: app })
  );
}
