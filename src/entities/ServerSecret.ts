import { Entity, type Opt, PrimaryKey, Property } from '@mikro-orm/core';
import { timestamptz } from './base.js';

/**
 * Secret material the server generates on first start (cookie and CSRF keys). Stored in the
 * database so that every instance sharing it uses the same keys; encrypted at rest (like the
 * signing keys) when KEY_ENCRYPTION_KEY is set.
 */
@Entity({ tableName: 'server_secrets' })
export class ServerSecret {
  @PrimaryKey({ type: 'string', length: 64 })
  name!: string;

  /** base64url bytes, or an AES-256-GCM envelope when `encrypted`. */
  @Property({ type: 'text', hidden: true })
  value!: string;

  @Property({ type: 'boolean', default: false })
  encrypted: Opt<boolean> = false;

  @Property({ ...timestamptz, defaultRaw: 'now()' })
  createdAt: Opt<Date> = new Date();
}
