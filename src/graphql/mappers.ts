import type { Application } from '../entities/Application.js';
import type { AuditEvent } from '../entities/AuditEvent.js';
import type { User } from '../entities/User.js';
import { isPrivileged } from '../services/access.js';
import type { Authorization } from '../services/authorizations.js';
import type { Ctx } from '../services/context.js';
import type { PublishedKey } from '../services/keys.js';
import type { Page } from '../services/pagination.js';
import type { TokenRecord } from '../services/token-management.js';
import type { ApplicationType } from './types/application.js';
import type { AuditEventType } from './types/audit.js';
import type { AuthorizationType } from './types/authorization.js';
import type {
  AccessTokenFormatValue,
  ApplicationProfileValue,
  ClientTypeValue,
  GrantTypeValue,
  SigningAlgorithmValue,
  TokenKindValue,
} from './types/enums.js';
import { pageInfo } from './types/page-info.js';
import type { SigningKeyType } from './types/signing-key.js';
import type { TokenType } from './types/token.js';
import type { UserType } from './types/user.js';

/** Domain objects → GraphQL objects. Field-level visibility rules are applied here, from services/access. */
export function toApplication(app: Application): ApplicationType {
  return {
    id: app.id,
    clientId: app.clientId,
    name: app.name,
    clientType: app.clientType as ClientTypeValue,
    grantTypes: app.grantTypes as GrantTypeValue[],
    redirectUris: app.redirectUris,
    postLogoutRedirectUris: app.postLogoutRedirectUris,
    allowedOrigins: app.allowedOrigins,
    scopes: app.scopes,
    skipAuthorization: app.skipAuthorization,
    requireDpop: app.requireDpop,
    accessTokenFormat: app.accessTokenFormat as AccessTokenFormatValue,
    idTokenSignedResponseAlg: app.idTokenSignedResponseAlg as SigningAlgorithmValue,
    tokenEndpointAuthMethod: app.tokenEndpointAuthMethod,
    jwks: app.jwks ? { keys: app.jwks.keys } : null,
    jwksUri: app.jwksUri ?? null,
    requirePar: app.requirePar,
    profile: app.profile as ApplicationProfileValue,
    rotateRefreshTokens: app.rotateRefreshTokens,
    tokenExchangeAudiences: app.tokenExchangeAudiences,
    tokenExchangeImpersonation: app.tokenExchangeImpersonation,
    tokenExchangeRefreshTokens: app.tokenExchangeRefreshTokens,
    backchannelLogoutUri: app.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired,
    ownerId: app.owner?.id ?? null,
    dynamicallyRegistered: app.dynamicallyRegistered,
    clientIdMetadataDocument: app.metadataDocument,
    clientUri: app.clientUri ?? null,
    logoUri: app.logoUri ?? null,
    contacts: app.contacts,
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
  };
}

/** A user's email is shown to themself and to admins only. */
export function toUser(ctx: Ctx, user: User): UserType {
  const mayReadEmail = isPrivileged(ctx) || ctx.user?.id === user.id;
  return {
    id: user.id,
    username: user.username,
    email: mayReadEmail ? (user.email ?? null) : null,
    isAdmin: user.isAdmin,
    isActive: user.isActive,
    createdAt: user.createdAt,
  };
}

export function toToken(t: TokenRecord): TokenType {
  return {
    id: t.id,
    kind: t.kind as TokenKindValue,
    applicationId: t.applicationId,
    userId: t.userId,
    scopes: t.scopes,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    active: t.active,
  };
}

export function toAuthorization(a: Authorization): AuthorizationType {
  return { ...a };
}

export function toAuditEvent(e: AuditEvent): AuditEventType {
  return {
    id: e.id,
    actorId: e.actor?.id ?? null,
    actor: e.actorLabel,
    action: e.action,
    targetType: e.targetType ?? null,
    targetId: e.targetId ?? null,
    ip: e.ip ?? null,
    details: e.details,
    createdAt: e.createdAt,
  };
}

export function toSigningKey(k: PublishedKey): SigningKeyType {
  return { kid: k.kid, alg: k.alg as SigningAlgorithmValue, status: k.status, expiresAt: k.expiresAt };
}

/** A services Page as a Relay connection. */
export function toConnection<T, N>(
  page: Page<T>,
  map: (t: T) => N,
): { edges: Array<{ node: N; cursor: string }>; pageInfo: ReturnType<typeof pageInfo>; totalCount: number } {
  return {
    edges: page.nodes.map((n) => ({ node: map(n), cursor: page.cursorOf(n) })),
    pageInfo: pageInfo(page),
    totalCount: page.totalCount,
  };
}
