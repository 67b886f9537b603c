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

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/**
 * RFC 8628 device authorization: the device polls with the device code (stored as a digest);
 * the user types the short user code on /o/device/ and approves or denies.
 */
@Entity({ tableName: 'device_codes' })
export class DeviceCode {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'device_codes_device_code_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  deviceCodeDigest!: Buffer;

  /** Eight characters of BCDFGHJKLMNPQRSTVWXZ, stored without the dash. */
  @Unique({ name: 'device_codes_user_code_unique' })
  @Property({ type: 'string', length: 16 })
  userCode!: string;

  @Index({ name: 'device_codes_application_id_index' })
  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  application!: Rel<Application>;

  @Property({ type: ArrayType, columnType: 'text[]' })
  scopes: string[] = [];

  /** The resources (RFC 8707) the device authorization request named. */
  @Property({ type: ArrayType, columnType: 'text[]', defaultRaw: "'{}'" })
  resources: Opt<string[]> = [];

  @Property({ type: 'string', length: 16, default: 'pending' })
  status: Opt<DeviceCodeStatus> = 'pending';

  @Index({ name: 'device_codes_user_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade', nullable: true })
  user?: Rel<User> | null;

  @ManyToOne({ entity: () => Grant, deleteRule: 'cascade', nullable: true })
  grant?: Rel<Grant> | null;

  @Property({ ...timestamptz, nullable: true })
  authTime?: Date | null;

  /** Seconds the device must wait between polls (RFC 8628 §3.5: slow_down adds 5). */
  @Property({ type: 'integer' })
  pollInterval!: number;

  @Property({ ...timestamptz, nullable: true })
  lastPolledAt?: Date | null;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Index({ name: 'device_codes_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;
}
