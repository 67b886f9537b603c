import { type Request, type Response, Router } from 'express';
import { endSession } from '../services/sessions.js';
import { clearCookie, cookieName } from '../web/cookies.js';
import { csrfToken, requireCsrf } from '../web/csrf.js';
import { WebError } from '../web/errors.js';
import { field } from '../web/forms.js';
import { verifyOwnIdToken } from './id-token.js';

interface Hint {
  sub: string;
  aud: string;
  sid?: string;
  expired: boolean;
}

/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at /o/logout/: id_token_hint,
 * client_id, post_logout_redirect_uri (registered per application), state. With a current hint
 * for the logged-in session the user is logged out at once; otherwise (no hint, an expired one,
 * another session's, or nobody logged in) they confirm first — a redirect to a registered URI
 * with no user in the loop would make this endpoint a redirector for anyone who registers one.
 */
export function endSessionRouter(): Router {
  const router = Router();
  router.get('/o/logout/', (req, res) => handle(req, res, (name) => query(req, name)));
  router.post('/o/logout/', (req, res, next) => {
    if (field(req, 'confirm') !== undefined) {
      requireCsrf(req, res, (err?: unknown) => {
        if (err) next(err);
        else handle(req, res, (name) => field(req, name), true).catch(next);
      });
      return;
    }
    handle(req, res, (name) => field(req, name)).catch(next);
  });
  return router;
}

function query(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

async function handle(
  req: Request,
  res: Response,
  param: (name: string) => string | undefined,
  confirmed = false,
) {
  const hintValue = param('id_token_hint');
  const hint = hintValue ? await verifyHint(req, hintValue) : undefined;
  const clientId = param('client_id') ?? hint?.aud;
  if (hint && param('client_id') && param('client_id') !== hint.aud) {
    throw new WebError(400, 'Invalid logout request', 'client_id does not match the id_token_hint.');
  }
  const postLogout = param('post_logout_redirect_uri');
  let target: string | undefined;
  if (postLogout) {
    const client = clientId ? await req.ctx.runtime.clients.get(clientId) : null;
    if (!client?.postLogoutRedirectUris.includes(postLogout)) {
      throw new WebError(
        400,
        'Invalid logout request',
        'post_logout_redirect_uri is not registered for this application, so Latchkey will not send you there.',
      );
    }
    const url = new URL(postLogout);
    const state = param('state');
    if (state) url.searchParams.set('state', state);
    target = url.href;
  }
  const session = req.browserSession;
  const current =
    hint && !hint.expired && session && (hint.sid ? hint.sid === session.id : hint.sub === session.user.id);
  if (!confirmed && !current && (session || target)) {
    res.render('logout-confirm', {
      title: session ? 'Log out' : 'Logged out',
      loggedIn: Boolean(session),
      csrfToken: csrfToken(req, res),
      params: ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state']
        .map((name) => ({ name, value: param(name) }))
        .filter((p) => p.value !== undefined),
      application: clientId ? (await req.ctx.runtime.clients.get(clientId))?.name : undefined,
    });
    return;
  }
  if (session) {
    await endSession(req.ctx, session.id);
    clearCookie(res, req.ctx.config, cookieName(req.ctx.config, 'session'));
  }
  if (target) {
    res.redirect(302, target);
    return;
  }
  res.render('logged-out', { title: 'Logged out', viewer: undefined });
}

/**
 * Checks the hint is an ID Token this server issued: our signature, our issuer, `typ` JWT (an
 * RFC 9068 access token says `at+jwt`) and an audience that is one of our applications. An
 * expired hint is still a hint, marked stale.
 */
async function verifyHint(req: Request, value: string): Promise<Hint> {
  const invalid = new WebError(
    400,
    'Invalid logout request',
    'The id_token_hint was not issued by this server.',
  );
  const claims = await verifyOwnIdToken(req.ctx, value);
  if (!claims || typeof claims.sub !== 'string') throw invalid;
  const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (typeof aud !== 'string' || !(await req.ctx.runtime.clients.get(aud))) throw invalid;
  return {
    sub: claims.sub,
    aud,
    sid: typeof claims.sid === 'string' ? claims.sid : undefined,
    expired: typeof claims.exp === 'number' && claims.exp * 1000 < Date.now(),
  };
}
