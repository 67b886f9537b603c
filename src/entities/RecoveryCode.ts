import { Entity, ManyToOne, type Opt, PrimaryKey, Property, type Rel, Unique } from '@mikro-orm/core';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

/** A single-use recovery code, stored as its SHA-256 digest only. */
@Entity({ tableName: 'recovery_codes' })
@Unique({ name: 'recovery_codes_user_digest_unique', properties: ['user', 'codeDigest'] })
export class RecoveryCode {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  user!: Rel<User>;

  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  codeDigest!: Buffer;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, nullable: true })
  usedAt?: Date | null;
}
