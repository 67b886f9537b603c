import { Entity, Index, ManyToOne, type Opt, PrimaryKey, Property, type Rel, Unique } from '@mikro-orm/core';
import { newId, timestamptz } from './base.js';
import { User } from './User.js';

/**
 * A logged-in browser session. The cookie carries a random value; only its SHA-256 digest is
 * stored, so a database dump holds no usable session.
 */
@Entity({ tableName: 'sessions' })
export class Session {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @Unique({ name: 'sessions_token_digest_unique' })
  @Property({ type: 'blob', columnType: 'bytea', hidden: true })
  tokenDigest!: Buffer;

  @Index({ name: 'sessions_user_id_index' })
  @ManyToOne({ entity: () => User, deleteRule: 'cascade' })
  user!: Rel<User>;

  @Property({ ...timestamptz })
  authTime!: Date;

  /** How the user authenticated (RFC 8176 values), for the id_token's amr and acr. */
  @Property({ type: 'text[]', default: ['pwd'] })
  amr: Opt<string[]> = ['pwd'];

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  lastSeenAt: Opt<Date> = new Date();

  /** Idle expiry, pushed forward on use, never past absoluteExpiresAt. */
  @Index({ name: 'sessions_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;

  @Property({ ...timestamptz })
  absoluteExpiresAt!: Date;

  @Property({ type: 'string', length: 64, nullable: true })
  ip?: string | null;

  @Property({ type: 'string', length: 256, nullable: true })
  userAgent?: string | null;
}
