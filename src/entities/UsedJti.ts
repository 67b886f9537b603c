import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { timestamptz } from './base.js';

/**
 * A JWT id already seen — a DPoP proof (RFC 9449 §11.1) or a client assertion (RFC 7523 §3,
 * item 7) — kept until the JWT itself could no longer be accepted. In the database, so every
 * instance refuses a replay the others have seen.
 */
@Entity({ tableName: 'used_jtis' })
export class UsedJti {
  /** SHA-256 of purpose, issuer (key thumbprint or client id) and jti: fixed size, no raw input stored. */
  @PrimaryKey({ type: 'blob', columnType: 'bytea' })
  digest!: Buffer;

  @Index({ name: 'used_jtis_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;
}
