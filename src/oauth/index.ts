import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { isUnavailable } from '../db/sql.js';
import { describe } from '../http/errors.js';
import { jwksEndpoint } from '../oidc/jwks.js';
import { userinfoEndpoint } from '../oidc/userinfo.js';
import type { Runtime } from '../services/context.js';
import { corsPreflight, varyOrigin } from './cors.js';
import { deviceAuthorizationEndpoint } from './device-authorization.js';
import { OAuthError, sendOAuthError, temporarilyUnavailable } from './errors.js';
import { oauthForm } from './form.js';
import { introspectEndpoint } from './introspect.js';
import { openIdConfiguration, serverMetadata } from './metadata.js';
import { revokeEndpoint } from './revoke.js';
import { tokenEndpoint } from './token.js';

/**
 * The JSON protocol endpoints: token, revocation, introspection and metadata. No sessions, no
 * pages: every answer is RFC JSON, including every error.
 */
export function oauthRouter(runtime: Runtime): Router {
  const router = Router();
  const form = oauthForm(runtime.config.bodyLimitBytes);
  const json = (doc: Record<string, unknown>) => {
    const body = JSON.stringify(doc);
    return (_req: Request, res: Response) => {
      res
        .set({ 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' })
        .type('json')
        .send(body);
    };
  };
  router.get('/.well-known/oauth-authorization-server', json(serverMetadata(runtime.config)));
  router.get('/.well-known/openid-configuration', json(openIdConfiguration(runtime.config)));

  for (const [path, handler] of [
    ['/o/token/', tokenEndpoint],
    ['/o/revoke_token/', revokeEndpoint],
    ['/o/introspect/', introspectEndpoint],
    ['/o/device_authorization/', deviceAuthorizationEndpoint],
  ] as const) {
    router.options(path, corsPreflight('POST'));
    router.all(path, varyOrigin, ...form, handler);
  }
  // OpenID Connect's JSON endpoints live with the other protocol endpoints.
  router.get('/o/jwks/', jwksEndpoint);
  router.options('/o/userinfo/', corsPreflight('GET, POST'));
  router.get('/o/userinfo/', varyOrigin, userinfoEndpoint);
  router.post(
    '/o/userinfo/',
    varyOrigin,
    express.raw({ type: () => true, limit: runtime.config.bodyLimitBytes }),
    userinfoEndpoint,
  );
  router.all('/o/userinfo/', (_req, _res, next) => {
    next(
      new OAuthError('invalid_request', 'The userinfo endpoint accepts GET and POST.', 405, {
        Allow: 'GET, POST, OPTIONS',
      }),
    );
  });
  router.use(oauthErrorHandler());
  return router;
}

/** Every failure of a protocol endpoint as RFC JSON: never a stack trace, never an HTML page. */
export function oauthErrorHandler() {
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof OAuthError) {
      sendOAuthError(res, err);
      return;
    }
    if (isUnavailable(err)) {
      sendOAuthError(res, temporarilyUnavailable());
      return;
    }
    const status = (err as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendOAuthError(res, new OAuthError('invalid_request', 'The request could not be read.', status));
      return;
    }
    req.ctx.log.error({ err: describe(err) }, 'protocol endpoint failed');
    sendOAuthError(res, new OAuthError('server_error', 'An unexpected error occurred.', 500));
  };
}
