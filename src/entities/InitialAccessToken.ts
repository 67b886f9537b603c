import { Entity, Index, type Opt, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { newId, timestamptz } from './base.js';

/**
 * An RFC 7591 §3 initial access token: an administrator's permission to register clients
 * dynamically when DYNAMIC_REGISTRATION=token. Only its digest is stored; each registration
 * takes one use in one conditional UPDATE.
 */
@Entity({ tableName: 'initial_access_tokens' })
export class InitialAccessToken {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'initial_access_tokens_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  tokenDigest!: Buffer;

  /** Registrations still allowed; null: unlimited until it expires or is revoked. */
  @Property({ type: 'integer', nullable: true })
  usesLeft?: number | null;

  @Property({ type: 'integer', nullable: true })
  uses?: number | null;

  @Index({ name: 'initial_access_tokens_expires_at_index' })
  @Property({ ...timestamptz, nullable: true })
  expiresAt?: Date | null;

  @Property({ ...timestamptz, nullable: true })
  revokedAt?: Date | null;

  /** Who created it (a username, or "cli"), for the audit trail and the listing. */
  @Property({ type: 'string', length: 150 })
  createdBy!: string;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();
}
