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
import type { GrantType, TokenEndpointAuthMethod } from '../vocabulary.js';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

export type { GrantType, TokenEndpointAuthMethod } from '../vocabulary.js';
export type ClientType = 'confidential' | 'public';
export type AccessTokenFormat = 'opaque' | 'jwt';
export type SigningAlg = 'RS256' | 'ES256';

/**
 * A client application. Property names follow RFC 7591 client metadata
 * (grant_types, redirect_uris, token_endpoint_auth_method, …).
 */
@Entity({ tableName: 'applications' })
export class Application {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'applications_client_id_unique' })
  @Property({ type: 'string', length: 64 })
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

  @Property({ type: 'string', length: 8, default: 'RS256' })
  idTokenSignedResponseAlg: Opt<SigningAlg> = 'RS256';

  @Index({ name: 'applications_owner_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  owner!: Rel<User>;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Opt<Date> = new Date();
}
