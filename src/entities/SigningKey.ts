import { Entity, Index, JsonType, type Opt, PrimaryKey, Property } from '@mikro-orm/core';
import type { SigningAlg } from './Application.js';
import { timestamptz } from './base.js';

export type SigningKeyStatus = 'active' | 'previous';

/**
 * A key that signs id_tokens and JWT access tokens. The active key of each algorithm signs; a
 * rotated-out ("previous") key stays published in the JWKS until `expiresAt` (the moment every
 * token it signed has expired), after which cleanup deletes it.
 */
@Entity({ tableName: 'signing_keys' })
@Index({
  name: 'signing_keys_active_alg_unique',
  expression: `create unique index "signing_keys_active_alg_unique" on "signing_keys" ("alg") where "status" = 'active'`,
})
export class SigningKey {
  /** The JWK `kid`. */
  @PrimaryKey({ type: 'string', length: 64 })
  id!: string;

  @Property({ type: 'string', length: 8 })
  alg!: SigningAlg;

  @Property({ type: JsonType, columnType: 'jsonb' })
  publicJwk!: Record<string, string>;

  /** Private JWK as JSON, or an AES-256-GCM envelope when KEY_ENCRYPTION_KEY is set. */
  @Property({ type: 'text', hidden: true, lazy: true })
  privateKey!: string;

  @Property({ type: 'boolean', default: false })
  encrypted: Opt<boolean> = false;

  @Property({ type: 'string', length: 16 })
  status!: SigningKeyStatus;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();

  @Property({ ...timestamptz, nullable: true })
  rotatedAt?: Date | null;

  /** Null while active; set at rotation to the end of the longest token lifetime. */
  @Index({ name: 'signing_keys_expires_at_index' })
  @Property({ ...timestamptz, nullable: true })
  expiresAt?: Date | null;
}
