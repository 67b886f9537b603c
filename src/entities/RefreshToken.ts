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
import { Application } from './Application.js';
import { newId, timestamptz } from './base.js';
import { Grant } from './Grant.js';
import { User } from './User.js';

/**
 * A refresh token. Rotation marks the presented token consumed and issues a successor in the same
 * family; presenting a consumed token again (reuse) revokes the whole family.
 */
@Entity({ tableName: 'refresh_tokens' })
export class RefreshToken {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'refresh_tokens_token_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  tokenDigest!: Buffer;

  @Index({ name: 'refresh_tokens_application_id_index' })
  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  application!: Rel<Application>;

  @Index({ name: 'refresh_tokens_user_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  user!: Rel<User>;

  @Index({ name: 'refresh_tokens_grant_id_index' })
  @ManyToOne({ entity: () => Grant, deleteRule: 'cascade', nullable: true })
  grant?: Rel<Grant> | null;

  @Index({ name: 'refresh_tokens_family_id_index' })
  @Property({ type: 'uuid' })
  familyId!: string;

  @Property({ type: 'uuid', nullable: true })
  parentId?: string | null;

  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  /** The resources (RFC 8707) of the grant: a refresh may ask for any one of them, never another. */
  @Property({ type: ArrayType, columnType: 'text[]', defaultRaw: "'{}'" })
  resources: Opt<string[]> = [];

  /** When the user authenticated (OIDC auth_time for refreshed id_tokens). */
  @Property({ ...timestamptz, nullable: true })
  authTime?: Date | null;

  @Property({ type: 'uuid', nullable: true })
  sid?: string | null;

  /**
   * RFC 9449 §5: the DPoP key (RFC 7638 thumbprint) a public client's refresh token is bound to;
   * a refresh needs a proof of that key. Null for confidential clients (they authenticate).
   */
  @Property({ type: 'string', length: 64, nullable: true })
  jkt?: string | null;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Index({ name: 'refresh_tokens_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;

  @Property({ ...timestamptz, nullable: true })
  consumedAt?: Date | null;

  @Property({ ...timestamptz, nullable: true })
  revokedAt?: Date | null;
}
