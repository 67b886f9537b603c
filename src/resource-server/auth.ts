import type { Request } from 'express';

/**
 * What a verified access token says, on `req.auth`. A superset of the MCP TypeScript SDK's
 * `AuthInfo` (token, clientId, scopes, expiresAt in seconds, resource as a URL, extra), so the
 * SDK's Streamable HTTP transport hands it to tools as `extra.authInfo` unchanged.
 */
export interface TokenAuth {
  /** The access token as presented. */
  token: string;
  /** `sub`: the user, or the client for client_credentials tokens; undefined when absent. */
  subject: string | undefined;
  clientId: string;
  scopes: string[];
  /** `aud`, always as a list; it contains this resource. */
  audience: string[];
  /** `exp`, seconds since the epoch. */
  expiresAt: number | undefined;
  /** Every claim of the JWT, or every member of the introspection response. */
  claims: Readonly<Record<string, unknown>>;
  /** This resource's identifier (RFC 8707), the token's audience. */
  resource: URL;
  /** How the token was checked. */
  verifiedBy: 'jwt' | 'introspection';
  /**
   * The key the caller proved it holds (RFC 9449 §7.1: a DPoP proof by the key of the token's
   * `cnf.jkt`); undefined for a bearer token.
   */
  confirmation: { jkt: string } | undefined;
  /** The AuthInfo slot for anything else: here the claims again (frozen). */
  extra: Record<string, unknown>;
}

/** The verdict on a token, before it is attached to one request (shared by cache hits). */
export interface VerifiedToken {
  subject: string | undefined;
  clientId: string;
  scopes: readonly string[];
  audience: readonly string[];
  expiresAt: number | undefined;
  claims: Readonly<Record<string, unknown>>;
  /** RFC 7800 confirmation (`cnf`): the token is bound to a key the caller must prove. */
  cnf: Readonly<Record<string, unknown>> | undefined;
  verifiedBy: 'jwt' | 'introspection';
}

/** Builds the verdict from claims already checked (signature or `active`, iss, aud, times). */
export function verdict(
  claims: Record<string, unknown>,
  verifiedBy: VerifiedToken['verifiedBy'],
): VerifiedToken {
  const aud = claims.aud;
  const cnf = claims.cnf;
  return Object.freeze({
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    clientId: typeof claims.client_id === 'string' ? claims.client_id : '',
    scopes: Object.freeze(typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : []),
    audience: Object.freeze(typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.map(String) : []),
    expiresAt: typeof claims.exp === 'number' ? claims.exp : undefined,
    claims: Object.freeze({ ...claims }),
    cnf: typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>) : undefined,
    verifiedBy,
  });
}

/**
 * One request's view of a verdict: fresh arrays, so a handler changing them cannot touch the
 * cache (the claims are frozen). A class, so authOf can tell our object from anything else on
 * `req.auth` with one instanceof (a WeakSet per request cost more than the rest of a cache hit).
 */
class Auth implements TokenAuth {
  readonly subject: string | undefined;
  readonly clientId: string;
  readonly scopes: string[];
  readonly audience: string[];
  readonly expiresAt: number | undefined;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly resource: URL;
  readonly verifiedBy: TokenAuth['verifiedBy'];
  readonly confirmation: TokenAuth['confirmation'];
  readonly extra: Record<string, unknown>;

  constructor(
    readonly token: string,
    v: VerifiedToken,
    resource: string,
    confirmation: TokenAuth['confirmation'],
  ) {
    this.subject = v.subject;
    this.clientId = v.clientId;
    this.scopes = [...v.scopes];
    this.audience = [...v.audience];
    this.expiresAt = v.expiresAt;
    this.claims = v.claims;
    this.resource = new URL(resource);
    this.verifiedBy = v.verifiedBy;
    this.confirmation = confirmation && Object.freeze({ ...confirmation });
    this.extra = v.claims as Record<string, unknown>;
  }
}

export const authFor = (
  token: string,
  v: VerifiedToken,
  resource: string,
  confirmation?: TokenAuth['confirmation'],
): TokenAuth => new Auth(token, v, resource, confirmation);

type WithAuth = Request & { auth?: TokenAuth };

export function attach(req: Request, auth: TokenAuth): void {
  (req as WithAuth).auth = auth;
}

/**
 * The verified token of a request behind requireToken, typed. Throws when requireToken did not
 * run for the request (a routing mistake, not a client error).
 */
export function authOf(req: Request): TokenAuth {
  const auth = (req as WithAuth).auth;
  if (!(auth instanceof Auth)) throw new Error('authOf: requireToken did not run for this request');
  return auth;
}
