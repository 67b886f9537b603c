import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { attach, authFor, type TokenAuth } from './auth.js';
import { challengeHeader } from './challenge.js';
import { type Presented, presentedToken } from './credentials.js';
import { createDpopCheck, type DpopOptions } from './dpop.js';
import { insufficientScope, invalidToken, onDpopChallenge, TokenError, UpstreamError } from './errors.js';
import { resourceMetadataUrl } from './metadata.js';
import { createTokenVerifier, type TokenVerifier, type VerifierOptions } from './verifier.js';

/**
 * A proof-of-possession check for sender-constrained tokens other than DPoP (RFC 7800 `cnf`,
 * e.g. mTLS `x5t#S256`); DPoP (`cnf.jkt`) is checked by the library itself (option `dpop`).
 * Without one, a token carrying such a `cnf` is refused: honouring it as a plain bearer token
 * would defeat the binding.
 */
export interface ProofOfPossession {
  /** Authorization schemes accepted besides Bearer, e.g. `['DPoP']`. */
  schemes: readonly string[];
  /**
   * Runs after the token verified, when it carries `cnf` or came with one of `schemes`. Resolve
   * to accept; throw a TokenError to refuse (any other error refuses as invalid_token).
   */
  verify(
    req: Request,
    presented: {
      scheme: string;
      token: string;
      cnf: Readonly<Record<string, unknown>> | undefined;
      auth: TokenAuth;
    },
  ): void | Promise<void>;
  /** Extra WWW-Authenticate challenges on a 401/403, e.g. `DPoP algs="ES256"` (RFC 9449 §7.1). */
  challenges?: readonly string[];
}

export interface RequireTokenOptions extends VerifierOptions {
  /** Scopes every request must carry (all of them); routes add more with requireScopes. */
  scopes?: readonly string[];
  /** The challenges' realm. Default: the resource identifier. */
  realm?: string;
  /** The RFC 9728 metadata URL named in challenges; default from the resource (§3.1); false: none. */
  resourceMetadataUrl?: string | false;
  proofOfPossession?: ProofOfPossession;
  /**
   * DPoP (RFC 9449 §7): on by default. A token bound to a key (`cnf.jkt`, in the JWT or the
   * introspection answer) must come as `Authorization: DPoP` with a proof of that key; a token
   * sent with the DPoP scheme must be bound. `false` turns it off (bound tokens are then
   * refused unless `proofOfPossession` handles the DPoP scheme).
   */
  dpop?: DpopOptions | false;
  /** Share one verifier (its caches, JWKS, discovery) between several requireToken calls. */
  verifier?: TokenVerifier;
  /**
   * Told about failures that are not the caller's: the authorization server unreachable or
   * misconfigured, a proof-of-possession hook that threw. Never given a token.
   */
  onError?: (err: Error) => void;
}

/** How requireToken answers a refusal; requireScopes answers the same way (same challenge). */
export interface Responder {
  refuse(res: Response, err: unknown): void;
}
/** Kept on the request under a private symbol (a WeakMap entry per request costs GC work). */
const RESPONDER = Symbol('latchkey.responder');
type WithResponder = Request & { [RESPONDER]?: Responder };

/** The responder of the requireToken that ran for `req`, if one did. */
export const responderOf = (req: Request): Responder | undefined => (req as WithResponder)[RESPONDER];

/**
 * Express middleware: the request must carry a valid access token for this resource (see
 * createTokenVerifier for the checks). On success `req.auth` (authOf(req)) holds it; otherwise
 * the RFC 6750 §3.1 answer: 401 without an error code when no token was sent, 400
 * invalid_request for a malformed one, 401 invalid_token, 403 insufficient_scope with the
 * needed `scope`; a challenge naming the RFC 9728 metadata (§5.1). The authorization server
 * unreachable: 503 temporarily_unavailable with Retry-After. Nothing a client sends makes it throw.
 */
export function requireToken(options: RequireTokenOptions): RequestHandler {
  const verifier = options.verifier ?? createTokenVerifier(options);
  const required = [...(options.scopes ?? [])];
  const pop = options.proofOfPossession;
  const schemes = new Set((pop?.schemes ?? []).map((s) => s.toLowerCase()));
  const dpop = options.dpop === false ? undefined : createDpopCheck(options.dpop ?? {}, options.resource);
  if (dpop) {
    if (schemes.has('dpop'))
      throw new TypeError(
        'requireToken: DPoP is checked by the library; set dpop: false to check it in proofOfPossession',
      );
    schemes.add('dpop');
  }
  const metadataUrl =
    options.resourceMetadataUrl === false
      ? undefined
      : (options.resourceMetadataUrl ?? resourceMetadataUrl(options.resource));
  const realm = options.realm ?? options.resource;

  const responder: Responder = {
    refuse(res, err) {
      if (res.headersSent) return;
      if (err instanceof UpstreamError) {
        options.onError?.(err);
        res
          .status(503)
          .set({ 'Retry-After': String(err.retryAfterSeconds), 'Cache-Control': 'no-store' })
          .json({
            error: 'temporarily_unavailable',
            error_description: 'The authorization server could not be reached; try again shortly.',
          });
        return;
      }
      if (!(err instanceof TokenError)) {
        // Our bug or a hook's, never the client's fault to see as a 500: refuse the token.
        options.onError?.(err instanceof Error ? err : new Error(String(err)));
        err = invalidToken('The access token could not be verified.');
      }
      const e = err as TokenError;
      // The error rides on the challenge of the scheme it concerns (RFC 9449 §7.1–7.2); the
      // other scheme's challenge still says what this resource accepts.
      const errorOn = dpop && (dpop.required || e.scheme === 'DPoP') ? 'DPoP' : 'Bearer';
      // Bearer keeps realm, scope and resource_metadata (what RFC 6750 and RFC 9728 clients
      // read); the DPoP challenge beside it is RFC 9449 §7.1's short one (its error and algs).
      const alone = !!dpop?.required;
      const challenge = (scheme: 'Bearer' | 'DPoP') => {
        const full = scheme === 'Bearer' || alone;
        const carries = scheme === errorOn;
        return challengeHeader({
          scheme,
          realm: full ? realm : undefined,
          ...(carries ? { error: e.code, description: e.description } : {}),
          scopes: e.code === 'insufficient_scope' && carries ? e.scopes : full ? required : [],
          resourceMetadata: full ? metadataUrl : undefined,
          algs: scheme === 'DPoP' ? dpop?.algorithms : undefined,
        });
      };
      const challenges = !dpop
        ? [challenge('Bearer')]
        : dpop.required
          ? [challenge('DPoP')]
          : errorOn === 'DPoP'
            ? [challenge('DPoP'), challenge('Bearer')]
            : [challenge('Bearer'), challenge('DPoP')];
      res.status(e.status).set('WWW-Authenticate', [...challenges, ...(pop?.challenges ?? [])]);
      res.json(
        e.code ? { error: e.code, error_description: e.description } : { error_description: e.description },
      );
    },
  };

  async function check(req: Request): Promise<TokenAuth> {
    const presented = presentedToken(req, schemes);
    if (!dpop || presented.scheme.toLowerCase() !== 'dpop') return checkToken(req, presented);
    try {
      return await checkToken(req, presented);
    } catch (err) {
      // The client used the DPoP scheme: every refusal is that scheme's (RFC 9449 §7.1).
      throw err instanceof TokenError ? onDpopChallenge(err) : err;
    }
  }

  async function checkToken(req: Request, presented: Presented): Promise<TokenAuth> {
    const verified = await verifier.verify(presented.token);
    const jkt = typeof verified.cnf?.jkt === 'string' ? verified.cnf.jkt : undefined;
    if (dpop && (jkt !== undefined || presented.scheme.toLowerCase() === 'dpop')) {
      if (presented.scheme.toLowerCase() !== 'dpop')
        throw onDpopChallenge(
          invalidToken(
            'The access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof (RFC 9449 §7.1).',
          ),
        );
      if (jkt === undefined)
        throw invalidToken('The access token is not DPoP-bound; send it as a Bearer token (RFC 9449 §7.1).');
      await dpop.verify(req, presented.token, jkt);
      return withScopes(authFor(presented.token, verified, verifier.resource, { jkt }));
    }
    if (dpop?.required)
      throw invalidToken('This resource accepts only DPoP-bound access tokens (RFC 9449 §7.1).');
    const auth = authFor(presented.token, verified, verifier.resource);
    const bound = verified.cnf !== undefined || presented.scheme.toLowerCase() !== 'bearer';
    if (bound) {
      if (!pop)
        throw invalidToken('The access token is sender-constrained; this resource cannot check its proof.');
      try {
        await pop.verify(req, { ...presented, cnf: verified.cnf, auth });
      } catch (err) {
        if (err instanceof TokenError || err instanceof UpstreamError) throw err;
        options.onError?.(err instanceof Error ? err : new Error(String(err)));
        throw invalidToken('The proof of possession is invalid.');
      }
    }
    return withScopes(auth);
  }

  function withScopes(auth: TokenAuth): TokenAuth {
    const missing = required.filter((s) => !auth.scopes.includes(s));
    if (missing.length) throw insufficientScope(required);
    return auth;
  }

  return (req: Request, res: Response, next: NextFunction) => {
    (req as WithResponder)[RESPONDER] = responder;
    check(req).then(
      (auth) => {
        attach(req, auth);
        next();
      },
      (err: unknown) => responder.refuse(res, err),
    );
  };
}
