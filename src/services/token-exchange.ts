import { decodeJwt } from 'jose';
import { insertExchangedTokens } from '../db/tables/token-exchange.js';
import { isUuid } from '../entities/base.js';
import { invalidRequest, invalidScope, unauthorizedClient } from '../oauth/errors.js';
import { checkResourceScopes, invalidTarget, narrowDefaults } from '../oauth/resource-indicators.js';
import { resolveScopes } from '../oauth/scopes.js';
import { verifyOwnIdToken } from '../oidc/id-token.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../vocabulary.js';
import { recordAudit } from './audit.js';
import type { ClientRecord } from './client-cache.js';
import type { ServerCtx } from './context.js';
import { ForbiddenError } from './errors.js';
import { findActiveGrant } from './grants.js';
import type { ResourceRecord } from './resources.js';
import {
  type ActClaim,
  findAccessToken,
  type MintedAccessToken,
  type MintedRefreshToken,
  mintAccessToken,
  mintRefreshToken,
} from './tokens.js';

/**
 * RFC 8693 token exchange: what an application may exchange for what. The grant module
 * (src/oauth/grants/token-exchange.ts) reads the request; every decision is here.
 *
 * - A presented token (subject or actor) is an access token or an ID token of this server that
 *   is active and meant for the requesting application: issued to it, or with its client_id as
 *   audience. Anything else is invalid_request (§2.2.2), never a token.
 * - The target is one of the resources the application's policy lists (invalid_target otherwise);
 *   without a policy nothing can be exchanged.
 * - Without actor_token the exchange is impersonation, which the policy must allow; with one it
 *   is delegation and the issued token names the actor in `act` (§4.1), nesting the subject's.
 * - The scope only narrows: within the subject's, the application's and the resource's.
 * - The token lives no longer than the subject (and actor) token has left, belongs to the
 *   subject's grant (revoking the grant revokes it) and is recorded in the audit log.
 */

/** Longest token value looked at (a JWT of this server is far shorter). */
const MAX_TOKEN_LENGTH = 8192;
/** RFC 8693 §4.1 chains deeper than this are refused (each exchange adds one level). */
export const MAX_ACT_DEPTH = 5;

export interface ExchangeRequest {
  subjectToken: string;
  subjectTokenType: string;
  actorToken: string | null;
  actorTokenType: string | null;
  /** The target named by `resource`/`audience`, already resolved; null: none was named. */
  target: ResourceRecord | null;
  /** The scope parameter; undefined: none sent. */
  scopes: string[] | undefined;
  requestedTokenType: string;
  /** RFC 9449: the key of the request's verified DPoP proof, or null. */
  jkt: string | null;
}

export interface Exchanged {
  access: MintedAccessToken;
  refresh: MintedRefreshToken | null;
  scopes: string[];
}

/** A token presented as subject_token or actor_token, after every check on it. */
interface Presented {
  kind: 'access_token' | 'id_token';
  /** The access token row, for the issuing statement's recheck; null for an ID token. */
  tokenId: string | null;
  /** The user the token is about; null for a client's own token (actors only). */
  userId: string | null;
  grantId: string | null;
  /** `sub` as RFC 8693 §4.1 names it: the user, or the client acting for itself. */
  sub: string;
  clientId: string;
  scopes: string[];
  expiresAt: Date;
  act: ActClaim | null;
  jkt: string | null;
  /** RFC 8693 §4.4 `may_act` of a JWT, if it has one. */
  mayAct: unknown;
}

/**
 * RFC 8693 §2.1–2.2: checks the exchange and issues the tokens. The caller is the application
 * that authenticated at the token endpoint (the actor of the context); nobody else may exchange
 * on its behalf.
 */
export async function exchangeToken(
  ctx: ServerCtx,
  client: ClientRecord,
  request: ExchangeRequest,
): Promise<Exchanged> {
  if (ctx.actor.kind !== 'client' || ctx.actor.clientId !== client.clientId) {
    throw new ForbiddenError('Only the authenticated application exchanges its tokens.');
  }
  if (client.clientType !== 'confidential' || !client.grantTypes.includes(TOKEN_EXCHANGE_GRANT)) {
    throw unauthorizedClient('Only confidential applications allowed token exchange may use it.');
  }
  const target = await exchangeTarget(ctx, client, request.target);
  const subject = await presentedToken(
    ctx,
    client,
    request.subjectToken,
    request.subjectTokenType,
    'subject',
  );
  if (subject.userId === null || subject.grantId === null) {
    throw invalidRequest(
      'The subject_token was issued to a client for itself: there is no user to act for (RFC 8693 §2.2.2).',
    );
  }
  const actor =
    request.actorToken === null
      ? null
      : await presentedToken(ctx, client, request.actorToken, request.actorTokenType ?? '', 'actor');
  if (!actor && !client.tokenExchangeImpersonation) {
    throw invalidRequest(
      'This application may only delegate: send actor_token and actor_token_type (RFC 8693 §1.1, §2.1).',
    );
  }
  // RFC 8693 §4.4: a subject token that names who may act accepts no one else.
  if (subject.mayAct !== undefined && !mayActPermits(subject.mayAct, actor?.sub ?? client.clientId)) {
    throw invalidRequest(
      'The subject_token does not allow this party to act for it (may_act, RFC 8693 §4.4).',
    );
  }
  // RFC 9449: a bound subject token is only presented with a proof of its key.
  if (subject.jkt !== null && subject.jkt !== request.jkt) {
    throw invalidRequest('The subject_token is DPoP-bound: send a DPoP proof of its key.');
  }

  const act = actor ? delegation(actor, subject.act) : subject.act;
  if (act && actDepth(act) > MAX_ACT_DEPTH) {
    throw invalidRequest(`The delegation chain is longer than ${MAX_ACT_DEPTH} actors (RFC 8693 §4.1).`);
  }
  const scopes = narrowScopes(ctx, client, subject.scopes, request.scopes, target);
  const remaining = secondsLeft(actor ? Math.min(+subject.expiresAt, +actor.expiresAt) : +subject.expiresAt);
  if (remaining < 1) throw invalidRequest('The subject_token has expired.');

  const refresh = refreshTokenFor(client, request.requestedTokenType, act);
  const access = await mintAccessToken(ctx, {
    client,
    userId: subject.userId,
    grantId: subject.grantId,
    familyId: null,
    scopes,
    resource: target,
    jkt: request.jkt,
    act,
    maxExpiresIn: remaining,
  });
  const grantId = subject.grantId;
  await ctx.transaction(async (tx) => {
    await recordAudit(
      ctx,
      'token.exchange',
      { type: 'grant', id: grantId },
      {
        clientId: client.clientId,
        subjectClientId: subject.clientId,
        subjectTokenType: subject.kind,
        actor: actor?.sub ?? null,
        audience: target.identifier,
        scopes,
        refreshToken: refresh !== null,
      },
      tx.em,
    );
    // Last before COMMIT: the grant stays locked (FOR SHARE) for as short a time as possible, so
    // a revocation waits the least; refused, the audit event rolls back with it.
    const written = await insertExchangedTokens(
      tx.sql,
      access,
      refresh,
      Math.min(ctx.config.ttl.refreshToken, remaining),
      {
        applicationId: client.id,
        grantId,
        subjectId: subject.tokenId,
        scopes,
        resources: [target.identifier],
        act: act ? JSON.stringify(act) : null,
      },
    );
    if (!written) {
      throw invalidRequest('The subject_token is no longer active (revoked, or its authorization was).');
    }
  });
  return { access, refresh, scopes };
}

/** The resource the token is for: the one named, or the policy's only one. */
async function exchangeTarget(
  ctx: ServerCtx,
  client: ClientRecord,
  named: ResourceRecord | null,
): Promise<ResourceRecord> {
  const policy = client.tokenExchangeAudiences;
  if (named === null) {
    const only = policy.length === 1 ? await ctx.runtime.resources.get(policy[0]) : null;
    if (!only) {
      throw invalidTarget(
        policy.length === 0
          ? 'This application may not exchange tokens for any audience yet (no token exchange audiences).'
          : 'Name the target with resource or audience: one of the audiences this application may exchange for.',
      );
    }
    return only;
  }
  if (!policy.includes(named.identifier)) {
    throw invalidTarget('This application may not exchange tokens for that audience (RFC 8693 §2.2.2).');
  }
  return named;
}

/** RFC 8693 §3: the token types accepted as subject_token and actor_token. */
async function presentedToken(
  ctx: ServerCtx,
  client: ClientRecord,
  value: string,
  type: string,
  role: 'subject' | 'actor',
): Promise<Presented> {
  const unusable = (why: string) => invalidRequest(`The ${role}_token ${why} (RFC 8693 §2.2.2).`);
  if (value.length > MAX_TOKEN_LENGTH) throw unusable('is not a token issued by this server');
  if (type === TOKEN_TYPE.accessToken) {
    const found = await findAccessToken(ctx, value);
    if (!found) throw unusable('is not an access token issued by this server');
    if (!found.active) throw unusable('is not active');
    // Issued to the requesting application, or with it as the audience.
    if (found.applicationId !== client.id && found.audience !== client.clientId) {
      throw unusable('was not issued to this application');
    }
    return {
      kind: 'access_token',
      tokenId: found.id,
      userId: found.userId,
      grantId: found.grantId,
      sub: found.userId ?? found.clientId,
      clientId: found.clientId,
      scopes: found.scopes,
      expiresAt: found.expiresAt,
      act: found.act,
      jkt: found.jkt,
      // Only a JWT can carry claims the row does not; this server's never say may_act today.
      mayAct: value.split('.').length === 3 ? claimsOf(value).may_act : undefined,
    };
  }
  if (type === TOKEN_TYPE.idToken) {
    const claims = await verifyOwnIdToken(ctx, value);
    if (!claims) throw unusable('is not an ID token issued by this server');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(client.clientId)) throw unusable('was not issued to this application');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) throw unusable('has expired');
    const userId = claims.sub;
    if (typeof userId !== 'string' || !isUuid(userId)) throw unusable('has no user this server knows');
    // The ID token's authority is the user's consent to its client, which must still stand.
    const grant = await findActiveGrant(ctx.sql, userId, client.id, []);
    if (!grant) throw unusable('is for an authorization that has been revoked');
    return {
      kind: 'id_token',
      tokenId: null,
      userId,
      grantId: grant.id,
      sub: userId,
      clientId: client.clientId,
      scopes: grant.scopes,
      expiresAt: new Date(claims.exp * 1000),
      act: null,
      jkt: null,
      mayAct: claims.may_act,
    };
  }
  throw invalidRequest(
    `${role}_token_type must be ${TOKEN_TYPE.accessToken} or ${TOKEN_TYPE.idToken} (RFC 8693 §3).`,
  );
}

function claimsOf(value: string): Record<string, unknown> {
  try {
    return decodeJwt(value);
  } catch {
    return {};
  }
}

/** RFC 8693 §4.4: `may_act` names the party (its `sub`) that may act for the subject. */
export function mayActPermits(mayAct: unknown, party: string): boolean {
  if (typeof mayAct !== 'object' || mayAct === null) return false;
  return (mayAct as { sub?: unknown }).sub === party;
}

/** RFC 8693 §4.1: the actor, with the subject's own actor (a prior delegation) nested under it. */
function delegation(actor: Presented, prior: ActClaim | null): ActClaim {
  return {
    sub: actor.sub,
    ...(actor.sub !== actor.clientId ? { client_id: actor.clientId } : {}),
    ...(prior ? { act: prior } : {}),
  };
}

export function actDepth(act: ActClaim): number {
  let depth = 0;
  for (let a: ActClaim | undefined = act; a; a = a.act) depth++;
  return depth;
}

/**
 * RFC 8693 §2.1 `scope` narrows: each scope must be in the subject token's, be one the
 * application may request (RFC 6749 §3.3) and one the target accepts (RFC 8707). Without it,
 * the subject's scopes that satisfy the same. `openid` is for ID tokens and is not carried over.
 */
function narrowScopes(
  ctx: ServerCtx,
  client: ClientRecord,
  held: readonly string[],
  requested: string[] | undefined,
  target: ResourceRecord,
): string[] {
  if (requested === undefined) {
    const carried = held.filter(
      (s) => s !== 'openid' && client.scopes.includes(s) && Object.hasOwn(ctx.config.scopes, s),
    );
    const narrowed = narrowDefaults(carried, undefined, [target]);
    if (narrowed.length === 0) {
      throw invalidScope(
        'None of the subject token’s scopes is one this application may pass to the audience.',
      );
    }
    return narrowed;
  }
  for (const s of requested) {
    if (!held.includes(s)) {
      throw invalidScope(
        `The scope "${s.slice(0, 40)}" exceeds the subject token's (an exchange only narrows).`,
      );
    }
  }
  const scopes = resolveScopes(requested, client, ctx.config);
  checkResourceScopes(scopes, [target]);
  return scopes;
}

/**
 * RFC 8693 §2.2.1: a refresh token only where the policy allows it, the application has the
 * refresh_token grant, and the exchange is not a delegation (a refresh would issue tokens without
 * `act`). requested_token_type refresh_token insists on one.
 */
function refreshTokenFor(
  client: ClientRecord,
  requested: string,
  act: ActClaim | null,
): MintedRefreshToken | null {
  const allowed =
    client.tokenExchangeRefreshTokens && client.grantTypes.includes('refresh_token') && act === null;
  if (requested === TOKEN_TYPE.refreshToken && !allowed) {
    throw invalidRequest(
      'This application may not receive a refresh token from an exchange (policy, refresh_token grant, or a delegation).',
    );
  }
  return allowed ? mintRefreshToken(null) : null;
}

function secondsLeft(until: number): number {
  return Math.floor((until - Date.now()) / 1000);
}
