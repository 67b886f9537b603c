import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { timestamptz } from './base.js';

/**
 * A WebAuthn challenge handed to a browser (WebAuthn L2 §13.4.3): stored by its digest, taken
 * (deleted) by the one response that answers it, dead after a few minutes. In the database, so
 * any instance can check the answer and none can accept it twice.
 */
@Entity({ tableName: 'webauthn_challenges' })
export class WebauthnChallenge {
  @PrimaryKey({ type: 'blob', columnType: 'bytea' })
  digest!: Buffer;

  /** `register`, `second-factor` or `passwordless`. */
  @Property({ type: 'string', length: 16 })
  purpose!: string;

  /** Who the ceremony is for (null for a passwordless login: the credential says who). */
  @Property({ type: 'uuid', nullable: true })
  userId?: string | null;

  @Index({ name: 'webauthn_challenges_expires_at_index' })
  @Property({ ...timestamptz })
  expiresAt!: Date;
}
