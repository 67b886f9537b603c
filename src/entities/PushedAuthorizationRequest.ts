import { Entity, Index, ManyToOne, PrimaryKey, Property, type Rel } from '@mikro-orm/core';
import { Application } from './Application.js';
import { timestamptz } from './base.js';

/**
 * An authorization request pushed to /o/par/ (RFC 9126 §2), waiting for its `request_uri` to be
 * used once at /o/authorize/ by the client that pushed it. Only a digest of the random part of the
 * `request_uri` is stored; the row is deleted when used, and by the cleanup when expired.
 */
@Entity({ tableName: 'pushed_authorization_requests' })
export class PushedAuthorizationRequest {
  /** SHA-256 of the random part of `urn:ietf:params:oauth:request_uri:<random>`. */
  @PrimaryKey({ type: 'blob', columnType: 'bytea' })
  digest!: Buffer;

  @Index({ name: 'pushed_authorization_requests_application_id_index' })
  @ManyToOne({ entity: () => Application, deleteRule: 'cascade' })
  application!: Rel<Application>;

  /** The pushed parameters, form-encoded, exactly as validated. */
  @Property({ type: 'text' })
  params!: string;

  @Index({ name: 'pushed_authorization_requests_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;
}
