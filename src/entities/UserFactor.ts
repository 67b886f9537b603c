import { Entity, Index, ManyToOne, type Opt, PrimaryKey, Property, type Rel, Unique } from '@mikro-orm/core';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

/**
 * A second factor of a user: a TOTP authenticator (RFC 6238) or a WebAuthn credential (a passkey
 * or security key). One table so the factor list, the policy check and an admin reset are one
 * query each; the columns of the other kind stay null.
 */
@Entity({ tableName: 'user_factors' })
export class UserFactor {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Index({ name: 'user_factors_user_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  user!: Rel<User>;

  /** `totp` or `webauthn`. */
  @Property({ type: 'string', length: 16 })
  kind!: string;

  @Property({ type: 'string', length: 100 })
  name!: string;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, nullable: true })
  lastUsedAt?: Date | null;

  /** TOTP: the base32 secret, sealed with KEY_ENCRYPTION_KEY when `encrypted`. */
  @Property({ type: 'text', nullable: true, hidden: true, lazy: true })
  secret?: string | null;

  @Property({ type: 'boolean', default: false })
  encrypted: Opt<boolean> = false;

  /** TOTP: the last time step (RFC 6238 §4 T) a code was accepted for; a code is good once. */
  @Property({ type: 'bigint', nullable: true })
  lastUsedStep?: string | null;

  /** WebAuthn: the credential id (raw bytes). */
  @Unique({ name: 'user_factors_credential_id_unique' })
  @Property({ type: 'blob', columnType: 'bytea', nullable: true })
  credentialId?: Buffer | null;

  /** WebAuthn: the COSE public key. */
  @Property({ type: 'blob', columnType: 'bytea', nullable: true, hidden: true, lazy: true })
  publicKey?: Buffer | null;

  /** WebAuthn: the signature counter last seen (WebAuthn L2 §6.1.1). */
  @Property({ type: 'bigint', nullable: true })
  signCount?: string | null;

  @Property({ type: 'text[]', nullable: true })
  transports?: string[] | null;

  /** WebAuthn: `singleDevice` (a hardware-bound key: amr hwk) or `multiDevice` (synced: swk). */
  @Property({ type: 'string', length: 16, nullable: true })
  deviceType?: string | null;
}
