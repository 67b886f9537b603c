import { Entity, Index, ManyToOne, type Opt, PrimaryKey, Property, type Rel } from '@mikro-orm/core';
import { Application } from './Application.js';
import { newId, timestamptz } from './base.js';

/**
 * A logout token still to be delivered (OpenID Connect Back-Channel Logout 1.0 §2.5): the queue
 * of the delivery worker (src/services/backchannel-logout.ts). The token itself is signed at
 * each attempt (a fresh iat/exp, the same jti), so no signed token waits in the database.
 */
@Entity({ tableName: 'backchannel_logouts' })
export class BackchannelLogout {
  @PrimaryKey({ type: 'uuid' })
  id: string = newId();

  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  @Index({ name: 'backchannel_logouts_application_id_index' })
  application!: Rel<Application>;

  /** The ID Token's `sub` (the user id). */
  @Property({ type: 'string', length: 64 })
  sub!: string;

  /** The ID Token's `sid` (the session id). */
  @Property({ type: 'string', length: 64, nullable: true })
  sid?: string | null;

  @Property({ type: 'string', length: 64 })
  jti!: string;

  @Property({ type: 'integer', default: 0 })
  attempts: Opt<number> = 0;

  /** When the worker may next claim the row (a claim moves it on: a lease, not a lock). */
  @Index({ name: 'backchannel_logouts_next_attempt_at_index' })
  @Property({ ...timestamptz, defaultRaw: 'now()' })
  nextAttemptAt: Opt<Date> = new Date();

  /** After this the delivery is given up. */
  @Property({ ...timestamptz })
  expiresAt!: Date;

  @Index({ name: 'backchannel_logouts_created_at_index' })
  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  /** Why the last attempt failed: the outbound client's reason or the HTTP status, never a body. */
  @Property({ type: 'string', length: 200, nullable: true })
  lastError?: string | null;
}
