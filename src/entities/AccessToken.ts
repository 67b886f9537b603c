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
import type { AccessTokenFormat } from './Application.js';
import { Application } from './Application.js';
import { newId, timestamptz } from './base.js';
import { Grant } from './Grant.js';
import { User } from './User.js';

/**
 * An issued access token. Only its SHA-256 digest is stored. For JWT access tokens (RFC 9068)
 * the id is the `jti`, so they too can be listed, revoked and introspected.
 */
@Entity({ tableName: 'access_tokens' })
// Partial indexes: client_credentials tokens (no user, grant or family) skip them on insert.
@Index({
  name: 'access_tokens_user_id_index',
  expression:
    'create index "access_tokens_user_id_index" on "access_tokens" ("user_id") where "user_id" is not null',
})
@Index({
  name: 'access_tokens_grant_id_index',
  expression:
    'create index "access_tokens_grant_id_index" on "access_tokens" ("grant_id") where "grant_id" is not null',
})
@Index({
  name: 'access_tokens_family_id_index',
  expression:
    'create index "access_tokens_family_id_index" on "access_tokens" ("family_id") where "family_id" is not null',
})
export class AccessToken {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'access_tokens_token_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  tokenDigest!: Buffer;

  @Index({ name: 'access_tokens_application_id_index' })
  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  application!: Rel<Application>;

  /** Null for client_credentials tokens. */
  @ManyToOne({ entity: () => User, deleteRule: 'cascade', nullable: true })
  user?: Rel<User> | null;

  @ManyToOne({ entity: () => Grant, deleteRule: 'cascade', nullable: true })
  grant?: Rel<Grant> | null;

  /** Tokens issued from one authorization code and its refresh chain share a family. */
  @Property({ type: 'uuid', nullable: true })
  familyId?: string | null;

  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  /** The resource (RFC 8707) the token was requested for; null: the default audience. */
  @Property({ type: 'text', nullable: true })
  audience?: string | null;

  /** RFC 9449: the JWK SHA-256 thumbprint (RFC 7638) of the DPoP key the token is bound to. */
  @Property({ type: 'string', length: 64, nullable: true })
  jkt?: string | null;

  /**
   * RFC 8693 §4.1: the actor of a token issued by token exchange (delegation), nested for a
   * chain; null for every other token (the ordinary inserts never name the column).
   */
  @Property({ type: 'json', columnType: 'jsonb', nullable: true })
  act?: Record<string, unknown> | null;

  @Property({ type: 'string', length: 8, default: 'opaque' })
  format: Opt<AccessTokenFormat> = 'opaque';

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Index({ name: 'access_tokens_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;

  @Property({ ...timestamptz, nullable: true })
  revokedAt?: Date | null;
}
