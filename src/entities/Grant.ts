import {
  ArrayType,
  Entity,
  Index,
  ManyToOne,
  type Opt,
  PrimaryKey,
  Property,
  type Rel,
} from '@mikro-orm/core';
import { Application } from './Application.js';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

/**
 * A user's consent to an application for a set of scopes. It owns every code and token issued
 * under it: revoking the grant revokes them all in one statement.
 * At most one active (not revoked) grant per user × application.
 */
@Entity({ tableName: 'grants' })
@Index({
  name: 'grants_active_user_application_unique',
  expression:
    'create unique index "grants_active_user_application_unique" on "grants" ("user_id", "application_id") where "revoked_at" is null',
})
export class Grant {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  user!: Rel<User>;

  @Index({ name: 'grants_application_id_index' })
  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  application!: Rel<Application>;

  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  /** The resources (RFC 8707) the user consented to for this application. */
  @Property({ type: ArrayType, columnType: 'text[]', defaultRaw: "'{}'" })
  resources: Opt<string[]> = [];

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  updatedAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, nullable: true })
  lastUsedAt?: Date | null;

  @Property({ ...timestamptz, nullable: true })
  revokedAt?: Date | null;
}
