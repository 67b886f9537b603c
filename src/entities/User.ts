import { Entity, type Opt, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { newId, timestamptz } from './base.js';

@Entity({ tableName: 'users' })
export class User {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'users_username_unique' })
  @Property({ type: 'string', length: 150 })
  username!: string;

  @Property({ type: 'string', length: 254, nullable: true })
  email?: string | null;

  @Property({ type: 'boolean', default: false })
  emailVerified: Opt<boolean> = false;

  /** argon2id PHC string; never leaves the users service. */
  @Property({ type: 'text', hidden: true, lazy: true })
  passwordHash!: string;

  @Property({ type: 'boolean', default: false })
  isAdmin: Opt<boolean> = false;

  @Property({ type: 'boolean', default: true })
  isActive: Opt<boolean> = true;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  passwordChangedAt: Opt<Date> = new Date();
}
