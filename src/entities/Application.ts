import {
  ArrayType,
  Entity,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Rel,
  Unique,
} from '@mikro-orm/core';
import type { ApplicationProfile, GrantType, TokenEndpointAuthMethod } from '../vocabulary.js';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

export type { GrantType, TokenEndpointAuthMethod } from '../vocabulary.js';
export type ClientType = 'confidential' | 'public';
export type AccessTokenFormat = 'opaque' | 'jwt';
export type SigningAlg = 'RS256' | 'ES256' | 'PS256';
/** A JWK Set of public keys (RFC 7517 §5), checked by src/services/client-jwks.ts. */
export interface ClientJwks {
  keys: Record<string, unknown>[];
}

/**
 * A client application. Property names follow RFC 7591 client metadata
 * (grant_types, redirect_uris, token_endpoint_auth_method, …).
 */
@Entity({ tableName: 'applications' })
export class Application {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  /** Generated for registered applications; an https URL for client ID metadata documents. */
  @Unique({ name: 'applications_client_id_unique' })
  @Property({ type: 'string', length: 2000 })
  clientId!: string;

  /** SHA-256 of the client secret; null for public clients. */
  @Unique({ name: 'applications_client_secret_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', nullable: true, hidden: true })
  clientSecretDigest?: Buffer | null;

  @Property({ type: 'string', length: 200 })
  name!: string;

  @Property({ type: 'string', length: 16 })
  clientType!: ClientType;

  @Property({ type: 'string', length: 32 })
  tokenEndpointAuthMethod!: TokenEndpointAuthMethod;

  @Property({ type: ArrayType, columnType: 'text[]' })
  grantTypes: GrantType[] = [];

  @Property({ type: ArrayType, columnType: 'text[]' })
  redirectUris: string[] = [];

  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  postLogoutRedirectUris: Opt<string[]> = [];

  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  allowedOrigins: Opt<string[]> = [];

  /** The scopes this application may request (RFC 7591 `scope`, kept as a list). */
  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  @Property({ type: 'boolean', default: false })
  skipAuthorization: Opt<boolean> = false;

  @Property({ type: 'string', length: 8, default: 'opaque' })
  accessTokenFormat: Opt<AccessTokenFormat> = 'opaque';

  /** RFC 9449: every token request must carry a DPoP proof (the tokens are then always bound). */
  @Property({ type: 'boolean', default: false })
  requireDpop: Opt<boolean> = false;

  @Property({ type: 'string', length: 8, default: 'RS256' })
  idTokenSignedResponseAlg: Opt<SigningAlg> = 'RS256';

  /**
   * RFC 7591 §2 `jwks`: the public keys a `private_key_jwt` client signs its assertions with
   * (RFC 7523), held inline; or `jwks_uri`, where they are fetched. At most one of the two.
   */
  @Property({ type: 'json', columnType: 'jsonb', nullable: true })
  jwks?: ClientJwks | null;

  @Property({ type: 'string', length: 2000, nullable: true })
  jwksUri?: string | null;

  /** RFC 9126 §6: every authorization request of this application must be pushed (PAR). */
  @Property({ type: 'boolean', default: false })
  requirePar: Opt<boolean> = false;

  /** The security profile the application is held to (`fapi2`: FAPI 2.0 Security Profile). */
  @Property({ type: 'string', length: 16, default: 'none' })
  profile: Opt<ApplicationProfile> = 'none';

  /**
   * OAuth 2.1 §4.3.1: each refresh replaces the refresh token (the default). Off, the refresh
   * token stays the same and only a new access token is issued (FAPI 2.0 §5.3.2.1 asks this of
   * confidential clients, whose refresh tokens are bound to their client authentication).
   */
  @Property({ type: 'boolean', default: true })
  rotateRefreshTokens: Opt<boolean> = true;

  /**
   * RFC 8693 token exchange policy: the resource identifiers (RFC 8707) this application may
   * exchange a subject token for. Empty: none, so the grant type alone exchanges nothing until an
   * administrator lists them.
   */
  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  tokenExchangeAudiences: Opt<string[]> = [];

  /** RFC 8693 §1.1: may exchange without an actor_token (impersonation); off, delegation only. */
  @Property({ type: 'boolean', default: false })
  tokenExchangeImpersonation: Opt<boolean> = false;

  /** RFC 8693 §2.2.1: an exchange may also return a refresh token (needs the refresh_token grant). */
  @Property({ type: 'boolean', default: false })
  tokenExchangeRefreshTokens: Opt<boolean> = false;

  /**
   * OpenID Connect Back-Channel Logout 1.0 §2.2 `backchannel_logout_uri`: where a logout token is
   * POSTed when a session that signed in to this application ends. Null: not notified.
   */
  @Property({ type: 'string', length: 2000, nullable: true })
  backchannelLogoutUri?: string | null;

  /** §2.2 `backchannel_logout_session_required`: the application needs `sid` in the logout token. */
  @Property({ type: 'boolean', default: false })
  backchannelLogoutSessionRequired: Opt<boolean> = false;

  /** Null only for dynamically registered applications (RFC 7591): nobody registered them. */
  @Index({ name: 'applications_owner_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade', nullable: true })
  owner?: Rel<User> | null;

  /** Registered through RFC 7591 dynamic registration, by whoever could reach the endpoint. */
  @Property({ type: 'boolean', default: false })
  dynamicallyRegistered: Opt<boolean> = false;

  /**
   * Defined by the client ID metadata document at `clientId` (an https URL): the row mirrors the
   * document as last fetched at an authorization request, gives grants and tokens their foreign
   * key, and is changed only by the document.
   */
  @Property({ type: 'boolean', default: false })
  metadataDocument: Opt<boolean> = false;

  /** RFC 7591 §2 `client_uri`, `logo_uri`, `contacts`: self-asserted, shown as such. */
  @Property({ type: 'string', length: 2000, nullable: true })
  clientUri?: string | null;

  @Property({ type: 'string', length: 2000, nullable: true })
  logoUri?: string | null;

  @Property({ type: ArrayType, columnType: 'text[]', default: '{}' })
  contacts: Opt<string[]> = [];

  /** SHA-256 of the RFC 7592 registration access token; null for other applications. */
  @Unique({ name: 'applications_registration_token_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', nullable: true, hidden: true })
  registrationTokenDigest?: Buffer | null;

  /**
   * When the cleanup first saw a dynamically registered application used (a grant, a code or a
   * token): until then it is deleted once DYNAMIC_REGISTRATION_ABANDONED_AFTER has passed. Set by
   * the cleanup, not the token endpoint, so the hot path pays nothing for it.
   */
  @Property({ ...timestamptz, nullable: true })
  firstUsedAt?: Date | null;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Opt<Date> = new Date();
}
