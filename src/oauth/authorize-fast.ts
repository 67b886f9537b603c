import { createCodeForSession } from '../services/codes.js';
import { digest } from '../services/secrets.js';
import { cookieName, readCookie } from '../web/cookies.js';
import { asksAboutAuthentication } from './authentication-level.js';
import { parseAuthorizationRequest, redirectWith } from './authorization-request.js';
import { parseParams } from './params.js';
import type { ProtocolHandler } from './protocol-io.js';
import { refersToPushedRequest } from './pushed-authorization.js';

/** What a redirect answer from the authorization endpoint carries (as the pages would). */
const REDIRECT_HEADERS = {
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "frame-ancestors 'none'",
};

/**
 * GET /o/authorize/ when nothing needs a page: a valid request, a live session, and no consent
 * to ask (the application skips it or a grant covers the scopes). One statement checks the
 * session and stores the code; the answer is the redirect back to the client. Anything else —
 * no or dead session, consent, prompt, max_age, acr_values, implicit, any error — passes, untouched, to the
 * full authorization endpoint (src/oauth/authorize.ts), which renders pages and errors.
 */
export const quickAuthorize: ProtocolHandler = async (req, res) => {
  const { ctx } = req;
  const cookie = readCookie(req, cookieName(ctx.config, 'session'));
  if (!cookie || cookie.length > 100) return 'pass';
  let request: Awaited<ReturnType<typeof parseAuthorizationRequest>>;
  try {
    const params = parseParams(req.query);
    // A request_uri is used up when resolved: that is the page path's to do, once (RFC 9126 §4).
    if (refersToPushedRequest(params)) return 'pass';
    request = await parseAuthorizationRequest(params, ctx.runtime, ctx.config, ctx.ip);
  } catch {
    return 'pass';
  }
  if (request.responseType !== 'code' || asksAboutAuthentication(request)) return 'pass';
  const code = await createCodeForSession(ctx.sql, {
    sessionDigest: digest(cookie),
    applicationId: request.client.id,
    redirectUri: request.redirectUriSent,
    scopes: request.scopes,
    resources: request.resources.map((r) => r.identifier),
    codeChallenge: request.pkce?.challenge ?? null,
    codeChallengeMethod: request.pkce?.method ?? null,
    nonce: request.nonce ?? null,
    dpopJkt: request.dpopJkt,
    ttlSeconds: request.codeTtlSeconds,
    skipConsent: request.client.skipAuthorization,
    idleTimeout: ctx.config.session.idleTimeout,
  });
  if (!code) return 'pass';
  res
    .setAll(REDIRECT_HEADERS)
    .set('Location', redirectWith(request.target, { code }, ctx.config.issuer))
    .empty(302);
};
