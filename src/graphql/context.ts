import type { Request } from 'express';
import { GraphQLError } from 'graphql';
import { temporaryUnavailability } from '../http/errors.js';
import { type PresentedToken, presentedToken, usableHere } from '../oauth/bearer.js';
import { checkSenderConstraint } from '../oauth/dpop/index.js';
import { OAuthError } from '../oauth/errors.js';
import type { ServerCtx } from '../services/context.js';
import { findSession } from '../services/sessions.js';
import { findAccessToken } from '../services/tokens.js';
import { cookieName, readCookie } from '../web/cookies.js';
import { serviceUnavailable } from './errors.js';
import { createLoaders, type Loaders } from './loaders.js';

/** What every resolver receives: the request's service context and its DataLoaders. */
export interface GqlContext {
  ctx: ServerCtx;
  loaders: Loaders;
}

function unauthenticated(
  description: string,
  headers: Readonly<Record<string, string>> = {
    'www-authenticate': `Bearer realm="latchkey", error="invalid_token", error_description="${description}"`,
  },
): GraphQLError {
  return new GraphQLError(description, {
    extensions: {
      code: 'UNAUTHENTICATED',
      http: {
        status: 401,
        headers: new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
      },
    },
  });
}

/** RFC 9449 §7: a DPoP-bound token needs the DPoP scheme and a proof; the refusal keeps its DPoP challenge. */
async function checkBinding(req: Request, presented: PresentedToken, jkt: string | null): Promise<void> {
  try {
    await checkSenderConstraint(
      req.ctx,
      {
        method: req.method,
        path: req.path,
        header: req.headers.dpop,
        setHeader: (name, value) => req.res?.setHeader(name, value),
      },
      presented,
      jkt,
    );
  } catch (err) {
    if (err instanceof OAuthError) throw unauthenticated(err.description, err.headers);
    throw err;
  }
}

/**
 * Who is asking: an access token (Bearer, or DPoP with a proof for a bound token) issued by this server with the `graphql` scope (its
 * user; a client_credentials token acts as its client, which owns nothing), or the browser
 * session cookie. A Bearer token that is invalid, expired, revoked or lacks the scope is refused
 * outright; no credentials at all means anonymous.
 */
export async function createContext(req: Request): Promise<GqlContext> {
  try {
    return await authenticate(req);
  } catch (err) {
    // Apollo answers 500 for any other failure here; a temporary unavailability is a 503 everywhere.
    const unavailable = temporaryUnavailability(err);
    if (!unavailable) throw err;
    throw serviceUnavailable(unavailable);
  }
}

async function authenticate(req: Request): Promise<GqlContext> {
  const ctx = req.ctx;
  const presented = presentedToken(req.get('authorization'));
  if (presented) {
    const info = await findAccessToken(ctx, presented.token);
    if (!usableHere(info)) throw unauthenticated('The access token is invalid, expired or revoked.');
    await checkBinding(req, presented, info.jkt);
    if (!info.scopes.includes('graphql')) throw unauthenticated('The access token lacks the graphql scope.');
    if (info.userId && info.user) {
      // The lookup already joined the user (and `active` means the user is enabled).
      ctx.actor = {
        kind: 'user',
        via: 'bearer',
        scopes: info.scopes,
        user: {
          id: info.userId,
          username: info.user.username,
          email: info.user.email,
          isAdmin: info.user.isAdmin,
          isActive: true,
        },
      };
    } else {
      ctx.actor = { kind: 'client', clientId: info.clientId };
    }
  } else {
    const session = await findSession(ctx, readCookie(req, cookieName(ctx.config, 'session')));
    if (session) ctx.actor = { kind: 'user', via: 'session', user: session.user, sessionId: session.id };
  }
  return { ctx, loaders: createLoaders(ctx) };
}
