import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { timestamptz } from './base.js';

/**
 * An application a browser session signed in to (OpenID Connect Back-Channel Logout 1.0 §2.1:
 * the OP must know which RPs to notify when the session ends). Written by the statement that
 * stores the authorization code, so the authorization path pays one CTE, not a round trip.
 *
 * No foreign key to the session on purpose: a session ended by a parallel logout between the
 * code statement's read and its write would make that write a foreign-key error; instead the
 * row expires with the session (`expires_at` is the session's absolute expiry) and the cleanup
 * deletes it, and every statement that ends sessions deletes their rows too.
 */
@Entity({ tableName: 'session_applications' })
export class SessionApplication {
  @PrimaryKey({ type: 'uuid' })
  sessionId!: string;

  @PrimaryKey({ type: 'uuid' })
  applicationId!: string;

  @Index({ name: 'session_applications_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;
}
