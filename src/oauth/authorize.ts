import express, { type Request, type Response, Router } from 'express';
import { newId } from '../entities/base.js';
import { createAuthorizationCode } from '../services/codes.js';
import { userHasFactor } from '../services/factors.js';
import { findActiveGrant, upsertGrant } from '../services/grants.js';
import type { BrowserSession } from '../services/sessions.js';
import { insertAccessToken, mintAccessToken } from '../services/tokens.js';
import { renderConsent, serialise, verifyConsentRequest } from '../web/consent.js';
import { csrfFailure, isValidCsrf } from '../web/csrf.js';
import { WebError } from '../web/errors.js';
import { needsAuthentication } from './authentication-level.js';
import {
  AuthorizationPageError,
  AuthorizationRedirectError,
  type AuthorizationRequest,
  parseAuthorizationRequest,
  redirectWith,
} from './authorization-request.js';
import { OAuthError } from './errors.js';
import { type Params, parseBody, parseParams } from './params.js';
import { carryForward } from './pushed-authorization.js';

/**
 * GET and POST /o/authorize/ (RFC 6749 §4.1, OIDC Core §3.1.2): validate, make sure the user is
 * logged in (prompt, max_age, acr_values step-up), ask for consent unless the application skips it or an active
 * grant already covers the scopes, then redirect back with a code (or, for applications that
 * opted in to the implicit grant, a token in the fragment). The consent form posts back here.
 * No CORS headers are ever sent from this endpoint.
 */
export function authorizeRouter(bodyLimit: number): Router {
  const router = Router();
  router.get('/o/authorize/', async (req, res) => {
    const query = req.originalUrl.includes('?')
      ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1)
      : '';
    await run(req, res, () => parseParams(query));
  });
  router.post('/o/authorize/', express.raw({ type: () => true, limit: bodyLimit }), async (req, res) => {
    const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      throw new WebError(400, 'Invalid request', 'The authorization request must be sent as a form.');
    }
    const body = parseForPage(() => parseBody(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)));
    if (body.has('consent_request')) {
      await consent(req, res, body);
      return;
    }
    await run(req, res, () => body);
  });
  return router;
}

function parseForPage(parse: () => Params): Params {
  try {
    return parse();
  } catch (err) {
    if (err instanceof OAuthError) throw new WebError(400, 'Invalid authorization request', err.description);
    throw err;
  }
}

async function run(req: Request, res: Response, parse: () => Params): Promise<void> {
  const params = parseForPage(parse);
  await answer(req, res, async () => {
    const request = await parseAuthorizationRequest(params, req.ctx.runtime, req.ctx.config, req.ctx.ip);
    const session = req.browserSession;
    if (
      !session ||
      (await needsAuthentication(request, session, () => userHasFactor(req.ctx, session.user.id)))
    ) {
      if (request.prompt.has('none')) {
        throw new AuthorizationRedirectError(
          request.target,
          new OAuthError('login_required', 'The user is not logged in.'),
        );
      }
      redirectToLogin(res, request, Boolean(session));
      return;
    }
    if (!request.client.skipAuthorization) {
      // `covers` is the SQL condition the fast path and code creation use: one consent rule.
      const grant = await findActiveGrant(
        req.ctx.sql,
        session.user.id,
        request.client.id,
        request.scopes,
        identifiers(request),
      );
      if (request.prompt.has('consent') || !grant?.covers) {
        if (request.prompt.has('none')) {
          throw new AuthorizationRedirectError(
            request.target,
            new OAuthError('consent_required', 'The user has not granted these scopes to the application.'),
          );
        }
        renderConsent(req, res, request);
        return;
      }
    }
    await respond(req, res, request, session);
  });
}

/** The consent form's POST: a valid, untampered request from this session, then Allow or Deny. */
async function consent(req: Request, res: Response, body: Params): Promise<void> {
  if (!isValidCsrf(req, res, body.get('csrf_token'))) throw csrfFailure();
  const session = req.browserSession;
  if (!session)
    throw new WebError(403, 'You are not logged in', 'Your session ended. Start again from the application.');
  const params = verifyConsentRequest(req, body.get('consent_request'));
  if (!params) {
    throw new WebError(
      400,
      'This consent form is no longer valid',
      'It has expired or was changed. Start again from the application.',
    );
  }
  await answer(req, res, async () => {
    const request = await parseAuthorizationRequest(params, req.ctx.runtime, req.ctx.config, req.ctx.ip);
    if (!body.get('allow')) {
      throw new AuthorizationRedirectError(
        request.target,
        new OAuthError('access_denied', 'The user denied the request.'),
      );
    }
    await respond(req, res, request, session);
  });
}

/** Runs a step of the flow, turning its errors into a page or a redirect as RFC 6749 §4.1.2.1 wants. */
async function answer(req: Request, res: Response, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    if (err instanceof AuthorizationPageError)
      throw new WebError(err.status, err.title, err.detail, err.headers);
    if (err instanceof AuthorizationRedirectError) {
      res.redirect(302, redirectWith(err.target, err.reason.body(), req.ctx.config.issuer));
      return;
    }
    throw err;
  }
}

/**
 * Sends the browser to the login page, coming back to this request afterwards. `prompt=login`
 * is dropped from the way back (the fresh login satisfies it) and tells the login page to ask
 * even though a session exists.
 */
function redirectToLogin(res: Response, request: AuthorizationRequest, forced: boolean): void {
  const back = new Map(request.params);
  const prompts = [...request.prompt].filter((p) => p !== 'login');
  if (prompts.length) back.set('prompt', prompts.join(' '));
  else back.delete('prompt');
  const next = `/o/authorize/?${serialise(carryForward(back, request.pushed, res.req.ctx.runtime.keys))}`;
  const login = new URLSearchParams({ next });
  if (forced) login.set('prompt', 'login');
  if (request.loginHint) login.set('login_hint', request.loginHint);
  res.redirect(302, `/accounts/login/?${login.toString()}`);
}

function identifiers(request: AuthorizationRequest): string[] {
  return request.resources.map((r) => r.identifier);
}

/** Issues the code (or implicit token) and redirects back to the client. */
async function respond(
  req: Request,
  res: Response,
  request: AuthorizationRequest,
  session: BrowserSession,
): Promise<void> {
  const { ctx } = req;
  const issuer = ctx.config.issuer;
  if (request.responseType === 'code') {
    const code = await createAuthorizationCode(ctx.sql, {
      applicationId: request.client.id,
      userId: session.user.id,
      redirectUri: request.redirectUriSent,
      scopes: request.scopes,
      resources: identifiers(request),
      codeChallenge: request.pkce?.challenge ?? null,
      codeChallengeMethod: request.pkce?.method ?? null,
      nonce: request.nonce ?? null,
      dpopJkt: request.dpopJkt,
      authTime: session.authTime,
      amr: session.amr,
      sid: session.id,
      ttlSeconds: request.codeTtlSeconds,
    });
    res.redirect(302, redirectWith(request.target, { code }, issuer));
    return;
  }
  // Implicit (legacy, opt-in): the token travels in the fragment; no refresh token.
  const grant = await upsertGrant(
    ctx.sql,
    session.user.id,
    request.client.id,
    request.scopes,
    identifiers(request),
  );
  const subject = {
    client: request.client,
    userId: session.user.id,
    grantId: grant.id,
    familyId: newId(),
    scopes: request.scopes,
    resource: request.resources[0] ?? null,
  };
  const access = await mintAccessToken(ctx, subject);
  await insertAccessToken(ctx, access, subject);
  res.redirect(
    302,
    redirectWith(
      request.target,
      {
        access_token: access.value,
        token_type: 'Bearer',
        expires_in: String(access.expiresIn),
        scope: request.scopes.join(' '),
      },
      issuer,
    ),
  );
}
